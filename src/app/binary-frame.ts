/**
 * Bytes in the JSON command protocol. A command, reply or push whose data holds Uint8Arrays
 * travels as one binary WebSocket message:
 *
 *   [header length: uint32, big-endian][header: UTF-8 JSON][attachment 0][attachment 1]...
 *
 * The header is the message the text protocol would send (`{"id","cmd","data"}`,
 * `{"id","ok","data"}`, `{"event","data"}`) with each Uint8Array replaced by `{"$bin": i}`,
 * plus `"bin": [length of attachment 0, ...]`. The bytes are never base64'd nor copied into
 * JSON, and a message without bytes stays a text message. This file imports nothing: it is
 * served to browsers beside the client.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** True when the value holds a Uint8Array (a Buffer too) anywhere: it then travels as a binary frame. */
export function hasBytes(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const pending: unknown[] = [value];
  const seen = new Set<object>(); // a cycle ends here; JSON.stringify reports it afterwards
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    if (v instanceof Uint8Array) return true;
    seen.add(v);
    if (Array.isArray(v)) pending.push(...v);
    else for (const key in v) pending.push((v as Record<string, unknown>)[key]);
  }
  return false;
}

/** One binary frame for a protocol message (an object) whose data holds Uint8Arrays. */
export function encodeBinaryFrame(message: Record<string, unknown>): Uint8Array {
  const attachments: Uint8Array[] = [];
  // the holder's own value: a Buffer has toJSON, so `value` is already {type, data} here
  const json = JSON.stringify(message, function (this: Record<string, unknown>, key: string, value: unknown) {
    const own = this[key];
    if (own instanceof Uint8Array) {
      attachments.push(own);
      return { $bin: attachments.length - 1 };
    }
    return value;
  });
  const header = encoder.encode(`${json.slice(0, -1)}${json.length > 2 ? ',' : ''}"bin":[${attachments.map((a) => a.byteLength).join(',')}]}`);
  let size = 4 + header.byteLength;
  for (const a of attachments) size += a.byteLength;
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, header.byteLength);
  out.set(header, 4);
  let at = 4 + header.byteLength;
  for (const a of attachments) {
    out.set(a, at);
    at += a.byteLength;
  }
  return out;
}

/**
 * The protocol message in a binary frame, its `{"$bin": i}` placeholders replaced by views of
 * the attachments (no copy); null when the bytes are not a well-formed frame. `parse` reads
 * the header (the server passes its prototype-safe JSON parser).
 */
export function decodeBinaryFrame(bytes: Uint8Array, parse: (text: string) => unknown = JSON.parse): Record<string, unknown> | null {
  if (bytes.byteLength < 4) return null;
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (4 + length > bytes.byteLength) return null;
  let message: unknown;
  try {
    message = parse(decoder.decode(bytes.subarray(4, 4 + length)));
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return null;
  const obj = message as Record<string, unknown>;
  const lengths = obj['bin'];
  if (!Array.isArray(lengths) || !lengths.every((n) => Number.isInteger(n) && n >= 0)) return null;
  const attachments: Uint8Array[] = [];
  let at = 4 + length;
  for (const n of lengths as number[]) {
    attachments.push(bytes.subarray(at, at + n));
    at += n;
  }
  if (at !== bytes.byteLength) return null;
  delete obj['bin'];
  return restore(obj, attachments) ? obj : null;
}

/** Puts the attachments where their placeholders are; false when one names no attachment. */
function restore(root: Record<string, unknown>, attachments: Uint8Array[]): boolean {
  const pending: Array<Record<string, unknown> | unknown[]> = [root];
  while (pending.length > 0) {
    const holder = pending.pop()!;
    for (const key of Object.keys(holder)) {
      const v = (holder as Record<string, unknown>)[key];
      if (typeof v !== 'object' || v === null) continue;
      const index = placeholder(v);
      if (index === undefined) {
        pending.push(v as Record<string, unknown>);
        continue;
      }
      const bytes = attachments[index];
      if (bytes === undefined) return false;
      (holder as Record<string, unknown>)[key] = bytes;
    }
  }
  return true;
}

function placeholder(v: object): number | undefined {
  if (Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  const index = (v as { $bin?: unknown }).$bin;
  return keys.length === 1 && keys[0] === '$bin' && Number.isInteger(index) ? (index as number) : undefined;
}
