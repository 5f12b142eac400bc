import { fuzzTests } from './property-check.js';
import { extensionParamsTarget } from './targets/extension-params.js';

fuzzTests(extensionParamsTarget, { generated: 1500, mutated: 2500 });
