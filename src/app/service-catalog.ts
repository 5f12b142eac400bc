/**
 * The services of a directory: which file serves a path, where each runs (read from its
 * declaration before any of its code runs), the loaded host of each file, reloads and
 * restarts, and a status line per service found, loaded or not.
 */
import { statSync } from 'node:fs';
import type { AppObserver } from './observer.js';
import { RouteResolver } from './route-resolver.js';
import { DeclarationError, readServiceDeclaration } from './service-declaration.js';
import { ServiceLoadError } from './service-loader.js';
import type { HostSink, HostStatus, ServiceHost, ServiceHostFactories } from './service-host.js';
import type { Isolation, ServiceContext, ServiceDefinition } from './service.js';
import { InlineHost } from './inline-host.js';
import type { Logger } from './logger.js';

export type ServiceState = 'not loaded' | HostStatus['state'];

export interface ServiceSummary {
  route: string;
  file: string;
  isolation: Isolation;
  state: ServiceState;
  /** Loads of a changed file (reload, --watch). */
  reloads: number;
  /** Restarts of its worker or process. */
  restarts: number;
  connections: number;
  messagesIn: number;
  messagesOut: number;
  pid?: number;
  memory?: HostStatus['memory'];
  lastCrash?: HostStatus['lastCrash'];
  /** Why the last load failed. */
  error?: string;
}

export interface RescanResult {
  added: string[];
  removed: string[];
  restarted: string[];
  unchanged: string[];
  /** Changed files that failed to load, with the reason. */
  failed: Array<{ route: string; reason: string }>;
}

/** A file that is a background service (exports `start`, no endpoint). */
export interface BackgroundFile {
  route: string;
  file: string;
  isolation: Isolation | undefined;
}

export interface CatalogOptions {
  root: string;
  hosts: ServiceHostFactories;
  /** For files that declare none. */
  defaultIsolation: Isolation;
  /** The sink a service's host talks back through. */
  sinkFor(file: string, route: string): HostSink;
  observer: AppObserver;
  log: Logger;
}

export interface ServiceEntry {
  readonly file: string;
  readonly route: string;
  isolation: Isolation;
  /** The newest load; new connections wait for it. */
  host: Promise<ServiceHost>;
  /** The loaded host new connections get (undefined while the newest load failed). */
  ready: ServiceHost | undefined;
  readonly connections: Set<string>;
  mtimeMs: number;
  messagesIn: number;
  messagesOut: number;
  reloads: number;
}

const MOUNT_PREFIX = 'mount:';

export class ServiceCatalog {
  readonly resolver: RouteResolver;
  readonly #o: CatalogOptions;
  readonly #entries = new Map<string, ServiceEntry>();
  /** Mounted services, by `mount:<route>`. */
  readonly #mounts = new Map<string, ServiceEntry>();
  /** Every host made, older versions included (drain and cancel reach them all). */
  readonly #hosts = new Set<ServiceHost>();
  /** Why a file's last load failed (kept for status after the failed entry is dropped). */
  readonly #failed = new Map<string, string>();

  constructor(options: CatalogOptions) {
    this.#o = options;
    this.resolver = new RouteResolver(options.root);
  }

