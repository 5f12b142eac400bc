/**
 * Copy `src[start, end)` into `dst` at `at`. Short runs are copied by a loop: for the few
 * bytes of a chat message that beats the native copy, which must first build a view of
 * the source range.
 */
export function copyBytes(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): void {
  const n = end - start;
  if (n < 64) {
    for (let i = 0; i < n; i++) dst[at + i] = src[start + i]!;
    return;
  }
  dst.set(start === 0 && end === src.length ? src : new Uint8Array(src.buffer, src.byteOffset + start, n), at);
}
