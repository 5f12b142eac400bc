// Echo servers over TLS for the HTTP/2 bench: `--impl ws` (ws attached to an https.Server,
// HTTP/1.1 only: ws has no HTTP/2) or `--impl switchboard` (standalone, with --http2 also
// taking extended CONNECT streams). --port N --key FILE --cert FILE.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { WebSocketServer as WsServer } from 'ws';
import { WebSocketServer } from '../../src/index.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('port'));
const tls = { key: readFileSync(arg('key')!), cert: readFileSync(arg('cert')!) };

if (arg('impl') === 'ws') {
  const server = https.createServer(tls);
  const wss = new WsServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  server.listen(port, '127.0.0.1', () => console.log(`listening ws tls port=${port}`));
} else {
  const wss = new WebSocketServer({ port, host: '127.0.0.1', tls, http2: process.argv.includes('--http2') });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await wss.listen();
  console.log(`listening switchboard tls port=${port} http2=${process.argv.includes('--http2')}`);
}
