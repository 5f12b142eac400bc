// `switchboard new <path>`: scaffold a service file and its test.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { CommandLineError, parseCommandLine } from '../../runtime/command-line.js';
import type { CliCommand } from './command.js';
import { projectPackageJson, projectTsconfig, withTestFile } from './project-files.js';
import { backgroundService, backgroundTest, endpointService, endpointTest, type TemplateInput } from './service-templates.js';

const usage = `Usage: switchboard new <path> [--services DIR] [--tests DIR] [--js] [--background] [--force]

Creates <services>/<path>.ts (served at ws://host/<path>) and a test in
<tests>/<path>.test.ts. Defaults: --services services, --tests test/services.
--background scaffolds a background service (start(ctx, signal), no endpoint).
--js writes JavaScript instead of TypeScript. Existing files are kept unless --force.
In a directory without one, also writes package.json (switchboard and zod, npm start,
npm test) and, for TypeScript, tsconfig.json.
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
    let values: Record<string, string | boolean | string[] | undefined>;
    let positionals: string[];
    try {
      ({ values, positionals } = parseCommandLine(
        argv,
        {
          services: { type: 'string', takes: 'the services directory' },
          tests: { type: 'string', takes: 'the directory of the tests' },
          js: { type: 'boolean' },
          background: { type: 'boolean' },
          force: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
        'switchboard new',
      ));
    } catch (err) {
      if (!(err instanceof CommandLineError)) throw err;
      io.stderr(`switchboard new: ${err.message}\n`);
      return 2;
    }
    if (values.help) return io.stdout(usage), 0;
    if (positionals.length !== 1) {
      io.stderr(
        positionals.length === 0
          ? 'switchboard new: name the service to create, e.g. switchboard new chat (served at ws://host/chat)\n'
          : `switchboard new: one service at a time, got ${positionals.length}: ${positionals.join(' ')}\n`,
      );
      return 2;
    }
    let segments: string[];
    try {
      segments = parseServicePath(positionals[0]!);
    } catch (err) {
      io.stderr(`switchboard new: ${(err as Error).message}\n`);
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
    let servicesDirFromTest = relative(dirname(testFile), servicesDir).split(sep).join('/') + '/';
    if (!servicesDirFromTest.startsWith('.')) servicesDirFromTest = `./${servicesDirFromTest}`;
    const input: TemplateInput = { route: `/${segments.join('/')}`, serviceImport, servicesDirFromTest, lang };

    const existing = [serviceFile, testFile].filter((f) => existsSync(f));
    if (existing.length > 0 && !values.force) {
      io.stderr(`switchboard new: ${existing.map((f) => relative(io.cwd, f)).join(' and ')} already exist${existing.length === 1 ? 's' : ''}; --force overwrites\n`);
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
    const project = scaffoldProject(io.cwd, lang, posix(relative(io.cwd, servicesDir)), posix(relative(io.cwd, testFile)));
    for (const line of project) io.stdout(`${line}\n`);
    if (!values.background) io.stdout(`served at ws://<host>${input.route} by \`switchboard serve ${posix(relative(io.cwd, servicesDir)) || '.'}\`\n`);
    return 0;
  },
};

const posix = (path: string): string => path.split(sep).join('/');

/**
 * package.json and tsconfig.json for a directory that has none (the services import
 * `switchboard` and `zod`, and the tests run with tsx); an existing package.json only gets the
 * new test added to a test script `new` wrote, and a note about missing dependencies.
 * Returns the lines to print.
 */
function scaffoldProject(cwd: string, lang: 'ts' | 'js', servicesRel: string, testRel: string): string[] {
  const lines: string[] = [];
  const pkgFile = join(cwd, 'package.json');
  if (!existsSync(pkgFile)) {
    writeFileSync(pkgFile, projectPackageJson(cwd, lang, servicesRel || '.', testRel));
    lines.push('created package.json');
  } else {
    let pkg: { scripts?: Record<string, string>; dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    try {
      pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as typeof pkg;
    } catch {
      return [`note: package.json is not valid JSON; left as it is`];
    }
    const script = withTestFile(pkg.scripts?.test, testRel);
    if (script !== undefined) {
      pkg.scripts = { ...pkg.scripts, test: script };
      writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + '\n');
      lines.push('updated package.json (test script)');
    }
    const missing = ['switchboard', 'zod'].filter((d) => pkg.dependencies?.[d] === undefined && pkg.devDependencies?.[d] === undefined);
    if (missing.length > 0) lines.push(`note: the service imports ${missing.join(' and ')}: npm install ${missing.join(' ')}`);
  }
  if (lang === 'ts' && !existsSync(join(cwd, 'tsconfig.json'))) {
    writeFileSync(join(cwd, 'tsconfig.json'), projectTsconfig());
    lines.push('created tsconfig.json');
  }
  return lines;
}
