// What never reaches a log line, at any level: credentials a client sent (Authorization and
// Cookie headers, parsed cookies, tokens in the query) and secrets a field may be named after.
// pino removes them as a line is written, wherever the field came from (our code, a service's
// ctx.log, a worker's forwarded line). Paths reach the field itself and one object down (a
// `request` or `req` field holding headers), which is where handshake data ends up.

const SECRET_FIELDS = ['password', 'passwd', 'secret', 'token', 'accessToken', 'access_token', 'apiKey', 'api_key', 'authorization', 'cookie', 'cookies', 'jwt', 'sessionId'];
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token'];
const SECRET_QUERY = ['access_token', 'token', 'api_key', 'apikey', 'password', 'secret'];

function paths(): string[] {
  const out: string[] = [];
  const field = (name: string): string => (/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`);
  for (const prefix of ['', '*.', '*.*.']) {
    for (const f of SECRET_FIELDS) out.push(`${prefix}${field(f).replace(/^\./, '')}`);
  }
  for (const prefix of ['headers', '*.headers']) for (const h of SECRET_HEADERS) out.push(`${prefix}${field(h)}`);
  for (const prefix of ['query', '*.query']) for (const q of SECRET_QUERY) out.push(`${prefix}${field(q)}`);
  out.push('url', '*.url');
  return out;
}

export const REDACTED = '[redacted]';

/** pino's `redact` option: URLs keep their path and lose their query; every other match is replaced. */
export const logRedaction = {
  paths: paths(),
  censor: (value: unknown, path: string[]): unknown => {
    if (path[path.length - 1] === 'url') return typeof value === 'string' && value.includes('?') ? `${value.slice(0, value.indexOf('?'))}?${REDACTED}` : value;
    return REDACTED;
  },
};
