// The script a Host starts (worker thread or forked process). Keep it tiny.
import { startChildRuntime } from './child-runtime.js';

startChildRuntime();
