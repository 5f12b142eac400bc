/**
 * Module resolution hook (node:module register): a service file may import `switchboard`
 * (and its subpaths) from any folder, the server's own copy answering when the service's
 * folder has none. Every other import resolves from the service's folder as usual.
 */
interface ResolveContext {
  parentURL?: string;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>;

let ownParent = '';

export function initialize(data: { parentURL: string }): void {
  ownParent = data.parentURL;
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<{ url: string; format?: string | null; shortCircuit?: boolean }> {
  if (specifier !== 'switchboard' && !specifier.startsWith('switchboard/')) return nextResolve(specifier, context);
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || ownParent === '') throw err;
    return nextResolve(specifier, { ...context, parentURL: ownParent });
  }
}
