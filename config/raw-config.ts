import { KEY_NAMES, NAMESPACE } from "./keys";
import { nearest, printable } from "./suggest";

/** A secret set in a stack file but not decrypted here (`{ secure: … }`): its value is unknown. */
export interface SecretReference {
  readonly secure: string;
}

/** Config as read from a stack file or the Pulumi engine: keys without the namespace. */
export interface RawConfig {
  readonly stack: string;
  /** Only own properties are read: a `__proto__` or `constructor` key is an unknown key. */
  readonly values: Readonly<Record<string, unknown>>;
  /** Keys whose values were stored encrypted (`pulumi config set --secret`). */
  readonly secretKeys: ReadonlySet<string>;
  /**
   * Full keys of other namespaces (`kubernetes:context`, `lowcode_redis:port`): ignored, but one
   * that looks like a misspelling of ours gets a warning.
   */
  readonly otherNamespaceKeys?: readonly string[];
  /** Problems found while reading (the file's shape, malformed or repeated keys), listed with the others. */
  readonly problems?: readonly string[];
}

/** A config key as Pulumi reads it (`<namespace>:<name>`). */
export interface ConfigKey {
  readonly namespace: string;
  readonly name: string;
}

/**
 * Parses a full config key as the Pulumi engine does (`config.ParseKey`): `<namespace>:<name>`,
 * or the legacy `<namespace>:config:<name>`; undefined for anything else (no colon, or more
 * segments), which Pulumi refuses.
 */
export function parseConfigKey(fullKey: string): ConfigKey | undefined {
  const parts = fullKey.split(":");
  if (parts.length === 2) return { namespace: parts[0], name: parts[1] };
  if (parts.length === 3 && parts[1] === "config" && parts[0] !== "" && parts[2] !== "")
    return { namespace: parts[0], name: parts[2] };
  return undefined;
}

/** The key of our namespace a malformed or misplaced key most likely meant, if one is close. */
export function meantKey(name: string): string | undefined {
  const known: readonly string[] = KEY_NAMES;
  const segments = name.split(":").filter((s) => s !== "" && s !== "config");
  const exact = segments.find((s) => known.includes(s));
  const guess = exact ?? segments.map((s) => nearest(s, known)).find((s) => s !== undefined);
  return guess === undefined ? undefined : `${NAMESPACE}:${guess}`;
}

/** The message of a key Pulumi cannot parse (`lowcode-redis:port:typo`, a bare `port`). */
export function malformedKeyProblem(fullKey: string, name: string): string {
  const meant = meantKey(name);
  return `Invalid config key ${printable(fullKey)}: a key is ${NAMESPACE}:<name> (or the legacy ${NAMESPACE}:config:<name>)${meant ? `; did you mean ${meant}?` : "."}`;
}

/** Whether a namespace looks like a misspelling of ours (lowcode_redis, Lowcode-Redis, lowcoderedis…). */
export function nearOurNamespace(namespace: string): boolean {
  const squashed = namespace.toLowerCase().replace(/[^a-z0-9]/g, "");
  const ours = NAMESPACE.replace(/[^a-z0-9]/g, "");
  return (
    namespace !== NAMESPACE &&
    (squashed === ours ||
      squashed.startsWith("lowcode") ||
      nearest(namespace, [NAMESPACE]) !== undefined ||
      nearest(squashed, [ours]) !== undefined)
  );
}

/** One entry of the config as read: its full key, its value, and whether it is stored encrypted. */
export type ConfigEntry = readonly [fullKey: string, value: unknown, secret: boolean];

/**
 * The RawConfig of a stack from every config entry (all namespaces), parsing keys as Pulumi does.
 * Shared by the stack-file reader and the Pulumi program, so both see the same keys. Values go
 * into a prototype-less record: a key such as `__proto__` is data, never the record's prototype.
 */
export function rawConfigFromEntries(
  stack: string,
  entries: Iterable<ConfigEntry>,
  problems: readonly string[] = [],
): RawConfig {
  const values: Record<string, unknown> = Object.create(null);
  const spelledAs = new Map<string, string>();
  const secretKeys = new Set<string>();
  const otherNamespaceKeys: string[] = [];
  const keyProblems = [...problems];
  for (const [fullKey, value, secret] of entries) {
    const key = parseConfigKey(fullKey);
    const colon = fullKey.indexOf(":");
    const namespace = key?.namespace ?? (colon >= 0 ? fullKey.slice(0, colon) : undefined);
    if (namespace !== NAMESPACE && namespace !== undefined) {
      otherNamespaceKeys.push(fullKey); // provider settings such as kubernetes:context
      continue;
    }
    if (!key) {
      keyProblems.push(
        malformedKeyProblem(fullKey, colon >= 0 ? fullKey.slice(colon + 1) : fullKey),
      );
      continue;
    }
    const earlier = spelledAs.get(key.name);
    if (earlier !== undefined) {
      keyProblems.push(
        `Config key ${printable(`${NAMESPACE}:${key.name}`)} is set twice, as ${printable(earlier)} and as ${printable(fullKey)}: keep one.`,
      );
      continue;
    }
    spelledAs.set(key.name, fullKey);
    values[key.name] = value;
    if (secret) secretKeys.add(key.name);
  }
  return { stack, values, secretKeys, otherNamespaceKeys, problems: keyProblems };
}
