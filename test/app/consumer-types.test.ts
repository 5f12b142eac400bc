// ApiOf in a user's project, "type": "commonjs" (npm's default) and "type": "module": tsc
// checks tiny consumer projects against the built package types (dist/, as installed).
// Every wrong call is marked @ts-expect-error, so if ApiOf fell back to the untyped Api
// those marks would be unused and tsc would fail.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO } from './helpers.js';

const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const SERVICE = `import { z } from 'zod';
import { defineService } from 'switchboard';

export default defineService({
  commands: {
    add: { input: z.object({ a: z.number(), b: z.number() }), handler: ({ a, b }) => a + b },
  },
});
`;

/** A client of services/chat: right calls compile, wrong ones must be errors. */
const client = (importLine: string, apiType: string) => `import { createClient, connect, type ApiOf } from 'switchboard';
${importLine}

type Chat = ${apiType};
const client = createClient<Chat>('ws://127.0.0.1:8080/chat', { connect });
export const ok = client.call('add', { a: 1, b: 2 });
export const joined = client.call('room.join', { room: 'lobby' });
// @ts-expect-error: b must be a number
export const wrongInput = client.call('add', { a: 1, b: 'two' });
// @ts-expect-error: no such command
export const unknownCommand = client.call('nope', {});
`;

function project(type: 'commonjs' | 'module', files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), `sb-types-${type}-`));
  roots.push(root);
  mkdirSync(join(root, 'node_modules', '@types'), { recursive: true });
  symlinkSync(REPO, join(root, 'node_modules', 'switchboard'), 'dir');
  symlinkSync(join(REPO, 'node_modules', 'zod'), join(root, 'node_modules', 'zod'), 'dir');
  symlinkSync(join(REPO, 'node_modules', '@types', 'node'), join(root, 'node_modules', '@types', 'node'), 'dir');
  const all: Record<string, string> = {
    'package.json': JSON.stringify({ name: `consumer-${type}`, version: '1.0.0', type }),
    // what `tsc --init` writes today, trimmed
    'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'], skipLibCheck: true } }),
    'services/chat.ts': SERVICE,
    ...files,
  };
  for (const [name, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

function tsc(root: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [TSC, '-p', root], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

// each consumer file in both package types: a CommonJS-mode .ts / .cts file and an ES .mts file
const consumers = {
  'default-import.ts': client(`import type chat from './services/chat.js';`, 'ApiOf<typeof chat>'),
  'default-import.mts': client(`import type chat from './services/chat.js';`, 'ApiOf<typeof chat>'),
  'import-type.cts': client('', `ApiOf<typeof import('./services/chat.js').default>`),
  'import-type.mts': client('', `ApiOf<typeof import('./services/chat.js').default>`),
};

for (const type of ['commonjs', 'module'] as const) {
  test(`"type": "${type}": ApiOf types each command's input, imported either way, from CommonJS and ES files`, () => {
    const r = tsc(project(type, consumers));
    assert.equal(r.code, 0, r.out);
  });
}

test('ApiOf of something that is not a service definition fails to compile, and says why', () => {
  const r = tsc(
    project('module', {
      'not-a-service.mts': `import { createClient, connect, type ApiOf } from 'switchboard';
import * as chat from './services/chat.js';
export const c = createClient<ApiOf<typeof chat.default.commands>>('ws://x/chat', { connect });
`,
    }),
  );
  assert.notEqual(r.code, 0);
  assert.match(r.out, /not-a-service\.mts\(3,\d+\): error TS2344: .* does not satisfy the constraint 'Api'/);
  assert.match(r.out, /ApiOf<S> needs the type of a defineService\(\.\.\.\) value/);
});
