/**
 * Runs one command: lookup, input validation (Standard Schema), auth requirement and guard,
 * timeout, cancellation; turns every failure into a distinct error code. Knows nothing of
 * sockets: it returns the outcome and the caller writes the reply.
 */
import { CommandError, CommandErrorCode, commandErrorBody, isCommandError, type CommandErrorBody } from './command-error.js';
import type { CommandId } from './command-envelope.js';
import type { Logger } from './logger.js';
import type { CommandCall, CommandDefinition, Connection, ServiceContext } from './service.js';
import { isStandardSchema, validateWith } from './standard-schema.js';

/** Returned by a handler that already wrote its own reply (the built-in room.join does). */
export const REPLIED: unique symbol = Symbol('switchboard.replied');

export type Outcome = { ok: true; data: unknown } | { ok: false; error: CommandErrorBody } | { ok: 'replied' };

/** What the dispatcher needs of one connection. */
export interface CallScope {
  readonly connection: Connection<any, any>;
  readonly service: ServiceContext<any>;
  /** In-flight commands of this connection: aborted when it closes. */
  readonly inflight: Set<AbortController>;
}

export interface DispatcherOptions {
  route: string;
  commands: Record<string, CommandDefinition<any, any, any, any>>;
  defaultTimeoutMs: number;
  log: Logger;
}

export class CommandDispatcher {
  readonly #o: DispatcherOptions;
  /**
   * Commands running now, for stop() to abort. A Set and not a listener per command on one
   * shared stop signal: with many commands in flight that signal's listener list grew with
   * them (Node's MaxListenersExceededWarning past 10) and each removal scanned it.
   */
  readonly #running = new Set<AbortController>();
  #stopped: CommandError | undefined;

  constructor(options: DispatcherOptions) {
    this.#o = options;
  }

  has(cmd: string): boolean {
    return Object.hasOwn(this.#o.commands, cmd);
  }

  stop(): void {
    this.#stopped ??= new CommandError(CommandErrorCode.CANCELLED, 'server is stopping');
    for (const controller of this.#running) controller.abort(this.#stopped);
  }

  /** How many commands are running (for tests and metrics). */
  get running(): number {
    return this.#running.size;
  }

  /** True when some command lets the connection's next message start before it settled. */
  get pipelines(): boolean {
    return Object.values(this.#o.commands).some((c) => c.pipelined === true);
  }

  /** `started` is called once a pipelined command's handler has been called. */
  async run(scope: CallScope, id: CommandId, cmd: string, data: unknown, started?: () => void): Promise<Outcome> {
    const outcome = await this.#run(scope, id, cmd, data, started);
    if (outcome.ok === false) {
      this.#o.log.warn({ route: this.#o.route, connection: scope.connection.id, id, cmd, code: outcome.error.code, reason: outcome.error.message }, 'command failed');
    }
    return outcome;
  }

  async #run(scope: CallScope, id: CommandId, cmd: string, data: unknown, started: (() => void) | undefined): Promise<Outcome> {
    if (!this.has(cmd)) return fail(CommandErrorCode.UNKNOWN_COMMAND, `unknown command "${cmd}"`);
    if (this.#stopped) return fail(CommandErrorCode.CANCELLED, 'server is stopping');
    const command = this.#o.commands[cmd]!;
    let input: unknown = data;
    if (command.input !== undefined) {
      if (!isStandardSchema(command.input)) return fail(CommandErrorCode.HANDLER_ERROR, 'command schema is not a Standard Schema');
      let result;
      try {
        result = await validateWith(command.input, data);
      } catch (err) {
        this.#o.log.error({ route: this.#o.route, cmd, err }, 'schema validation threw');
        return fail(CommandErrorCode.HANDLER_ERROR, 'input validation failed unexpectedly');
      }
      if (!result.ok) return fail(CommandErrorCode.INVALID_INPUT, result.issues.map((i) => (i.path ? `${i.path.join('.')}: ` : '') + i.message).join('; '), { issues: result.issues });
      input = result.value;
    }
    if (command.auth === true && !scope.connection.isAuthenticated) return fail(CommandErrorCode.UNAUTHORIZED, `"${cmd}" requires an authenticated user`);
    if (command.guard !== undefined) {
      let allowed = false;
      try {
        allowed = (await command.guard(scope.connection, input)) === true;
      } catch (err) {
        if (isCommandError(err)) return { ok: false, error: commandErrorBody(err) };
        this.#o.log.warn({ route: this.#o.route, cmd, err }, 'command guard threw');
      }
      if (!allowed) return fail(CommandErrorCode.FORBIDDEN, `not allowed to run "${cmd}"`);
    }
    return this.#invoke(scope, id, cmd, command, input, started);
  }

  async #invoke(scope: CallScope, id: CommandId, cmd: string, command: CommandDefinition<any, any, any, any>, input: unknown, started: (() => void) | undefined): Promise<Outcome> {
    const controller = new AbortController();
    const timeoutMs = command.timeoutMs ?? this.#o.defaultTimeoutMs;
    // stop() may have come while the input was validated or the guard awaited
    if (this.#stopped) controller.abort(this.#stopped);
    this.#running.add(controller);
    scope.inflight.add(controller);
    let timer: NodeJS.Timeout | undefined;
    const cancelled = new Promise<Outcome>((resolve) => {
      const onAbort = (): void => {
        const reason: unknown = controller.signal.reason;
        resolve(isCommandError(reason) ? { ok: false, error: commandErrorBody(reason) } : fail(CommandErrorCode.CANCELLED, 'cancelled'));
      };
      if (controller.signal.aborted) onAbort();
      else controller.signal.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => controller.abort(new CommandError(CommandErrorCode.TIMEOUT, `"${cmd}" did not finish within ${timeoutMs} ms`)), timeoutMs);
    });
    const call: CommandCall<any, any> = { id, cmd, connection: scope.connection, service: scope.service, signal: controller.signal };
    const handled = (async (): Promise<Outcome> => {
      try {
        const result: unknown = await command.handler(input, call);
        if (result === REPLIED) return { ok: 'replied' };
        return { ok: true, data: result };
      } catch (err) {
        if (isCommandError(err)) return { ok: false, error: commandErrorBody(err) };
        if (controller.signal.aborted) return fail(CommandErrorCode.CANCELLED, 'cancelled');
        this.#o.log.error({ route: this.#o.route, connection: scope.connection.id, cmd, err }, 'command handler threw');
        return fail(CommandErrorCode.HANDLER_ERROR, `"${cmd}" failed`);
      }
    })();
    if (command.pipelined === true) started?.();
    try {
      return await Promise.race([handled, cancelled]);
    } finally {
      clearTimeout(timer);
      this.#running.delete(controller);
      scope.inflight.delete(controller);
    }
  }
}

function fail(code: string, message: string, details?: unknown): Outcome {
  const error: CommandErrorBody = { code, message };
  if (details !== undefined) error.details = details;
  return { ok: false, error };
}
