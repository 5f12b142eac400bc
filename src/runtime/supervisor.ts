// The set of supervised units of one server: adds, looks up, reports and stops them,
// and routes calls a unit makes to another unit (or to the server, via a fallback).
import { EventEmitter } from 'node:events';
import {
  SupervisedUnit,
  type CrashInfo,
  type LogEntry,
  type SupervisedUnitOptions,
  type UnitState,
  type UnitStatus,
} from './supervised-unit.js';

export type { CrashInfo, LogEntry, SupervisedUnitOptions, UnitState, UnitStatus } from './supervised-unit.js';
export { SupervisedUnit } from './supervised-unit.js';

export type FallbackRouter = (from: string, target: string, method: string, args: unknown[]) => Promise<unknown>;

export interface SupervisorEvents {
  state: [name: string, state: UnitState, previous: UnitState];
  crash: [info: CrashInfo];
  log: [entry: LogEntry];
  message: [name: string, payload: unknown];
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  #units = new Map<string, SupervisedUnit>();
  #fallback: FallbackRouter | undefined;

  /** Calls to targets that are not units here (e.g. "$server" for rooms) go to `router`. */
  setFallbackRouter(router: FallbackRouter): void {
    this.#fallback = router;
  }

  add(options: SupervisedUnitOptions): SupervisedUnit {
    if (this.#units.has(options.name)) throw new Error(`supervisor: a unit named "${options.name}" already exists`);
    const unit = new SupervisedUnit(options);
    unit.setCallRouter((from, target, method, args) => this.route(from, target, method, args));
    unit.on('state', (s, p) => this.emit('state', unit.name, s, p));
    unit.on('crash', (info) => this.emit('crash', info));
    unit.on('log', (entry) => this.emit('log', entry));
    unit.on('message', (payload) => this.emit('message', unit.name, payload));
    this.#units.set(unit.name, unit);
    return unit;
  }

  get(name: string): SupervisedUnit | undefined {
    return this.#units.get(name);
  }

  names(): string[] {
    return [...this.#units.keys()];
  }

  status(): UnitStatus[] {
    return [...this.#units.values()].map((u) => u.status());
  }

  async remove(name: string): Promise<void> {
    const unit = this.#units.get(name);
    if (!unit) return;
    await unit.stop('removed');
    this.#units.delete(name);
    unit.removeAllListeners();
  }

  route(from: string, target: string, method: string, args: unknown[]): Promise<unknown> {
    const unit = this.#units.get(target);
    if (unit) return unit.handleRoutedCall(method, args);
    if (this.#fallback) return this.#fallback(from, target, method, args);
    return Promise.reject(new Error(`no service named "${target}"`));
  }

  async stopAll(reason = 'shutdown'): Promise<void> {
    await Promise.all([...this.#units.values()].map((u) => u.stop(reason)));
  }
}
