import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { NAMESPACE } from "./keys";
import { ConfigError, RawConfig, ResolvedConfig, resolveConfig } from "./resolve";

/**
 * Reads `Pulumi.<stack>.yaml` (or any file of that shape) as the Pulumi engine would hand it
 * to the program: keys of our namespace, without it. Secrets stay encrypted references.
 */
export function readStackFile(file: string, stack: string): RawConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([`Cannot read stack config ${file}: ${(err as Error).message}.`]);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError([`Stack config ${file} is not valid YAML: ${(err as Error).message}`]);
  }
  const config = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new ConfigError([`Stack config ${file}: "config" must be a mapping of keys to values.`]);
  }
  const values: Record<string, unknown> = {};
  const secretKeys = new Set<string>();
  for (const [fullKey, value] of Object.entries(config)) {
    const [ns, key] = fullKey.includes(":") ? fullKey.split(":", 2) : [NAMESPACE, fullKey];
    if (ns !== NAMESPACE) continue; // provider settings such as kubernetes:context
    values[key] = value;
    if (typeof value === "object" && value !== null && "secure" in value) secretKeys.add(key);
  }
  return { stack, values, secretKeys };
}

/** The stack file of the project root for `stack`, or `configFile` when given; validated. */
export function loadStackConfig(
  stack: string,
  configFile?: string,
  root = path.resolve(__dirname, ".."),
): ResolvedConfig {
  const file = configFile ?? path.join(root, `Pulumi.${stack}.yaml`);
  return resolveConfig(readStackFile(file, stack));
}
