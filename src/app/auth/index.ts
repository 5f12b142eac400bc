export type { User, AuthResolver } from './user.js';
export { sessionCookie, signSession, verifySession, type SessionCookieOptions, type SignOptions } from './session-cookie.js';
export { jwtBearer, type JwtBearerOptions } from './jwt-bearer.js';
export { httpBasic, parseBasic, type HttpBasicOptions } from './http-basic.js';
