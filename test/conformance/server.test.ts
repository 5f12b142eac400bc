// The conformance table against our server, HTTP/1.1 Upgrade over TCP.
import { serverConformance } from './server-suite.js';

await serverConformance('http/1.1');
