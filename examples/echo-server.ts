/**
 * The library-level example: `npm run example:echo -- --port N [--host H]`.
 *  /echo       echoes every message with its type; picks subprotocol echo.v1 when offered;
 *              answers a client's Close with the same code and reason; permessage-deflate when offered.
 *  /broadcast  every text message goes to all connections on /broadcast (framed once).
 * It accepts messages up to 64 MiB (so 32 MiB works and 100 MiB is refused with 1009);
 * the library's own defaults stay at 1 MiB.
 */
import { parseArgs } from 'node:util';
import type { Buffer } from 'node:buffer';
import { WebSocketServer, prepareMessage, type WebSocket } from '../src/transport/index.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: process.env.PORT ?? '8080' }, host: { type: 'string', default: '127.0.0.1' } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${values.port}`);
  process.exit(2);
}

const MAX = 64 * 1024 * 1024;
const broadcastGroup = new Set<WebSocket>();

const server = new WebSocketServer({
  port,
  host: values.host,
  perMessageDeflate: true,
  limits: { maxMessageBytes: MAX, maxFrameBytes: MAX, highWaterMark: 2 * MAX },
  handshake(request) {
    if (request.path === '/echo') return request.protocols.includes('echo.v1') ? { protocol: 'echo.v1' } : undefined;
    if (request.path === '/broadcast') return undefined;
    return { reject: { status: 404, reason: `no endpoint at ${request.path}` } };
  },
  onCloseFrame: (_ws, code, reason) => (code === 1005 ? undefined : { code, reason }),
});

// Listeners are shared functions (an emitter calls them with `this` set to the connection):
// a connection costs no closure of its own.
const BINARY = { binary: true };
const TEXT = { binary: false };
function echo(this: WebSocket, data: Buffer, isBinary: boolean): void {
  this.send(data, isBinary ? BINARY : TEXT);
}
function publish(data: Buffer, isBinary: boolean): void {
  if (!isBinary) server.broadcast(prepareMessage(data.toString('utf8')), undefined, broadcastGroup);
}
function leave(this: WebSocket): void {
  broadcastGroup.delete(this);
}

server.on('connection', (ws, request) => {
  if (request.path === '/echo') {
    ws.on('message', echo);
  } else {
    broadcastGroup.add(ws);
    ws.on('close', leave);
    ws.on('message', publish);
  }
});

const address = await server.listen();
console.log(`listening on ws://${address.address}:${address.port} (endpoints: /echo, /broadcast)`);
const stop = () => {
  server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
