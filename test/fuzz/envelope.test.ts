import { fuzzTests } from './property-check.js';
import { envelopeTarget } from './targets/envelope.js';

fuzzTests(envelopeTarget, { generated: 1500, mutated: 3000 });
