// The conformance table against our client, HTTP/1.1 Upgrade over TCP.
import { clientConformance } from './client-suite.js';

await clientConformance('http/1.1');
