import { ConfigError } from "./config-error";
import {
  ConfigValues,
  KEYS,
  KEY_NAMES,
  KeyName,
  PlainKeyName,
  SECRET_KEYS,
  SecretName,
  isSecretName,
} from "./keys";
import {
  RawConfig,
  SecretReference,
  malformedKeyProblem,
  meantKey,
  nearOurNamespace,
  parseConfigKey,
} from "./raw-config";
import { DeclaredType, Invalid, KeySpec, NAMESPACE } from "./schemas";
import { editDistance, jsonText, nearest, printable } from "./suggest";

/**
 * The first step of resolving a stack's config: every key read, coerced from the strings Pulumi
 * hands over, and checked against its schema, each on its own. The rules between keys are the
 * features' (config/resolve.ts).
 */

/** A stack name as Pulumi allows it; it is written into the header of every rendered file. */
export const STACK_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/** Why `stack` is no stack name, or undefined. */
export function stackNameProblem(stack: unknown): string | undefined {
  return typeof stack === "string" && STACK_NAME.test(stack)
    ? undefined
    : `Invalid stack name ${jsonText(stack)}: must be 1 to 100 letters, digits, '_', '.' or '-' (it is written into the header of every rendered file).`;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Whether a value holds a string with a control character (a line break would split a directive). */
function holdsControlCharacter(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return CONTROL.test(value);
  if (depth > 8 || typeof value !== "object" || value === null) return false;
  return Object.entries(value).some(
    ([k, v]) => CONTROL.test(k) || holdsControlCharacter(v, depth + 1),
  );
}

function ownValue(record: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function isSecretReference(value: unknown): value is SecretReference {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    Object.hasOwn(value, "secure") &&
    "secure" in value &&
    typeof value.secure === "string" &&
    value.secure.length > 0 &&
    !CONTROL.test(value.secure)
  );
}

/** Whether a stack file stored the value encrypted, in any shape (`{ secure: … }`). */
function looksEncrypted(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.hasOwn(value, "secure");
}

/**
 * Pulumi hands every value over as a string; turn it into the declared type where it parses.
 * Strictly: " 6380", "1e3" or "6380.0" stay strings and fail as such.
 */
function coerce(type: DeclaredType, value: unknown): unknown {
  if (typeof value !== "string") return value;
  switch (type) {
    case "integer":
      return /^-?(0|[1-9]\d{0,15})$/.test(value) ? Number(value) : value;
    case "boolean":
      return value === "true" ? true : value === "false" ? false : value;
    case "array":
      if (value.startsWith("[")) {
        try {
          const parsed: unknown = JSON.parse(value);
          return parsed;
        } catch {
          return value;
        }
      }
      return value;
    default:
      return value;
  }
}

/**
 * A key of another namespace that looks like one of ours: a problem when the namespace is ours
 * misspelled by one character or by its separators, case or look-alike letters (the setting would
 * silently not apply: `lowcode_redis:profile: production` would deploy the dev profile); a
 * warning when it is only similar; nothing for another program's namespace.
 */
function misplacedKey(fullKey: string): { problem?: string; warning?: string } {
  const parsed = parseConfigKey(fullKey);
  const colon = fullKey.indexOf(":");
  const namespace = parsed?.namespace ?? fullKey.slice(0, colon);
  if (!nearOurNamespace(namespace)) return {};
  const name = parsed?.name ?? fullKey.slice(colon + 1);
  const meant = meantKey(name) ?? printable(`${NAMESPACE}:${name}`);
  const squash = (ns: string) =>
    ns
      .normalize("NFKC")
      .toLowerCase()
      .replace(/[^a-z0-9]/g, "");
  if (editDistance(squash(namespace), squash(NAMESPACE)) <= 1) {
    return {
      problem: `Invalid config key ${printable(fullKey)}: its namespace is not ${NAMESPACE}, so the setting would be ignored; did you mean ${meant}?`,
    };
  }
  return {
    warning: `${printable(fullKey)} is not in the ${NAMESPACE} namespace and is ignored; did you mean ${meant}?`,
  };
}

/**
 * The values of the plain keys as they are read, one key after the other: each the default of its
 * key or the output of its key's schema. TypeScript cannot tie a key to its schema's output type
 * inside a loop over the keys; `isComplete` checks that the loop reached every key.
 */
type Draft = Record<string, unknown>;

/** Whether every plain key has been read (those without a default may hold undefined). */
function isComplete(draft: Draft): draft is ConfigValues {
  return KEY_NAMES.every((key) => isSecretName(key) || Object.hasOwn(draft, key));
}

/** A value coerced from Pulumi's strings and checked against its key's schema, or why it is refused. */
function checkValue(
  key: KeyName,
  given: unknown,
  invalid: Invalid,
): { readonly data: unknown } | { readonly problem: string } {
  const spec: KeySpec = KEYS[key];
  const value = coerce(spec.type, given);
  if (holdsControlCharacter(value)) {
    return {
      problem: invalid(
        key,
        given,
        "must not hold control characters (U+0000 to U+001F, U+007F: line breaks, tabs…), which would split or hide a line of the rendered config",
      ),
    };
  }
  const result = spec.schema.safeParse(value);
  return result.success
    ? { data: result.data }
    : { problem: invalid(key, given, result.error.issues[0]?.message ?? "is not valid") };
}

/** Reads one plain key into the draft, or says why its value is refused. */
function readPlainKey(
  draft: Draft,
  key: PlainKeyName,
  raw: RawConfig,
  invalid: Invalid,
): string | undefined {
  const given = ownValue(raw.values, key);
  if (given === undefined) {
    draft[key] = KEYS[key].default;
    return undefined;
  }
  if (raw.secretKeys.has(key) || looksEncrypted(given)) {
    return `Invalid ${NAMESPACE}:${key} (secret value not shown): only ${SECRET_KEYS.join(", ")} may be set with --secret; this value is written in clear into the rendered config, so set it with "pulumi config set ${NAMESPACE}:${key} <value>".`;
  }
  const checked = checkValue(key, given, invalid);
  if ("problem" in checked) return checked.problem;
  draft[key] = checked.data;
  return undefined;
}

/**
 * Why a secret key's value is refused, or undefined. Its value is never kept: the program reads
 * it from Pulumi as a secret, the config only whether it is set.
 */
function secretKeyProblem(key: SecretName, raw: RawConfig, invalid: Invalid): string | undefined {
  const given = ownValue(raw.values, key);
  if (given === undefined) return undefined;
  if (given !== null) {
    if (!raw.secretKeys.has(key) && !looksEncrypted(given)) {
      return `Invalid ${NAMESPACE}:${key} (plain text): passwords must be set with "pulumi config set --secret ${NAMESPACE}:${key}", never stored in clear.`;
    }
    if (looksEncrypted(given)) {
      return isSecretReference(given)
        ? undefined
        : `Invalid ${NAMESPACE}:${key} (secret value not shown): an encrypted value is { secure: "<ciphertext>" } as "pulumi config set --secret" writes it.`;
    }
  }
  const checked = checkValue(key, given, invalid);
  return "problem" in checked ? checked.problem : undefined;
}

/** The keys that are none of ours: each an error, with the key it most likely meant. */
function unknownKeyProblems(values: RawConfig["values"]): string[] {
  const known: readonly string[] = KEY_NAMES;
  return Object.keys(values)
    .filter((key) => !known.includes(key))
    .map((key) => {
      if (key.includes(":")) return malformedKeyProblem(`${NAMESPACE}:${key}`, key);
      const guess = nearest(key, KEY_NAMES);
      return `Unknown config key ${printable(`${NAMESPACE}:${key}`)}: allowed keys are ${KEY_NAMES.join(", ")}.${guess ? ` Did you mean ${NAMESPACE}:${guess}?` : ""}`;
    });
}

/** The message of a refused value; a secret key's value, or one stored encrypted, is not shown. */
function invalidFor(raw: RawConfig): Invalid {
  const secret: readonly string[] = SECRET_KEYS;
  const hidden = (key: string) => secret.includes(key) || raw.secretKeys.has(key);
  return (key, value, allowed) =>
    `Invalid ${NAMESPACE}:${key} ${hidden(key) ? "(secret value not shown)" : jsonText(value)}: ${allowed}.`;
}

/** A stack's config read key by key. */
export interface ParsedConfig {
  readonly values: ConfigValues;
  /** The secret keys set in the stack config. */
  readonly supplied: ReadonlySet<SecretName>;
  /** The message of a value its key refuses, as the features word their rules. */
  readonly invalid: Invalid;
  /** Keys of other namespaces that look like ours, which are ignored. */
  readonly warnings: readonly string[];
}

/**
 * Reads every key of a stack's config. Throws a ConfigError listing every problem (key, value,
 * what is allowed): the stack name, unknown keys, refused values, secrets set in clear and clear
 * values set as secrets, keys of a misspelled namespace.
 */
export function parseConfig(raw: RawConfig): ParsedConfig {
  const invalid = invalidFor(raw);
  const problems: string[] = [...(raw.problems ?? [])];
  const stackProblem = stackNameProblem(raw.stack);
  if (stackProblem) problems.push(stackProblem);
  problems.push(...unknownKeyProblems(raw.values));
  const draft: Draft = Object.create(null);
  for (const key of KEY_NAMES) {
    const problem = isSecretName(key)
      ? secretKeyProblem(key, raw, invalid)
      : readPlainKey(draft, key, raw, invalid);
    if (problem) problems.push(problem);
  }
  const misplaced = (raw.otherNamespaceKeys ?? []).map(misplacedKey);
  problems.push(...misplaced.flatMap(({ problem }) => problem ?? []));
  if (problems.length > 0) throw new ConfigError(problems);
  if (!isComplete(draft)) throw new Error("A config key was neither read nor defaulted.");
  return {
    values: draft,
    supplied: new Set(SECRET_KEYS.filter((key) => ownValue(raw.values, key) !== undefined)),
    invalid,
    warnings: misplaced.flatMap(({ warning }) => warning ?? []),
  };
}
