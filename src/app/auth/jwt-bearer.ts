/**
 * JWT bearer tokens, verified with `jose`: from `Authorization: Bearer <jwt>`, from the
 * `access_token` query parameter (browsers cannot set headers on a WebSocket), or from
 * `{"cmd":"auth","data":{"token":"<jwt>"}}`. The user is `{id: sub, name?, claims}`.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { KeyObject, webcrypto } from 'node:crypto';
import { stringField, type AuthResolver, type User } from './user.js';

export interface JwtBearerOptions {
  /** HMAC secret (HS256/384/512), a public key (CryptoKey / KeyObject), a JWKS URL, or a key-getter function. */
  secret?: string | Uint8Array;
  key?: webcrypto.CryptoKey | KeyObject | JWTVerifyGetKey;
  jwksUrl?: string;
  issuer?: string | string[];
  audience?: string | string[];
  algorithms?: string[];
  /** Query parameter name, or false to disable. Default `access_token`. */
  queryParam?: string | false;
  /** Maps verified claims to a user. Default `{id: sub, name: claims.name, claims}`. */
  toUser?: (claims: JWTPayload) => User | null;
  /** Clock override for tests: current time in seconds. */
  currentDate?: () => Date;
}

export function jwtBearer(options: JwtBearerOptions): AuthResolver {
  const key = pickKey(options);
  const toUser = options.toUser ?? defaultUser;
  const queryParam = options.queryParam === undefined ? 'access_token' : options.queryParam;
  const verify = async (token: string): Promise<User | null> => {
    const verifyOptions: Parameters<typeof jwtVerify>[2] = {};
    if (options.issuer !== undefined) verifyOptions.issuer = options.issuer;
    if (options.audience !== undefined) verifyOptions.audience = options.audience;
    if (options.algorithms !== undefined) verifyOptions.algorithms = options.algorithms;
    if (options.currentDate !== undefined) verifyOptions.currentDate = options.currentDate();
    const { payload } = typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions);
    return toUser(payload);
  };
  return {
    name: 'jwt-bearer',
    async fromRequest(request) {
      const header = Object.hasOwn(request.headers, 'authorization') ? request.headers['authorization'] : undefined;
      let token: string | undefined;
      if (header !== undefined && /^bearer\s+/i.test(header)) token = header.replace(/^bearer\s+/i, '').trim();
      else if (queryParam !== false && Object.hasOwn(request.query, queryParam)) token = request.query[queryParam];
      return token ? verify(token) : null;
    },
    async fromCommand(data) {
      const token = stringField(data, 'token');
      return token ? verify(token) : null;
    },
  };
}

function pickKey(options: JwtBearerOptions): Uint8Array | webcrypto.CryptoKey | KeyObject | JWTVerifyGetKey {
  if (options.secret !== undefined) return typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
  if (options.key !== undefined) return options.key;
  if (options.jwksUrl !== undefined) return createRemoteJWKSet(new URL(options.jwksUrl));
  throw new TypeError('jwtBearer needs one of secret, key, jwksUrl');
}

function defaultUser(claims: JWTPayload): User | null {
  if (typeof claims.sub !== 'string' || claims.sub === '') return null;
  const user: User = { id: claims.sub, claims: { ...claims } };
  if (typeof claims['name'] === 'string') user.name = claims['name'];
  return user;
}
