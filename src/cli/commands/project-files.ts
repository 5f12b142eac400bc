// The project files `switchboard new` writes when the directory has none yet: what a project
// needs around its services (README: "Serve your own directory").
import { basename } from 'node:path';
import { switchboardPackage } from '../own-package.js';

/** A package name from a directory name: lower case, letters, digits, - and _ only. */
function packageName(dir: string): string {
  return basename(dir).toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|-+$/g, '') || 'switchboard-app';
}

export function projectPackageJson(dir: string, lang: 'ts' | 'js', servicesDir: string, testFile: string): string {
  const own = switchboardPackage();
  const range = (name: string): string => own.dependencies[name] ?? own.devDependencies[name] ?? '*';
  const pkg = {
    name: packageName(dir),
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      start: `switchboard serve ${servicesDir}`,
      // Node 20's test runner finds .js tests in a directory, not .ts ones: `new` lists each
      test: lang === 'ts' ? `tsx --test ${testFile}` : 'node --test test/',
      ...(lang === 'ts' ? { typecheck: 'tsc' } : {}),
    },
    dependencies: { switchboard: `^${own.version}`, zod: range('zod') },
    ...(lang === 'ts' ? { devDependencies: { '@types/node': range('@types/node'), tsx: range('tsx'), typescript: range('typescript') } } : {}),
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

export function projectTsconfig(): string {
  const config = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      noEmit: true, // services and tests run from source (switchboard serve and tsx load .ts)
      skipLibCheck: true,
      verbatimModuleSyntax: true,
    },
    include: ['services', 'test'],
  };
  return JSON.stringify(config, null, 2) + '\n';
}

/** The `tsx --test ...` script a scaffolded package.json starts with, with `testFile` added. */
export function withTestFile(script: string | undefined, testFile: string): string | undefined {
  if (script === undefined || !script.startsWith('tsx --test ')) return undefined;
  const files = script.slice('tsx --test '.length).split(/\s+/).filter(Boolean);
  return files.includes(testFile) ? undefined : `tsx --test ${[...files, testFile].join(' ')}`;
}
