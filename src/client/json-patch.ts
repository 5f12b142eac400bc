/**
 * Patches between two JSON values: JSON Merge Patch (RFC 7386) and JSON Patch (RFC 6902),
 * made on the server once per change and applied by clients. No imports: this file is
 * served to browsers beside the command client.
 *
 * A change is sent as whichever patch is smaller. A merge patch cannot say "set to null"
 * (null deletes) or change an array in part, so it is used only when it really turns the old
 * value into the new one; a JSON Patch always can.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface PatchOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: Json;
}

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

// ---------------------------------------------------------------- RFC 7386

/** The merge patch from `a` to `b`, or undefined when none can express it. */
export function mergePatch(a: Json, b: Json): Json | undefined {
  if (!isObject(a) || !isObject(b)) return undefined;
  const patch = diffObjects(a, b);
  return patch !== undefined && deepEqual(applyMergePatch(a, patch), b) ? patch : undefined;
}

function diffObjects(a: Record<string, Json>, b: Record<string, Json>): Record<string, Json> | undefined {
  const patch: Record<string, Json> = {};
  for (const k of Object.keys(a)) if (!Object.hasOwn(b, k)) setKey(patch, k, null);
  for (const k of Object.keys(b)) {
    const av = a[k];
    const bv = b[k]!;
    if (Object.hasOwn(a, k) && deepEqual(av, bv)) continue;
    if (bv === null) return undefined; // null means "delete" in a merge patch
    if (isObject(av) && isObject(bv)) {
      const inner = diffObjects(av, bv);
      if (inner === undefined) return undefined;
      setKey(patch, k, inner);
    } else setKey(patch, k, bv);
  }
  return patch;
}

export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setKey(out, k, applyMergePatch(Object.hasOwn(out, k) ? out[k]! : null, v));
  }
  return out;
}

// ---------------------------------------------------------------- RFC 6902

/** A JSON Patch from `a` to `b` (add, remove and replace only). */
export function jsonPatch(a: Json, b: Json, path = ''): PatchOp[] {
  if (deepEqual(a, b)) return [];
  if (isObject(a) && isObject(b)) {
    const ops: PatchOp[] = [];
    for (const k of Object.keys(a)) if (!Object.hasOwn(b, k)) ops.push({ op: 'remove', path: `${path}/${escape(k)}` });
    for (const k of Object.keys(b)) {
      if (!Object.hasOwn(a, k)) ops.push({ op: 'add', path: `${path}/${escape(k)}`, value: b[k]! });
      else ops.push(...jsonPatch(a[k]!, b[k]!, `${path}/${escape(k)}`));
    }
    return ops;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const ops: PatchOp[] = [];
    const common = Math.min(a.length, b.length);
    for (let i = 0; i < common; i++) ops.push(...jsonPatch(a[i]!, b[i]!, `${path}/${i}`));
    for (let i = common; i < b.length; i++) ops.push({ op: 'add', path: `${path}/-`, value: b[i]! });
    for (let i = a.length - 1; i >= common; i--) ops.push({ op: 'remove', path: `${path}/${i}` });
    return ops;
  }
  return [{ op: 'replace', path, value: b }];
}

export function applyJsonPatch(target: Json, ops: readonly PatchOp[]): Json {
  let doc = structuredCopy(target);
  for (const op of ops) doc = applyOp(doc, op);
  return doc;
}

function applyOp(doc: Json, op: PatchOp): Json {
  if (op.path === '') {
    if (op.op === 'remove') return null;
    return structuredCopy(op.value ?? null);
  }
  const keys = op.path.slice(1).split('/').map(unescape);
  let parent: Json = doc;
  for (let i = 0; i < keys.length - 1; i++) {
    parent = Array.isArray(parent) ? parent[Number(keys[i])]! : (parent as Record<string, Json>)[keys[i]!]!;
    if (typeof parent !== 'object' || parent === null) throw new Error(`json patch: no parent for ${op.path}`);
  }
  const last = keys[keys.length - 1]!;
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`json patch: bad index in ${op.path}`);
    if (op.op === 'add') parent.splice(index, 0, structuredCopy(op.value ?? null));
    else if (op.op === 'remove') parent.splice(index, 1);
    else parent[index] = structuredCopy(op.value ?? null);
  } else if (typeof parent === 'object' && parent !== null) {
    if (op.op === 'remove') delete parent[last];
    else setKey(parent, last, structuredCopy(op.value ?? null));
  } else throw new Error(`json patch: no parent for ${op.path}`);
  return doc;
}

// ---------------------------------------------------------------- choosing

export type Patch = { kind: 'merge'; patch: Json } | { kind: 'json'; patch: PatchOp[] };

/**
 * The smaller of the two patches from `a` to `b`. On the wire a JSON Patch is an array and
 * a merge patch an object (a merge patch is only made between two objects), so the client
 * tells them apart without a tag.
 */
export function smallestPatch(a: Json, b: Json): Patch {
  const ops = jsonPatch(a, b);
  const merge = mergePatch(a, b);
  if (merge !== undefined && JSON.stringify(merge).length <= JSON.stringify(ops).length) return { kind: 'merge', patch: merge };
  return { kind: 'json', patch: ops };
}

/** Applies a patch as sent on the wire: an array is a JSON Patch, anything else a merge patch. */
export function applyPatch(target: Json, patch: Json | PatchOp[]): Json {
  return Array.isArray(patch) ? applyJsonPatch(target, patch as PatchOp[]) : applyMergePatch(target, patch);
}

/** An own property even for "__proto__" (a plain assignment would set the prototype). */
function setKey(o: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescape(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function structuredCopy<T extends Json>(v: T): T {
  return v === null || typeof v !== 'object' ? v : (JSON.parse(JSON.stringify(v)) as T);
}
