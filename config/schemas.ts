import { z } from "zod";
import { exactQuantity, parseMemory, wholeQuantity } from "./units";

/** Raw value types the Pulumi project file can declare. */
export type DeclaredType = "string" | "integer" | "boolean" | "array";

export interface KeySpec {
  /** Type declared in Pulumi.yaml. */
  readonly type: DeclaredType;
  /** One line for Pulumi.yaml and the README. */
  readonly description: string;
  /** Default declared in Pulumi.yaml; `undefined` for secrets (generated when unset). */
  readonly default: unknown;
  /** Validates one value; its messages say what is allowed. */
  readonly schema: z.ZodType;
  /** Set with `pulumi config set --secret`; never echoed in errors. */
  readonly secret?: boolean;
}

export const int = (min: number, max: number) =>
  z
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` });

export const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(", ")}` });

export const bool = z.boolean({ error: "must be true or false" });

export const memory = (what: string) =>
  z
    .string({ error: `must be a ${what} such as "384mb"` })
    .refine((v) => parseMemory(v) !== undefined, {
      error: `must be a ${what}: a whole number with a unit b, kb, mb or gb (e.g. "384mb")`,
    });

/** A string schema whose `check` returns what is wrong (the message), or undefined. */
export const checked = (typeError: string, check: (v: string) => string | undefined) =>
  z.string({ error: typeError }).superRefine((v, ctx) => {
    const problem = check(v);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });

export const MI = 1024n ** 2n;
export const TI = 1024n ** 4n;

/**
 * A Kubernetes quantity of whole `unit`s (bytes, or millicores with perUnit 1000) from `min` to
 * `max`: the cluster would otherwise round it, or refuse it at deploy time.
 */
export const quantity = (
  example: string,
  range: { min: bigint; max: bigint; perUnit?: bigint; allowed: string },
) =>
  checked(`must be a Kubernetes quantity such as "${example}"`, (v) => {
    if (exactQuantity(v) === undefined)
      return `must be a Kubernetes quantity such as "${example}" (binary suffixes Ki, Mi, Gi, Ti or decimal m, k, M, G, T)`;
    const whole = wholeQuantity(v, range.perUnit);
    if (whole === undefined || whole < range.min || whole > range.max) return range.allowed;
    return undefined;
  });

/** Printable ASCII without blanks or quotes, so a password is safe in every config file. */
export const password = z
  .string({ error: "must be a string" })
  .min(16, { error: "must be at least 16 characters" })
  .max(512, { error: "must be at most 512 characters" })
  .regex(/^[!#-&(-[\]-~]+$/, {
    error: "may hold printable ASCII only, without blanks, quotes or backslashes",
  });
