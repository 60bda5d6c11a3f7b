import * as pulumi from "@pulumi/pulumi";
import { SuppliedSecrets } from "../components/secrets";
import { NAMESPACE, SECRET_KEYS } from "./keys";
import { ConfigError, ResolvedConfig, SecretName, resolveConfig } from "./resolve";

/** Whether the engine passed a key as secret. The SDK exports this at run time but not in its types. */
function isConfigSecret(fullKey: string): boolean {
  const check = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean })
    .isConfigSecret;
  // Without the check, trust the value: Config.getSecret still marks it secret.
  return check ? check(fullKey) : true;
}

/**
 * The one place that reads the Pulumi stack config. Validates everything before any resource is
 * created; a bad value stops the program with the same message as `npm run render`.
 */
export function loadPulumiConfig(): { config: ResolvedConfig; secrets: SuppliedSecrets } {
  const all = pulumi.runtime.allConfig();
  const values: Record<string, unknown> = {};
  const secretKeys = new Set<string>();
  for (const [fullKey, value] of Object.entries(all)) {
    const [ns, key] = fullKey.split(":", 2);
    if (ns !== NAMESPACE) continue;
    values[key] = value;
    if (isConfigSecret(fullKey)) secretKeys.add(key);
  }
  let config: ResolvedConfig;
  try {
    config = resolveConfig({ stack: pulumi.getStack(), values, secretKeys });
  } catch (err) {
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
  const stackConfig = new pulumi.Config(NAMESPACE);
  const secrets: SuppliedSecrets = {};
  for (const key of SECRET_KEYS as SecretName[]) {
    const value = stackConfig.getSecret(key);
    if (value !== undefined) secrets[key] = value;
  }
  return { config, secrets };
}
