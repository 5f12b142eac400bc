/**
 * Error codes of the JSON command protocol. Every failed command gets exactly one of these in
 * `{"id", "ok": false, "error": {"code", "message", "details"?}}`; a handler may also throw a
 * `CommandError` with its own code.
 */
export const CommandErrorCode = {
  /** The message is not valid JSON. */
  BAD_JSON: 'bad_json',
  /** Valid JSON, but not a command envelope (`{"id", "cmd", "data"}`), or a binary message where a command was expected. */
  BAD_REQUEST: 'bad_request',
  /** No command of that name on this service. */
  UNKNOWN_COMMAND: 'unknown_command',
  /** `data` failed the command's input schema; `details.issues` lists why. */
  INVALID_INPUT: 'invalid_input',
  /** The command requires an authenticated user and the connection has none. */
  UNAUTHORIZED: 'unauthorized',
  /** The command's guard refused this connection. */
  FORBIDDEN: 'forbidden',
  /** What the command names does not exist (e.g. an undeclared live value). */
  NOT_FOUND: 'not_found',
  /** The handler did not finish within the command's timeout; its signal was aborted. */
  TIMEOUT: 'timeout',
  /** The handler threw (details are logged server-side, not sent). */
  HANDLER_ERROR: 'handler_error',
  /** The connection is closing or the server is stopping. */
  CANCELLED: 'cancelled',
} as const;

export type CommandErrorCode = (typeof CommandErrorCode)[keyof typeof CommandErrorCode];

export interface CommandErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

const BRAND = Symbol.for('switchboard.CommandError');

/** Throw from a command handler to answer with a specific error code (sent to the client as is). */
export class CommandError extends Error {
  readonly [BRAND] = true;
  readonly code: string;
  readonly details: unknown;
  constructor(code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
    this.details = details;
  }
  toBody(): CommandErrorBody {
    const body: CommandErrorBody = { code: this.code, message: this.message };
    if (this.details !== undefined) body.details = this.details;
    return body;
  }
}

/** True for a CommandError from this copy of the library or another (a service file loaded through tsx has its own). */
export function isCommandError(err: unknown): err is CommandError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true && typeof (err as CommandError).code === 'string';
}

export function commandErrorBody(err: CommandError): CommandErrorBody {
  const body: CommandErrorBody = { code: err.code, message: String(err.message) };
  if (err.details !== undefined) body.details = err.details;
  return body;
}
