import { fuzzTests } from './property-check.js';
import { handshakeTarget } from './targets/handshake.js';

fuzzTests(handshakeTarget, { generated: 2000, mutated: 5000 });
