import { z } from "zod";
import { exactQuantity, parseMemory, wholeQuantity } from "./units";

/** The Pulumi config namespace of every key (`lowcode-redis:<key>`). */
export const NAMESPACE = "lowcode-redis";

/** Raw value types the Pulumi project file can declare. */
export type DeclaredType = "string" | "integer" | "boolean" | "array";

export interface KeySpec<Schema extends z.ZodType = z.ZodType> {
  /** Type declared in Pulumi.yaml. */
  readonly type: DeclaredType;
  /** One line for Pulumi.yaml and docs/configuration.md. */
  readonly description: string;
  /** Default declared in Pulumi.yaml; `undefined` for secrets (generated when unset). */
  readonly default: unknown;
  /** Validates one value; its messages say what is allowed. */
  readonly schema: Schema;
  /** Set with `pulumi config set --secret`; never echoed in errors. */
  readonly secret?: boolean;
}

/** A table of keys, as each feature declares its own. */
export type KeyTable = Readonly<Record<string, KeySpec>>;

/** `undefined` where a key has no default: unset, it means "the profile's (or the stack's) choice". */
type UnsetWithoutDefault<Spec extends KeySpec> = Spec extends { readonly default: undefined }
  ? undefined
  : never;

/** What a key holds once its value has passed its schema (or was left at its default). */
export type KeyValue<Spec extends KeySpec> = z.output<Spec["schema"]> | UnsetWithoutDefault<Spec>;

/**
 * The values of a table of keys, as the feature's resolver receives them. Secrets are left out:
 * the config knows only whether one is set (their values go straight to the components).
 */
export type KeyValues<Table extends KeyTable> = {
  readonly [K in keyof Table as Table[K] extends { readonly secret: true } ? never : K]: KeyValue<
    Table[K]
  >;
};

/** The message of a value its key refuses: `Invalid lowcode-redis:<key> <value>: <allowed>.` */
export type Invalid = (key: string, value: unknown, allowed: string) => string;

/** The own keys of a table, typed as its keys. */
export function keyNames<Table extends object>(table: Table): (keyof Table & string)[] {
  return Object.keys(table).filter((k): k is keyof Table & string => Object.hasOwn(table, k));
}

export const int = (min: number, max: number) =>
  z
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` });

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
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

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A DNS-1123 subdomain: the name of most Kubernetes objects, and the prefix of a label key. */
export const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_PREFIX = DNS_SUBDOMAIN;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
export const LABELS_ALLOWED =
  'must be "" or Kubernetes labels "key=value" separated by commas, e.g. "app.kubernetes.io/part-of=lowcode-platform,tier=api" (keys: an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_", "."; values: at most 63 of the same)';

/** What is wrong with a label (or annotation) key: an optional DNS prefix and "/", then a name. */
export function labelKeyProblem(key: string, kind = "label"): string | undefined {
  const slash = key.lastIndexOf("/");
  const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && !LABEL_PREFIX.test(prefix))
    return `${JSON.stringify(key)} has an invalid prefix`;
  if (!LABEL_NAME.test(name))
    return `${JSON.stringify(key)} is not a${kind === "annotation" ? "n" : ""} ${kind} key`;
  return undefined;
}

/** What is wrong with one "key=value" pair of a label list, or undefined. */
function labelPairProblem(pair: string): string | undefined {
  const at = pair.indexOf("=");
  if (at < 0) return `${JSON.stringify(pair)} has no "="`;
  const key = pair.slice(0, at);
  const value = pair.slice(at + 1);
  const keyProblem = labelKeyProblem(key);
  if (keyProblem) return keyProblem;
  if (!LABEL_VALUE.test(value)) return `${JSON.stringify(value)} is not a label value`;
  return undefined;
}

/** Parses "k=v,k2=v2" (validated by `labelList`) into a label map; "" is no labels. */
export function parseLabels(text: string): Record<string, string> {
  if (text === "") return {};
  return Object.fromEntries(
    text
      .split(",")
      .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
  );
}

/** Kubernetes labels as one string "k=v,k2=v2", easy to set with `pulumi config set`. */
export const labelList = checked(LABELS_ALLOWED, (v) => {
  if (v === "") return undefined;
  const pairs = v.split(",");
  for (const pair of pairs) {
    const problem = labelPairProblem(pair);
    if (problem) return `${LABELS_ALLOWED}; ${problem}`;
  }
  const keys = pairs.map((p) => p.slice(0, p.indexOf("=")));
  const repeated = keys.find((k, i) => keys.indexOf(k) !== i);
  return repeated ? `${LABELS_ALLOWED}; ${JSON.stringify(repeated)} is given twice` : undefined;
});

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAMESPACES_ALLOWED =
  "must be a list of Kubernetes namespace names (DNS-1123 labels: lowercase letters, digits, '-', at most 63), each once";

/** A list of Kubernetes namespaces, each named once. */
export const namespaceList = z
  .array(z.string({ error: NAMESPACES_ALLOWED }).regex(DNS_LABEL, { error: NAMESPACES_ALLOWED }), {
    error: NAMESPACES_ALLOWED,
  })
  .max(32, { error: "must list at most 32 namespaces" })
  .refine((list) => new Set(list).size === list.length, { error: NAMESPACES_ALLOWED });

export const namespaceName = z
  .string({ error: "must be a Kubernetes namespace name (DNS-1123 label)" })
  .regex(DNS_LABEL, {
    error: "must be a Kubernetes namespace name (DNS-1123 label: lowercase letters, digits, '-')",
  });

/** Kubernetes refuses an object whose annotations total more than 256 KiB. */
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/**
 * What is wrong with a list of "key=value" annotations (Pulumi config holds lists of strings),
 * or undefined: an entry without "=", a key Kubernetes refuses or that `reserved` names, a key
 * given twice, more than Kubernetes takes. `allowed` opens the message.
 */
export function annotationsProblem(
  list: readonly string[],
  allowed: string,
  reserved: (key: string) => string | undefined = () => undefined,
): string | undefined {
  const keys = list.map((a) => (a.includes("=") ? a.slice(0, a.indexOf("=")) : a));
  for (const [i, key] of keys.entries()) {
    if (!list[i].includes("=")) return `${allowed}; ${JSON.stringify(list[i])} has no "="`;
    const problem = labelKeyProblem(key, "annotation");
    if (problem) return `${allowed}; ${problem}`;
    const refused = reserved(key);
    if (refused) return refused;
  }
  const repeated = keys.find((k, i) => keys.indexOf(k) !== i);
  if (repeated) return `${allowed}; ${JSON.stringify(repeated)} is given twice`;
  if (Buffer.byteLength(list.join("")) > ANNOTATIONS_MAX_BYTES)
    return `${allowed}; they exceed Kubernetes's 256 KiB`;
  return undefined;
}

/** The annotations of a validated list, by key; the value is everything after the first "=". */
export function parseAnnotations(list: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    list.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
}
