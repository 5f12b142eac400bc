// The conformance table against our client, WebSockets over HTTP/2 (RFC 8441) on TLS.
import { clientConformance } from './client-suite.js';

await clientConformance('h2');
