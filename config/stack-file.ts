import * as fs from "node:fs";
import * as path from "node:path";
import { Document, isAlias, isCollection, isMap, isScalar, parseDocument, visit } from "yaml";
import { NAMESPACE, SECRET_KEYS } from "./keys";
import { PulumiRefuses, pulumiConfigText } from "./pulumi-value";
import { ConfigEntry, rawConfigFromEntries } from "./raw-config";
import { ConfigError } from "./config-error";
import { stackNameProblem } from "./parse";
import { RawConfig } from "./raw-config";
import { ResolvedConfig, resolveConfig } from "./resolve";
import { jsonText, nearest, printable } from "./suggest";

/** The top-level keys of a Pulumi stack settings file. */
export const STACK_FILE_KEYS = [
  "config",
  "secretsprovider",
  "encryptedkey",
  "encryptionsalt",
  "environment",
] as const;

/** What a YAML value is, for a message. */
function describe(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "a list";
  if (value instanceof Set) return "a set";
  if (value instanceof Map) return "an ordered map";
  if (value instanceof Uint8Array) return "binary data";
  if (typeof value === "object") return "an object";
  return `a ${typeof value} (${jsonText(value).slice(0, 40)})`;
}

/** An object's prototype (`Object.getPrototypeOf` is typed `any`). */
const prototypeOf = (value: object): object | null => Object.getPrototypeOf(value);

const isPlainMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" &&
  value !== null &&
  [Object.prototype, null].includes(prototypeOf(value));

/** The value nodes of the file's config mapping, by key as the file's object has them. */
function configValueNodes(doc: Document): Map<string, unknown> {
  let config: unknown = doc.get("config", true);
  if (isAlias(config)) config = config.resolve(doc);
  const nodes = new Map<string, unknown>();
  if (!isMap(config)) return nodes;
  for (const pair of config.items)
    if (isScalar(pair.key)) nodes.set(String(pair.key.value), pair.value);
  return nodes;
}

/**
 * Reads `Pulumi.<stack>.yaml` (or any file of that shape) as the Pulumi engine would hand it
 * to the program: keys of our namespace, without it. Secrets stay encrypted references. A file
 * that is not a stack config is refused, never read as "all defaults".
 */
export function readStackFile(file: string, stack: string): RawConfig {
  const where = `Stack config ${file}`;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(fs.readFileSync(file));
  } catch (err) {
    const reason =
      err instanceof TypeError
        ? "it is not UTF-8 text"
        : err instanceof Error
          ? err.message
          : String(err);
    throw new ConfigError([`Cannot read stack config ${file}: ${reason}.`]);
  }
  // Messages give the position, never the source line: it may hold a password.
  const at = (offset: number) => {
    const before = text.slice(0, offset).split("\n");
    return `line ${before.length}, column ${before[before.length - 1].length + 1}`;
  };
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    throw new ConfigError([`${where} is not valid YAML: ${err.message} at ${at(err.pos[0])}.`]);
  }
  // An unknown tag (`!foo 6379`) would silently be read as a plain value.
  const problems: string[] = doc.warnings.map((w) => `${where}: ${w.message} at ${at(w.pos[0])}.`);
  visit(doc, {
    Pair(_, pair) {
      if (isCollection(pair.key))
        throw new ConfigError([
          `${where}: a key must be a plain name, not a list or mapping (at ${at(pair.key.range?.[0] ?? 0)}).`,
        ]);
    },
  });
  let top: unknown;
  try {
    top = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // A nest of aliases that would expand without bound ("billion laughs").
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError([`${where} is not a stack config: ${reason}.`]);
  }
  if (!isPlainMapping(top)) {
    throw new ConfigError([
      `${where} is not a stack config: it is ${doc.contents === null ? "empty" : describe(top)}, not a mapping with a "config" mapping of ${NAMESPACE}:<key> values.`,
    ]);
  }
  for (const key of Object.keys(top)) {
    if (STACK_FILE_KEYS.some((known) => known === key)) continue;
    const guess = nearest(key, STACK_FILE_KEYS);
    problems.push(
      `${where}: unknown top-level key ${printable(key)}${guess ? `; did you mean ${guess}?` : "."} A stack file holds ${STACK_FILE_KEYS.join(", ")}.`,
    );
  }
  const config = Object.hasOwn(top, "config") ? top.config : undefined;
  if (config === undefined) {
    throw new ConfigError([
      ...problems,
      `${where} has no "config" mapping: a stack file sets its keys under config (${NAMESPACE}:<key>: <value>).`,
    ]);
  }
  if (!isPlainMapping(config)) {
    throw new ConfigError([
      ...problems,
      `${where}: "config" must be a mapping of keys to values, not ${describe(config)}.`,
    ]);
  }
  const nodes = configValueNodes(doc);
  const entries: ConfigEntry[] = [];
  for (const [fullKey, value] of Object.entries(config)) {
    const secret = typeof value === "object" && value !== null && Object.hasOwn(value, "secure");
    // Every other value as the Pulumi engine hands it to the program: a string.
    if (secret || !nodes.has(fullKey)) entries.push([fullKey, value, secret]);
    else {
      const node = nodes.get(fullKey);
      const shown = SECRET_KEYS.some((k) => fullKey.endsWith(`:${k}`))
        ? "(secret value not shown)"
        : isScalar(node)
          ? jsonText(node.source ?? node.value)
          : `(${describe(value)})`;
      try {
        entries.push([fullKey, pulumiConfigText(node, doc), false]);
      } catch (err) {
        if (!(err instanceof PulumiRefuses)) throw err;
        problems.push(`Invalid ${printable(fullKey)} ${shown}: ${err.message}.`);
      }
    }
  }
  return rawConfigFromEntries(stack, entries, problems);
}

/** The stack file of the project root for `stack`, or `configFile` when given; validated. */
export function loadStackConfig(
  stack: string,
  configFile?: string,
  root = path.resolve(__dirname, ".."),
): ResolvedConfig {
  // The name becomes part of a path: refuse it before reading anything.
  const stackProblem = stackNameProblem(stack);
  if (stackProblem) throw new ConfigError([stackProblem]);
  const file = configFile ?? path.join(root, `Pulumi.${stack}.yaml`);
  return resolveConfig(readStackFile(file, stack));
}
