// The "Node ceiling": a minimal WebSocket server on node:net that does only what a
// server must do to echo — the HTTP upgrade, frame header parsing, unmasking (32-bit
// words, in place for large payloads: no copy) and writing back — and answers every
// frame read in one chunk with ONE write (one writev when large payload slices are in it).
// /echo echoes; /broadcast writes the frames of one publisher chunk, framed once, to
// every /broadcast connection with one write each. No UTF-8 validation, no limits, no
// extensions (permessage-deflate is declined): it is a yardstick, not a server.
//
// Reads land in one reused buffer (Node's `onread` option, applied to accepted sockets the
// way the library does it): no allocation per read, and memory the CPU cache still holds.
// Unmasked payloads are written straight from it; when a write stays queued (the kernel
// did not take it whole) the buffer is left to that write and a fresh one is read into.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { readDirect, type DirectReader } from '../../src/transport/direct-reads.js';
import { parseServerArgs } from './args.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const args = parseServerArgs(process.argv.slice(2));
const room = new Set<Conn>();

interface Conn {
  sock: net.Socket;
  open: boolean;
  broadcast: boolean;
  pending: Buffer | null; // incomplete handshake or frame header bytes
  payLeft: number; // payload bytes of the current frame still to come
  mask: number; // the 4 mask bytes, byte 0 in the low bits
  maskPos: number; // payload bytes of the current frame already unmasked, mod 4
  opcode: number;
  ctl: Buffer[] | null; // control frame payload being collected
  ctlHead: number; // first header byte of the control frame
  copy: boolean; // current data frame is small: copied into the chunk's output buffer
}

const SMALL = 1024; // frames below this are copied (unmasked) into one output buffer per chunk

/** Unmasks src[start, end) in place: bytes up to 4-byte alignment, then 32-bit words. */
function unmaskInPlace(src: Buffer, start: number, end: number, c: Conn): void {
  const m = c.mask;
  let pos = c.maskPos;
  let i = start;
  while (i < end && ((src.byteOffset + i) & 3) !== 0) {
    src[i] ^= (m >>> ((pos & 3) << 3)) & 255;
    i++;
    pos++;
  }
  const words = (end - i) >>> 2;
  if (words > 0) {
    const sh = (pos & 3) << 3;
    const rot = sh === 0 ? m : ((m >>> sh) | (m << (32 - sh))) >>> 0;
    const w = new Uint32Array(src.buffer, src.byteOffset + i, words);
    for (let k = 0; k < words; k++) w[k] ^= rot;
    i += words << 2;
    pos += words << 2;
  }
  while (i < end) {
    src[i] ^= (m >>> ((pos & 3) << 3)) & 255;
    i++;
    pos++;
  }
  c.maskPos = pos & 3;
}

/** Unmasks src[start, end) into out at `at` (small payloads). */
function unmaskCopy(src: Buffer, start: number, end: number, out: Buffer, at: number, c: Conn): void {
  const m = c.mask;
  let pos = c.maskPos;
  for (let i = start; i < end; i++, pos++) out[at + i - start] = src[i] ^ ((m >>> ((pos & 3) << 3)) & 255);
  c.maskPos = pos & 3;
}

function writeHeader(out: Buffer, at: number, b0: number, len: number): number {
  out[at] = b0;
  if (len < 126) {
    out[at + 1] = len;
    return at + 2;
  }
  if (len < 65536) {
    out[at + 1] = 126;
    out.writeUInt16BE(len, at + 2);
    return at + 4;
  }
  out[at + 1] = 127;
  out.writeUInt32BE(Math.floor(len / 2 ** 32), at + 2);
  out.writeUInt32BE(len >>> 0, at + 6);
  return at + 10;
}

function handshake(c: Conn, buf: Buffer): Buffer | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buf.length > 16384) c.sock.destroy();
    else c.pending = Buffer.from(buf);
    return null;
  }
  const head = buf.toString('latin1', 0, end);
  const line = head.slice(0, head.indexOf('\r\n'));
  const path = line.split(' ')[1] ?? '';
  const m = /\r\nsec-websocket-key:[ \t]*([^\r\n]+)/i.exec(head);
  if (!m || (path !== '/echo' && path !== '/broadcast')) {
    c.sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return null;
  }
  const accept = createHash('sha1').update(m[1].trim() + GUID).digest('base64');
  c.sock.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  c.open = true;
  if (path === '/broadcast') {
    c.broadcast = true;
    room.add(c);
  }
  return buf.subarray(end + 4);
}

function control(c: Conn, head: number, payload: Buffer): void {
  const op = head & 15;
  if (op === 10) return; // pong
  const out = Buffer.allocUnsafe(payload.length + 2);
  out[0] = op === 9 ? 0x8a : 0x88;
  out[1] = payload.length;
  payload.copy(out, 2);
  if (op === 9) c.sock.write(out);
  else {
    c.open = false;
    c.sock.end(out);
  }
}

const READ_BYTES = 256 * 1024;
let readBuffer = Buffer.allocUnsafeSlow(READ_BYTES);

