#!/usr/bin/env node
// The `switchboard` command. The CLI is compiled TypeScript: the package ships it built
// (npm pack builds it); a checkout builds it with `npm run build` (npm start and npm test do).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(`switchboard: not built yet: run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}\n`);
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
