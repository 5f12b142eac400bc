// The conformance table against our server, WebSockets over HTTP/2 (RFC 8441) on TLS.
import { serverConformance } from './server-suite.js';

await serverConformance('h2');
