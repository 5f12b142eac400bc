// The script a Child starts (worker thread or forked process). Keep it tiny.
import { startChildRuntime } from './child-runtime.js';

startChildRuntime();
