// `switchboard new <path>`: scaffold a service file and its test.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import type { CliCommand } from './command.js';
import { backgroundService, backgroundTest, endpointService, endpointTest, type TemplateInput } from './service-templates.js';

const usage = `Usage: switchboard new <path> [--services DIR] [--tests DIR] [--js] [--background] [--force]

Creates <services>/<path>.ts (served at ws://host/<path>) and a test in
<tests>/<path>.test.ts. Defaults: --services services, --tests test/services.
--background scaffolds a background service (start(ctx, signal), no endpoint).
--js writes JavaScript instead of TypeScript. Existing files are kept unless --force.
`;

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** "chat", "/rooms/lobby" -> ["rooms", "lobby"]; throws on anything that could escape the directory. */
export function parseServicePath(input: string): string[] {
  const segments = input.replace(/^\/+/, '').replace(/\.(ts|js)$/, '').split('/');
  for (const s of segments) {
    if (!SEGMENT.test(s)) {
      throw new Error(`invalid service path "${input}": use segments of letters, digits, - and _ separated by /`);
    }
  }
  return segments;
}

export const newCommand: CliCommand = {
  name: 'new',
  summary: 'scaffold a service file and its test',
  usage,
  async run(argv, io) {
    let values: Record<string, string | boolean | undefined>;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args: argv,
        options: {
          services: { type: 'string' },
          tests: { type: 'string' },
          js: { type: 'boolean' },
          background: { type: 'boolean' },
          force: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
        allowPositionals: true,
        strict: true,
      }));
    } catch (err) {
      io.stderr(`switchboard: ${(err as Error).message}\n\n${usage}`);
      return 2;
    }
    if (values.help) return io.stdout(usage), 0;
    if (positionals.length !== 1) {
      io.stderr(`switchboard: new needs exactly one path\n\n${usage}`);
      return 2;
    }
    let segments: string[];
    try {
      segments = parseServicePath(positionals[0]!);
    } catch (err) {
      io.stderr(`switchboard: ${(err as Error).message}\n`);
      return 2;
    }
    const lang = values.js ? 'js' : 'ts';
    const servicesDir = resolve(io.cwd, (values.services as string | undefined) ?? 'services');
    const testsDir = resolve(io.cwd, (values.tests as string | undefined) ?? join('test', 'services'));
    const serviceFile = join(servicesDir, ...segments) + `.${lang}`;
    const testFile = join(testsDir, ...segments) + `.test.${lang}`;
    // TypeScript sources import .ts files by their .js name (NodeNext; tsx maps it)
    let serviceImport = relative(dirname(testFile), serviceFile).split(sep).join('/').replace(/\.ts$/, '.js');
    if (!serviceImport.startsWith('.')) serviceImport = `./${serviceImport}`;
    const input: TemplateInput = { route: `/${segments.join('/')}`, serviceImport, lang };

    const existing = [serviceFile, testFile].filter((f) => existsSync(f));
    if (existing.length > 0 && !values.force) {
      io.stderr(`switchboard: ${existing.map((f) => relative(io.cwd, f)).join(' and ')} already exist(s); use --force to overwrite\n`);
      return 1;
    }
    let serviceText = values.background ? backgroundService(input) : endpointService(input);
    let testText = values.background ? backgroundTest(input) : endpointTest(input);
    if (lang === 'js') testText = testText.replace(/ as never/g, '');
    if (lang === 'ts' && values.background) testText = testText.replace('const sent = [];', 'const sent: unknown[] = [];').replace('async (service, room, data)', 'async (service: string, room: string, data: unknown)');
    serviceText = serviceText.replace(/\n{3,}/g, '\n\n');
    mkdirSync(dirname(serviceFile), { recursive: true });
    mkdirSync(dirname(testFile), { recursive: true });
    writeFileSync(serviceFile, serviceText);
    writeFileSync(testFile, testText);
    io.stdout(`created ${relative(io.cwd, serviceFile)}\ncreated ${relative(io.cwd, testFile)}\n`);
    if (!values.background) io.stdout(`served at ws://<host>${input.route}\n`);
    return 0;
  },
};
