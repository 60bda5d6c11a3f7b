import * as pulumi from "@pulumi/pulumi";
import { SuppliedSecrets } from "./components/secrets";
import { NAMESPACE, SECRET_KEYS } from "./config/keys";
import { parseConfigKey, rawConfigFromEntries } from "./config/raw-config";
import { ConfigError, ResolvedConfig, resolveConfig } from "./config/resolve";

/** Whether the engine passed a key as secret. The SDK exports this at run time but not in its types. */
function isConfigSecret(fullKey: string): boolean {
  const check = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean })
    .isConfigSecret;
  if (check) return check(fullKey);
  // Without the check, trust the value for the password keys (Config.getSecret still marks them
  // secret) and treat the others as plain.
  const key = parseConfigKey(fullKey);
  const secret: readonly string[] = SECRET_KEYS;
  return key?.namespace === NAMESPACE && secret.includes(key.name);
}

/**
 * The one place that reads the Pulumi stack config. Validates everything before any resource is
 * created; a bad value stops the program with the same message as `npm run render`.
 */
export function loadPulumiConfig(): { config: ResolvedConfig; secrets: SuppliedSecrets } {
  const entries = Object.entries(pulumi.runtime.allConfig()).map(
    ([fullKey, value]) => [fullKey, value, isConfigSecret(fullKey)] as const,
  );
  let config: ResolvedConfig;
  try {
    config = resolveConfig(rawConfigFromEntries(pulumi.getStack(), entries));
  } catch (err) {
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
  const stackConfig = new pulumi.Config(NAMESPACE);
  const secrets: SuppliedSecrets = {};
  for (const key of SECRET_KEYS) {
    const value = stackConfig.getSecret(key);
    if (value !== undefined) secrets[key] = value;
  }
  return { config, secrets };
}
