// The `ws` baseline: /echo echoes each message with its type, /broadcast sends each
// message to every /broadcast connection (ws frames it once per recipient: that is ws).
// Plain ws: run with WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1. With --require-native the
// process refuses to start unless the bufferutil native addon (not its JS fallback) is loaded.
import { createRequire } from 'node:module';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseServerArgs } from './args.js';

const args = parseServerArgs(process.argv.slice(2));
const requireNative = process.argv.includes('--require-native');
const require = createRequire(import.meta.url);

const wss = new WebSocketServer({ host: args.host, port: args.port, perMessageDeflate: args.deflate });
const room = new Set<WebSocket>();

wss.on('connection', (ws, req) => {
  if (req.url === '/broadcast') {
    room.add(ws);
    ws.on('close', () => room.delete(ws));
    ws.on('message', (data, isBinary) => {
      for (const peer of room) peer.send(data as Buffer, { binary: isBinary });
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  }
  ws.on('error', () => {});
});

wss.on('listening', () => {
  // Which native helpers did ws actually load? (native .node files appear in require.cache)
  const natives = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
  const bufferutil = natives.some((k) => /bufferutil[\\/].*\.node$/.test(k));
  const utf8 = natives.some((k) => /utf-8-validate[\\/].*\.node$/.test(k));
  const wsVersion = (require('ws/package.json') as { version: string }).version;
  console.log(
    `listening ws ${wsVersion} port=${args.port} deflate=${args.deflate} native-bufferutil=${bufferutil} native-utf-8-validate=${utf8}`,
  );
  if (requireNative && !bufferutil) {
    console.error('ws-server: bufferutil native addon did not load (JS fallback in use)');
    process.exit(1);
  }
});
