/**
 * What a service file declares about where it runs, read from its source without running
 * it (as Next.js reads a route's `export const runtime`): the server must know a service's
 * isolation before any of its code runs, or a `process` service's top-level code would run
 * in the server too. The isolation is a string literal in one of two places:
 *
 *   export default defineService({ isolation: 'process', ... })
 *   export const isolation = 'process'
 *
 * The same read tells a background service (a module exporting `start`) from an endpoint.
 */
import { readFile, stat } from 'node:fs/promises';
import { parse, type Node } from 'acorn';
import type { Isolation } from './service.js';

export interface ServiceDeclaration {
  /** Declared isolation; undefined when the file declares none (the configured default applies). */
  isolation: Isolation | undefined;
  /** The default export is a `defineService(...)` call (directly or through a module-level const). */
  definesService: boolean;
  /** The module exports `start` (named, or as a method of a default-exported object): a background service. */
  exportsStart: boolean;
}

/** The file cannot be read or parsed, or its declaration is not a literal. */
export class DeclarationError extends Error {
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'DeclarationError';
  }
}

const ISOLATIONS: readonly string[] = ['inline', 'worker', 'process'];
const cache = new Map<string, { key: string; declaration: ServiceDeclaration }>();

/** Reads (and caches by modification time and size) the declaration of a service file. */
export async function readServiceDeclaration(file: string): Promise<ServiceDeclaration> {
  let key: string;
  let source: string;
  try {
    const s = await stat(file);
    key = `${s.mtimeMs}:${s.size}`;
    const hit = cache.get(file);
    if (hit?.key === key) return hit.declaration;
    source = await readFile(file, 'utf8');
  } catch (err) {
    throw new DeclarationError(file, `cannot read: ${err instanceof Error ? err.message : String(err)}`);
  }
  const declaration = declarationOf(file, await toJavaScript(file, source));
  cache.set(file, { key, declaration });
  return declaration;
}

async function toJavaScript(file: string, source: string): Promise<string> {
  if (!/\.(c|m)?tsx?$/.test(file)) return source;
  // esbuild (already here for tsx) strips the types: `as const`, `satisfies` and annotations vanish.
  const { transform } = await import('esbuild');
  try {
    return (await transform(source, { loader: file.endsWith('x') ? 'tsx' : 'ts', format: 'esm', sourcefile: file })).code;
  } catch (err) {
    const first = (err as { errors?: Array<{ text: string; location?: { line: number; column: number } | null }> }).errors?.[0];
    const where = first?.location ? `line ${first.location.line}:${first.location.column}: ` : '';
    throw new DeclarationError(file, `syntax error: ${first ? where + first.text : String(err)}`);
  }
}

type AnyNode = Node & Record<string, any>;

export function declarationOf(file: string, js: string): ServiceDeclaration {
  let program: AnyNode;
  try {
    program = parse(js, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true }) as AnyNode;
  } catch (err) {
    throw new DeclarationError(file, `syntax error: ${err instanceof Error ? err.message : String(err)}`);
  }
  const topConsts = new Map<string, AnyNode>();
  for (const stmt of program.body as AnyNode[]) {
    const decl = stmt.type === 'ExportNamedDeclaration' ? stmt.declaration : stmt;
    if (decl?.type === 'VariableDeclaration') for (const d of decl.declarations) if (d.id.type === 'Identifier' && d.init) topConsts.set(d.id.name, d.init);
  }
  let fromExport: Isolation | undefined;
  let fromDefinition: Isolation | undefined;
  let definesService = false;
  let exportsStart = false;
  const literal = (node: AnyNode | undefined, where: string): Isolation => {
    if (node?.type === 'Literal' && typeof node.value === 'string' && ISOLATIONS.includes(node.value)) return node.value as Isolation;
    throw new DeclarationError(file, `${where} must be the string literal 'inline', 'worker' or 'process' (the server reads it before running the file)`);
  };
  for (const stmt of program.body as AnyNode[]) {
    if (stmt.type === 'ExportNamedDeclaration') {
      const d = stmt.declaration;
      if (d?.type === 'FunctionDeclaration' && d.id?.name === 'start') exportsStart = true;
      if (d?.type === 'VariableDeclaration') {
        for (const v of d.declarations) {
          if (v.id.type !== 'Identifier') continue;
          if (v.id.name === 'isolation') fromExport = literal(v.init, '`export const isolation`');
          if (v.id.name === 'start') exportsStart = true;
        }
      }
      for (const s of stmt.specifiers ?? []) {
        const exported = s.exported?.name ?? s.exported?.value;
        if (exported === 'start') exportsStart = true;
        if (exported === 'isolation') fromExport = literal(topConsts.get(s.local.name), '`isolation`');
      }
    }
    // esbuild writes `export default <expression>` as `var x = ...; export { x as default }`
    const defaultSpecifier = stmt.type === 'ExportNamedDeclaration' && !stmt.source ? (stmt.specifiers ?? []).find((s: AnyNode) => (s.exported?.name ?? s.exported?.value) === 'default') : undefined;
    if (stmt.type === 'ExportDefaultDeclaration' || defaultSpecifier) {
      let value: AnyNode | undefined = defaultSpecifier ? defaultSpecifier.local : stmt.declaration;
      if (value?.type === 'Identifier') value = topConsts.get(value.name);
      const options = serviceOptions(value);
      if (options !== undefined) {
        definesService = true;
        const prop = options?.properties?.find((p: AnyNode) => p.type === 'Property' && !p.computed && (p.key.name ?? p.key.value) === 'isolation');
        if (prop) fromDefinition = literal(prop.value, "defineService's `isolation`");
      } else if (value?.type === 'ObjectExpression') {
        exportsStart ||= value.properties.some((p: AnyNode) => p.type === 'Property' && (p.key.name ?? p.key.value) === 'start');
      }
    }
  }
  if (fromExport !== undefined && fromDefinition !== undefined && fromExport !== fromDefinition) {
    throw new DeclarationError(file, `declares isolation '${fromExport}' and '${fromDefinition}'`);
  }
  return { isolation: fromExport ?? fromDefinition, definesService, exportsStart };
}

/** The options object of a `defineService({...})` call (null when it is not an object literal), or undefined when `node` is no such call. */
function serviceOptions(node: AnyNode | undefined): AnyNode | null | undefined {
  if (node?.type !== 'CallExpression') return undefined;
  const callee = node.callee;
  const name = callee.type === 'Identifier' ? callee.name : callee.type === 'MemberExpression' && !callee.computed ? callee.property.name : undefined;
  if (name !== 'defineService') return undefined;
  const arg = node.arguments[0];
  return arg?.type === 'ObjectExpression' ? arg : null;
}
