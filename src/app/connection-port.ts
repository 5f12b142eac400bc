/**
 * What the app layer is handed for each live connection, and how it frames a fan-out once.
 * The edge that binds a transport implements both; tests use in-memory ones. `Framed` is
 * whatever the framer makes: the app only carries it from the framer to the ports.
 */
export interface ConnectionPort<Framed> {
  send(data: string | Uint8Array, binary: boolean): void;
  /** Writes a message framed once by the Framer (fan-out). */
  sendFramed(message: Framed): void;
  close(code: number, reason: string): void;
}

export interface Framer<Framed> {
  frame(data: string | Uint8Array, binary: boolean): Framed;
}
