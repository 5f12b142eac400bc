import type { Buffer } from 'node:buffer';
import type fc from 'fast-check';

/**
 * One parser under fuzz. Every input is bytes, so one corpus format and one set of byte
 * mutators serve every target; a target that needs structure (options, several sections)
 * reads it from the bytes, and its generator builds such bytes from typed values.
 */
export interface FuzzTarget {
  /** Also the name of its corpus directory. */
  readonly name: string;
  readonly maxLength: number;
  /** Tokens of the input language, for the mutators. */
  readonly dictionary: readonly Buffer[];
  /** Valid and near-valid inputs built in code (the corpus directory adds to them). */
  seeds(): Buffer[];
  /** Structure-aware generator. */
  readonly generate: fc.Arbitrary<Buffer>;
  /** Runs one input; throws when the parser throws or a property does not hold. */
  run(input: Buffer): void | Promise<void>;
  /** Release what the target set up (temporary directories). */
  close?(): void | Promise<void>;
}
