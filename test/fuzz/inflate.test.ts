import { fuzzTests } from './property-check.js';
import { inflateTarget } from './targets/inflate.js';

fuzzTests(inflateTarget, { generated: 150, mutated: 1500 });
