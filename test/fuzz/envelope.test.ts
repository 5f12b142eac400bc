import { fuzzTests } from './property-check.js';
import { envelopeTarget } from './targets/envelope.js';

fuzzTests(envelopeTarget, { generated: 1000, mutated: 2000 });
