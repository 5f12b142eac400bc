// Interop over HTTP/2 (RFC 8441): our client's extended CONNECT against node's HTTP/2 server
// with the `ws` framing engine on each stream.
import { after, before } from 'node:test';
import { makeCerts, type CertFiles } from '../helpers/tls-certs.js';
import { interopSuite, type Pairing, type ServerSide } from './interop-suite.js';
import { ourClientSide } from './our-sides.js';
import { wsServerOverHttp2 } from './ws-over-http2.js';

let certs: CertFiles;
before(() => {
  certs = makeCerts();
});
after(() => certs.remove());

const wsServer: ServerSide = {
  name: 'ws engine behind node:http2',
  ours: false,
  start: (options) => wsServerOverHttp2({ key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) }, options),
};

const ourClient = ourClientSide(() => certs.read(certs.caCert));

const pairing: Pairing = { server: wsServer, client: ourClient };

interopSuite(pairing);
