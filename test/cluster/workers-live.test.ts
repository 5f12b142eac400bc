// Live values across the workers of `--workers 2`, from a process-isolated service: the
// service's live handle crosses its process boundary, the change crosses the workers' hub.
import { test, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startNode, type Node } from './harness.js';
import { checkLiveAcross, writeLiveService } from './live-across.js';

const SERVICE = pathToFileURL(fileURLToPath(new URL('../../src/app/service.js', import.meta.url))).href;
const root = mkdtempSync(join(tmpdir(), 'sb-workers-live-'));
writeLiveService(root, SERVICE, 'process');
let node: Node | undefined;
after(async () => {
  await node?.process.kill();
  rmSync(root, { recursive: true, force: true });
});

test('--workers 2: subscribers on both workers see the same versions in order; writers on both race', async () => {
  node = await startNode(root, ['--workers', '2']);
  await checkLiveAcross([node.url], 'w');
});
