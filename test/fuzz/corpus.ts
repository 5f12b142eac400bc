import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to dist/test/fuzz/: the corpus stays in the source tree, where it is committed.
export const CORPUS_ROOT = fileURLToPath(new URL('../../../test/fuzz/corpus/', import.meta.url));

export interface CorpusEntry {
  name: string;
  data: Buffer;
}

export function corpusDir(target: string): string {
  return join(CORPUS_ROOT, target);
}

export function loadCorpus(target: string): CorpusEntry[] {
  const dir = corpusDir(target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .sort()
    .map((name) => ({ name, data: readFileSync(join(dir, name)) }));
}

export function contentName(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex').slice(0, 16);
}

/** Store an input under a name derived from its content; returns the path. */
export function saveInput(target: string, data: Buffer, prefix = ''): string {
  const dir = corpusDir(target);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, prefix + contentName(data));
  if (!existsSync(path)) writeFileSync(path, data);
  return path;
}
