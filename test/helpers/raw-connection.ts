// A raw WebSocket endpoint over a node:net socket (or an HTTP/2 stream, RFC 8441), used by
// the conformance harness on both sides: as a client talking to the server under test, and
// as a server talking to the client under test. It sends crafted bytes (in chosen
// chunkings) and records every frame the subject sends, plus how the connection ends
// (TCP FIN or END_STREAM; a reset).
import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameReader, encodeFrame, type FrameSpec, type ParsedFrame } from './frames.js';

export type Chunking =
  | 'whole' // everything in one write
  | 'frames' // one write per frame
  | 'bytes' // one byte per write
  | { size: number } // fixed-size writes
  | { at: number[] }; // split at these byte offsets of the concatenated stream

export interface Received {
  frame: ParsedFrame;
  /** how many bytes the harness had written when this frame arrived */
  afterBytesSent: number;
}

export class RawConnection {
  readonly socket: Duplex;
  /** 'client' masks its frames; 'server' does not */
  readonly role: 'client' | 'server';
  readonly received: Received[] = [];
  readonly reader = new FrameReader();
  bytesSent = 0;
  /** the peer half-closed (FIN received) */
  ended = false;
  /** the socket is fully closed */
  closed = false;
  /** socket error code, e.g. ECONNRESET */
  errorCode: string | undefined;
  private waiters: Array<() => void> = [];

  constructor(socket: Duplex, role: 'client' | 'server', leftover?: Buffer) {
    this.socket = socket;
    this.role = role;
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.errorCode = err.code ?? err.message;
      this.wake();
    });
    if (leftover && leftover.length > 0) this.onData(leftover);
  }

  private onData(chunk: Buffer): void {
    for (const frame of this.reader.push(chunk)) this.received.push({ frame, afterBytesSent: this.bytesSent });
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolve when `pred()` is true, or false after `ms` milliseconds (a generous deadline, never an assertion). */
  async waitUntil(pred: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (let guard = 0; guard < 10_000_000; guard++) {
      if (pred()) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return pred();
  }

  encode(spec: FrameSpec): Buffer {
    return encodeFrame(spec, this.role === 'client');
  }

  /** Write bytes; resolves once the kernel took them (or false if the socket is gone). */
  write(bytes: Buffer): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve(false);
    this.bytesSent += bytes.length;
    return new Promise((resolve) => {
      this.socket.write(bytes, (err) => resolve(!err));
    });
  }

  /**
   * Send frames with a given chunking. Between writes it yields briefly so that separate
   * writes reach the subject as separate reads (pacing only; nothing asserts on time).
   */
  async sendFrames(frames: FrameSpec[], chunking: Chunking = 'whole', pauseMs = 1): Promise<void> {
    const encoded = frames.map((f) => this.encode(f));
    if (chunking === 'frames') {
      for (let i = 0; i < encoded.length; i++) {
        if (!(await this.write(encoded[i]!))) return;
        if (i < encoded.length - 1) await sleep(pauseMs);
      }
      return;
    }
    await this.sendBytes(Buffer.concat(encoded), chunking, pauseMs);
  }

  async sendBytes(all: Buffer, chunking: Chunking = 'whole', pauseMs = 1): Promise<void> {
    const pieces: Buffer[] = [];
    if (chunking === 'whole' || chunking === 'frames') pieces.push(all);
    else if (chunking === 'bytes') for (let i = 0; i < all.length; i++) pieces.push(all.subarray(i, i + 1));
    else if ('size' in chunking) for (let i = 0; i < all.length; i += chunking.size) pieces.push(all.subarray(i, i + chunking.size));
    else {
      let prev = 0;
      for (const at of chunking.at) {
        pieces.push(all.subarray(prev, at));
        prev = at;
      }
      pieces.push(all.subarray(prev));
    }
    for (let i = 0; i < pieces.length; i++) {
      if (pieces[i]!.length === 0) continue;
      if (!(await this.write(pieces[i]!))) return;
      if (i < pieces.length - 1) await sleep(pauseMs);
    }
  }

  /** Index of the first close frame received, or -1. */
  closeIndex(): number {
    return this.received.findIndex((r) => r.frame.op === 0x8);
  }

  /** Wait for the TCP connection to be closed (by either side's action), up to ms. */
  waitClosed(ms: number): Promise<boolean> {
    return this.waitUntil(() => this.closed || this.ended, ms);
  }

  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
