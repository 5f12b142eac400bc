/**
 * The Standard Schema interface (https://standardschema.dev), v1, declared here so that
 * command schemas can come from any library that implements it (zod, valibot, arktype...)
 * without this package depending on one.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace StandardSchemaV1 {
  interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  type Result<Output> = SuccessResult<Output> | FailureResult;
  interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  interface PathSegment {
    readonly key: PropertyKey;
  }
  interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  type InferInput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['input'];
  type InferOutput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['output'];
}

/** A validation issue as it goes on the wire: plain data, path as strings/numbers. */
export interface ValidationIssue {
  message: string;
  path?: Array<string | number>;
}

export type ValidationOutcome<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/** Runs a Standard Schema validator and turns its result into plain data. */
export async function validateWith<T>(schema: StandardSchemaV1<unknown, T>, value: unknown): Promise<ValidationOutcome<T>> {
  const result = await schema['~standard'].validate(value);
  if (result.issues === undefined) return { ok: true, value: result.value };
  return { ok: false, issues: result.issues.map(toIssue) };
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const out: ValidationIssue = { message: issue.message };
  if (issue.path !== undefined && issue.path.length > 0) {
    out.path = issue.path.map((seg) => {
      const key = typeof seg === 'object' && seg !== null ? (seg as StandardSchemaV1.PathSegment).key : seg;
      return typeof key === 'number' ? key : String(key);
    });
  }
  return out;
}

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const props = (value as Record<string, unknown>)['~standard'];
  return typeof props === 'object' && props !== null && typeof (props as { validate?: unknown }).validate === 'function';
}
