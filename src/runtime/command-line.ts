// The command line of every `switchboard` command (and of config flags): util.parseArgs for
// the tokens, our own checks for the errors, so that each mistake gets one line that names
// the flag and says what it takes (parseArgs' own messages run over several lines, quote
// unevenly, and call a negative number "ambiguous").
import { parseArgs } from 'node:util';

export interface ArgSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** What the value may be, for messages: "a port number from 0 to 65535". */
  takes?: string;
}

export type ArgSpecs = Record<string, ArgSpec>;

export interface ParsedCommandLine {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** A mistake on the command line: `message` is one line, without the command's name. */
export class CommandLineError extends Error {
  readonly code = 'ERR_SWITCHBOARD_COMMAND_LINE';
  constructor(message: string) {
    super(message);
    this.name = 'CommandLineError';
  }
}

const NEGATIVE_NUMBER = /^-\d/;

/** `command` (e.g. "switchboard serve") points an unknown option to its --help. */
export function parseCommandLine(argv: string[], specs: ArgSpecs, command?: string): ParsedCommandLine {
  const { tokens } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      Object.entries(specs).map(([name, s]) => [name, { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) }]),
    ),
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const values: ParsedCommandLine['values'] = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue; // the `--` terminator
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name]! : undefined;
    if (spec === undefined) {
      const hint = suggestion(token.name, Object.keys(specs)) ?? (command ? ` (${command} --help lists the options)` : '');
      throw new CommandLineError(`unknown option ${token.rawName}${hint}`);
    }
    let value: string | boolean;
    if (spec.type === 'boolean') {
      if (token.value !== undefined) {
        const negated = Object.hasOwn(specs, `no-${token.name}`) ? ` (${token.rawName} or --no-${token.name})` : '';
        throw new CommandLineError(`${token.rawName} is a switch and takes no value${negated}`);
      }
      value = true;
    } else {
      // a following option is not a value (`--port --watch`); a negative number is (`--max-restarts -1`)
      const v = token.value;
      if (v === undefined || (!token.inlineValue && v.startsWith('-') && !NEGATIVE_NUMBER.test(v))) {
        throw new CommandLineError(`${token.rawName} needs a value${spec.takes ? `: ${spec.takes}` : ''}`);
      }
      value = v;
    }
    if (spec.multiple) values[token.name] = [...((values[token.name] as string[] | undefined) ?? []), String(value)];
    else values[token.name] = value;
  }
  return { values, positionals };
}

/** " (did you mean --port?)" when a known option is a likely typo of `name`. */
function suggestion(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = typoDistance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 4)) ? ` (did you mean --${best}?)` : undefined;
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function typoDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
