import { fuzzTests } from './property-check.js';
import { framesTarget } from './targets/frames.js';

fuzzTests(framesTarget, { generated: 300, mutated: 1500 });
