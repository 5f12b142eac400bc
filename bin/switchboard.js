#!/usr/bin/env node
// The `switchboard` command. The CLI itself is compiled TypeScript: run `npm run build` first.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
