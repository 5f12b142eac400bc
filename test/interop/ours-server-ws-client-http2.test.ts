// Interop over HTTP/2 (RFC 8441): our server's extended CONNECT with the `ws` framing engine
// as the client, on a node:http2 stream.
import { after, before } from 'node:test';
import { makeCerts, type CertFiles } from '../helpers/tls-certs.js';
import { interopSuite, type ClientSide, type Pairing } from './interop-suite.js';
import { ourServerSide } from './our-sides.js';
import { wsClientOverHttp2 } from './ws-over-http2.js';

let certs: CertFiles;
before(() => {
  certs = makeCerts();
});
after(() => certs.remove());

const ourServer = ourServerSide(() => ({ key: certs.read(certs.serverKey), cert: certs.read(certs.serverCert) }));

const wsClient: ClientSide = {
  name: 'ws engine over an h2 stream',
  ours: false,
  open: (url, options) => wsClientOverHttp2(url, certs.read(certs.caCert), options),
};

const pairing: Pairing = { server: ourServer, client: wsClient };

interopSuite(pairing);