  /** Hosts alive now (for drain and cancel). */
  hosts(): ServiceHost[] {
    return [...this.#hosts];
  }

  entry(file: string): ServiceEntry | undefined {
    return this.#entries.get(file) ?? this.#mounts.get(file);
  }

  /**
   * Serves a definition at a route, ahead of the directory (the server's own services, e.g.
   * the admin page's): always inline, never reloaded, not listed with the directory's.
   */
  mount(route: string, definition: ServiceDefinition): ServiceContext<any> {
    const file = `${MOUNT_PREFIX}${route}`;
    const host = new InlineHost(file, route, definition, this.#o.sinkFor(file, route), this.#o.log);
    this.#hosts.add(host);
    this.#mounts.set(file, { file, route, isolation: 'inline', host: Promise.resolve(host), ready: host, connections: new Set(), mtimeMs: 0, messagesIn: 0, messagesOut: 0, reloads: 0 });
    return host.context;
  }

  /** The mounted service at this path, if any. */
  mounted(path: string): ServiceEntry | undefined {
    return this.#mounts.get(`${MOUNT_PREFIX}${path}`);
  }

  /** The host for a file, loading it on first use; a failed load is not cached (the file may be fixed). */
  host(file: string, route: string): Promise<ServiceHost> {
    let entry = this.#entries.get(file);
    if (entry === undefined) {
      entry = { file, route, isolation: this.#o.defaultIsolation, host: this.#load(file, route, false), ready: undefined, connections: new Set(), mtimeMs: mtimeOf(file), messagesIn: 0, messagesOut: 0, reloads: 0 };
      this.#entries.set(file, entry);
    }
    const current = entry;
    return current.host.then(
      (host) => {
        if (current.host === this.#entries.get(file)?.host) current.ready ??= host;
        return host;
      },
      (err: unknown) => {
        if (this.#entries.get(file) === current && current.connections.size === 0) this.#entries.delete(file);
        throw err;
      },
    );
  }

  /** Loads a file again for new connections; existing connections stay with the host they have. */
  async reload(file: string): Promise<{ ok: true } | { ok: false; reason: string } | undefined> {
    const entry = this.#entries.get(file);
    if (entry === undefined) return undefined;
    const next = this.#load(file, entry.route, true);
    entry.mtimeMs = mtimeOf(file);
    let host: ServiceHost;
    try {
      host = await next;
    } catch (err) {
      entry.host = next; // new connections get the 500 until the file is fixed
      entry.ready = undefined;
      void next.catch(() => {});
      return { ok: false, reason: reasonOf(err) };
    }
    const previous = entry.ready;
    entry.host = next;
    entry.ready = host;
    entry.reloads += 1;
    previous?.retire?.();
    return { ok: true };
  }

  /** Restarts a service: its worker/process, or a fresh load of an inline service. False when no service serves the route. */
  async restart(route: string): Promise<boolean> {
    const r = await this.resolver.resolve(route);
    if (!r.found) return false;
    const entry = this.#entries.get(r.file);
    if (entry?.ready?.restart) {
      await entry.ready.restart();
      return true;
    }
    if (entry !== undefined) return (await this.reload(r.file))?.ok === true;
    await this.host(r.file, r.route);
    return true;
  }

  /**
   * Re-scans the directory: reloads the loaded files that changed on disk, forgets deleted
   * ones, and lists the routes found that are not loaded yet (they load on first use).
   */
  async rescan(): Promise<RescanResult> {
    this.resolver.forget();
    const routes = await this.endpointRoutes();
    const result: RescanResult = { added: [], removed: [], restarted: [], unchanged: [], failed: [] };
    const loaded = new Map([...this.#entries.values()].map((e) => [e.route, e]));
    for (const route of routes) if (!loaded.has(route)) result.added.push(route);
    for (const e of loaded.values()) {
      const now = await this.resolver.resolve(e.route);
      if (!now.found || now.file !== e.file) {
        this.forget(e.file);
        result.removed.push(e.route);
      } else if (this.#changedOnDisk(e)) {
        const r = await this.reload(e.file);
        if (r?.ok === false) result.failed.push({ route: e.route, reason: r.reason });
        else result.restarted.push(e.route);
      } else result.unchanged.push(e.route);
    }
    return result;
  }

  /** The file is gone: its host stops once its connections are; a later request resolves again. */
  forget(file: string): void {
    const entry = this.#entries.get(file);
    if (entry === undefined) return;
    entry.ready?.retire?.();
    if (entry.connections.size === 0) this.#entries.delete(file);
  }

  /** The files loaded so far (for --watch). */
  loadedFiles(): string[] {
    return [...this.#entries.keys()];
  }

  /** Routes of the directory served by endpoint services (background services left out). */
  async endpointRoutes(): Promise<string[]> {
    const out: string[] = [];
    for (const route of await this.resolver.listRoutes()) {
      const r = await this.resolver.resolve(route);
      if (r.found && !(await this.#isBackground(r.file))) out.push(route);
    }
    return out;
  }

  /** Files of the directory that are background services. */
  async backgroundFiles(): Promise<BackgroundFile[]> {
    const out: BackgroundFile[] = [];
    for (const route of await this.resolver.listRoutes()) {
      const r = await this.resolver.resolve(route);
      if (!r.found) continue;
      try {
        const d = await readServiceDeclaration(r.file);
        if (d.exportsStart && !d.definesService) out.push({ route, file: r.file, isolation: d.isolation });
      } catch {
        /* not readable: reported when a client asks for it */
      }
    }
    return out;
  }

  /** One line per endpoint service of the directory, loaded or not. */
  async summaries(): Promise<ServiceSummary[]> {
    const out: ServiceSummary[] = [];
    const seen = new Set<string>();
    for (const route of await this.endpointRoutes()) {
      const r = await this.resolver.resolve(route);
      if (!r.found) continue;
      seen.add(r.file);
      out.push(this.#summary(r.file, route, await this.#declaredIsolation(r.file)));
    }
    for (const e of this.#entries.values()) if (!seen.has(e.file)) out.push(this.#summary(e.file, e.route, e.isolation));
    return out;
  }

  /** Stops every host (after the connections are closed). */
  async disposeAll(): Promise<void> {
    this.resolver.close();
    await Promise.allSettled([...this.#hosts].map((h) => h.dispose?.()));
  }

  #summary(file: string, route: string, isolation: Isolation): ServiceSummary {
    const e = this.#entries.get(file);
    const base = { route, file, isolation: e?.isolation ?? isolation, reloads: e?.reloads ?? 0, connections: e?.connections.size ?? 0, messagesIn: e?.messagesIn ?? 0, messagesOut: e?.messagesOut ?? 0 };
    if (e?.ready === undefined) {
      const error = this.#failed.get(file);
      return error === undefined ? { ...base, state: 'not loaded', restarts: 0 } : { ...base, state: 'failed', restarts: 0, error };
    }
    const s = e.ready.status?.() ?? { state: 'running' as const, restarts: 0 };
    const summary: ServiceSummary = { ...base, state: s.state, restarts: s.restarts };
    if (s.pid !== undefined) summary.pid = s.pid;
    if (s.memory) summary.memory = s.memory;
    if (s.lastCrash) summary.lastCrash = s.lastCrash;
    return summary;
  }

  async #declaredIsolation(file: string): Promise<Isolation> {
    try {
      return (await readServiceDeclaration(file)).isolation ?? this.#o.defaultIsolation;
    } catch {
      return this.#o.defaultIsolation;
    }
  }

  async #isBackground(file: string): Promise<boolean> {
    try {
      const d = await readServiceDeclaration(file);
      return d.exportsStart && !d.definesService;
    } catch {
      return false;
    }
  }

  /** Reads where the file runs, then loads it there; never imports it anywhere else. */
  #load(file: string, route: string, reload: boolean): Promise<ServiceHost> {
    const loading = (async (): Promise<ServiceHost> => {
      let declaration;
      try {
        declaration = await readServiceDeclaration(file);
      } catch (err) {
        throw new ServiceLoadError(file, err instanceof DeclarationError ? err.reason : reasonOf(err));
      }
      if (declaration.exportsStart && !declaration.definesService) {
        throw new ServiceLoadError(file, 'a background service (it exports start), not an endpoint');
      }
      const isolation = declaration.isolation ?? this.#o.defaultIsolation;
      const entry = this.#entries.get(file);
      if (entry !== undefined) entry.isolation = isolation;
      const factory = this.#o.hosts[isolation];
      if (factory === undefined) throw new ServiceLoadError(file, `isolation '${isolation}' needs the runtime (switchboard serve, or startServer from switchboard/runtime)`);
      return factory(file, route, this.#o.sinkFor(file, route));
    })();
    loading.then(
      (host) => {
        this.#hosts.add(host);
        this.#failed.delete(file);
        this.#o.observer.serviceLoaded?.({ route, file, isolation: host.info.isolation, reload });
      },
      (err: unknown) => {
        const reason = reasonOf(err);
        this.#failed.set(file, reason);
        this.#o.log.error({ file, route, reason }, `service ${file} failed to load: ${reason}`);
        this.#o.observer.serviceLoadFailed?.({ route, file, reason, reload });
      },
    );
    return loading;
  }

  #changedOnDisk(e: ServiceEntry): boolean {
    return mtimeOf(e.file) !== e.mtimeMs;
  }
}

function reasonOf(err: unknown): string {
  return err instanceof ServiceLoadError ? err.reason : err instanceof Error ? err.message : String(err);
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
