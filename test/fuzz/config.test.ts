import { fuzzTests } from './property-check.js';
import { configTarget } from './targets/config.js';

fuzzTests(configTarget, { generated: 400, mutated: 800 });
