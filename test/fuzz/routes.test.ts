import { fuzzTests } from './property-check.js';
import { routesTarget } from './targets/routes.js';

fuzzTests(routesTarget, { generated: 600, mutated: 1200 });