/** Writes one chunk's answer; true when part of it stays queued (the kernel did not take it whole). */
function send(sock: net.Socket, pieces: Buffer[]): boolean {
  if (pieces.length === 1) sock.write(pieces[0]);
  else {
    sock.cork(); // one writev for the whole chunk's answer
    for (const p of pieces) sock.write(p);
    sock.uncork();
  }
  return sock.writableLength > 0;
}

function onData(c: Conn, chunk: Buffer): void {
  let buf = chunk;
  if (c.pending) {
    buf = Buffer.concat([c.pending, chunk]); // a fresh buffer: not the shared read buffer
    c.pending = null;
  }
  if (!c.open) {
    const rest = handshake(c, buf);
    if (!rest || rest.length === 0) return;
    buf = rest;
  }
  // Output of this chunk: small frames are unmasked into `out` (allocated on first use;
  // a server frame is never longer than the client frame it answers, so n - i bytes
  // suffice); large payloads are unmasked in place and written as slices of the chunk.
  const pieces: Buffer[] = [];
  let out: Buffer | null = null;
  let o = 0;
  let from = 0;
  const n = buf.length;
  let i = 0;
  while (i < n) {
    if (c.payLeft === 0 && c.ctl === null) {
      // frame header
      if (n - i < 2) break;
      const b0 = buf[i];
      const b1 = buf[i + 1];
      let len = b1 & 127;
      let h = 2;
      if (len === 126) {
        if (n - i < 4) break;
        len = buf.readUInt16BE(i + 2);
        h = 4;
      } else if (len === 127) {
        if (n - i < 10) break;
        len = buf.readUInt32BE(i + 2) * 2 ** 32 + buf.readUInt32BE(i + 6);
        h = 10;
      }
      if ((b1 & 128) === 0) {
        c.sock.destroy(); // client frames must be masked
        return;
      }
      if (n - i < h + 4) break;
      c.mask = buf.readUInt32LE(i + h);
      c.maskPos = 0;
      c.opcode = b0 & 15;
      c.payLeft = len;
      if (c.opcode >= 8) {
        c.ctl = [];
        c.ctlHead = b0;
      } else if (len < SMALL) {
        c.copy = true;
        if (out === null) out = Buffer.allocUnsafe(n - i);
        o = writeHeader(out, o, b0, len);
      } else {
        c.copy = false;
        if (out !== null && o > from) pieces.push(out.subarray(from, o));
        from = o;
        const hb = Buffer.allocUnsafe(10);
        pieces.push(hb.subarray(0, writeHeader(hb, 0, b0, len)));
      }
      i += h + 4;
    }
    const take = Math.min(c.payLeft, n - i);
    if (c.ctl !== null) {
      const part = Buffer.allocUnsafe(take);
      unmaskCopy(buf, i, i + take, part, 0, c);
      c.ctl.push(part);
    } else if (c.copy) {
      if (out === null) out = Buffer.allocUnsafe(n - i);
      unmaskCopy(buf, i, i + take, out, o, c);
      o += take;
    } else if (take > 0) {
      unmaskInPlace(buf, i, i + take, c);
      if (out !== null && o > from) pieces.push(out.subarray(from, o));
      from = o;
      pieces.push(buf.subarray(i, i + take));
    }
    i += take;
    c.payLeft -= take;
    if (c.payLeft === 0 && c.ctl !== null) {
      const payload = Buffer.concat(c.ctl);
      c.ctl = null;
      control(c, c.ctlHead, payload);
      if (!c.open) return;
    }
  }
  if (i < n) c.pending = Buffer.from(buf.subarray(i)); // partial header
  if (out !== null && o > from) pieces.push(out.subarray(from, o));
  if (pieces.length === 0) return;
  let queued = false;
  if (c.broadcast) for (const peer of room) queued = send(peer.sock, pieces) || queued;
  else queued = send(c.sock, pieces);
  // A queued write that holds payload read in place keeps the read buffer: the next read goes elsewhere.
  if (queued && pieces.some((p) => p.buffer === readBuffer.buffer)) readBuffer = Buffer.allocUnsafeSlow(READ_BYTES);
}

const server = net.createServer({ noDelay: true }, (sock) => {
  const c: Conn = {
    sock,
    open: false,
    broadcast: false,
    pending: null,
    payLeft: 0,
    mask: 0,
    maskPos: 0,
    opcode: 0,
    ctl: null,
    ctlHead: 0,
    copy: true,
  };
  const reader: DirectReader = { readTarget: () => readBuffer, onRead: (n, buf) => onData(c, buf.subarray(0, n)) };
  if (!readDirect(sock, reader)) sock.on('data', (chunk: Buffer) => onData(c, chunk));
  sock.on('error', () => {});
  sock.on('close', () => {
    if (c.broadcast) room.delete(c);
  });
});
server.listen(args.port, args.host, () => {
  console.log(`listening raw-net port=${args.port} (permessage-deflate: not supported)`);
});
