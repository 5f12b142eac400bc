/**
 * A service's declared live values, by exact name or by pattern (`board/:id`): which
 * declaration a name falls under, its parameters, and its initial value.
 */
import type { Connection, LiveOptions } from '../service.js';

export interface ResolvedLive {
  params: Record<string, string>;
  initial: unknown;
  history: number | undefined;
  guard: ((connection: Connection<any, any>, params: Record<string, string>) => boolean | Promise<boolean>) | undefined;
}

interface Compiled {
  readonly options: LiveOptions<any, any, any>;
  readonly segments: string[];
}

export class LiveDeclarations {
  readonly #exact = new Map<string, LiveOptions<any, any, any>>();
  readonly #patterns: Compiled[] = [];

  constructor(declared: Record<string, LiveOptions<any, any, any>> | undefined) {
    for (const [key, options] of Object.entries(declared ?? {})) {
      if (key.split('/').some((s) => s.startsWith(':'))) this.#patterns.push({ options, segments: key.split('/') });
      else this.#exact.set(key, options);
    }
  }

  get any(): boolean {
    return this.#exact.size > 0 || this.#patterns.length > 0;
  }

  /** The declaration `name` falls under, or null. */
  resolve(name: string): ResolvedLive | null {
    const exact = this.#exact.get(name);
    if (exact) return resolved(exact, {});
    const parts = name.split('/');
    for (const p of this.#patterns) {
      if (p.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = p.segments[i]!;
        if (seg.startsWith(':')) {
          if (parts[i] === '') ok = false;
          else params[seg.slice(1)] = parts[i]!;
        } else ok = seg === parts[i];
      }
      if (ok) return resolved(p.options, params);
    }
    return null;
  }
}

function resolved(options: LiveOptions<any, any, any>, params: Record<string, string>): ResolvedLive {
  const initial = typeof options.initial === 'function' ? (options.initial as (p: Record<string, string>) => unknown)(params) : options.initial;
  return { params, initial: initial === undefined ? null : initial, history: options.history, guard: options.subscribe };
}
