/**
 * What the app layer needs of a live connection and of the framer below it. The transport's
 * WebSocket and prepareMessage satisfy these; tests use in-memory fakes. No frames here.
 */
export interface PeerSocket {
  send(data: string | Uint8Array, options?: { binary?: boolean }): unknown;
  /** Writes a message framed once by Framer.prepare (fan-out). */
  sendPrepared(message: never): unknown;
  close(code?: number, reason?: string): void;
}

export interface Framer {
  prepare(data: string | Uint8Array, binary: boolean): unknown;
}
