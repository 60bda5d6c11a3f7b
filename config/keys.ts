import { BACKUP_KEYS } from "./backup";
import { CLIENT_LIMIT_KEYS } from "./client-limits";
import { CLUSTER_KEYS } from "./cluster";
import { COMMANDER_KEYS } from "./commander";
import { DATASET_KEYS } from "./dataset";
import { DEPLOYMENT_KEYS } from "./deployment";
import { DOCKER_KEYS } from "./docker";
import { IMAGE_KEYS } from "./images";
import { ANTI_AFFINITY_KEYS, KUBERNETES_KEYS } from "./kubernetes";
import { MEMORY_KEYS } from "./memory";
import { METRICS_KEYS } from "./metrics";
import { PLACEMENT_KEYS } from "./placement";
import { NETWORK_POLICY_KEYS } from "./network-policy";
import { KeySpec, KeyValue, keyNames } from "./schemas";
import { APP_CHANNEL_KEYS, BIND_KEYS, PASSWORD_KEYS } from "./security";
import { SENTINEL_KEYS } from "./sentinel";

export type { DeclaredType, KeySpec } from "./schemas";
export { NAMESPACE } from "./schemas";

/**
 * Every key of the `lowcode-redis` namespace, from the tables of the features. Pulumi.yaml
 * declares the same keys, types and defaults in this order (a unit test keeps the two in step),
 * which is why a feature may give its keys in more than one table; an unknown key is an error,
 * which catches typos. An empty value ("" or []) means "the profile's default" where the
 * description says so.
 */
export const KEYS = {
  ...DEPLOYMENT_KEYS,
  ...IMAGE_KEYS,
  ...BIND_KEYS,
  ...MEMORY_KEYS,
  ...CLIENT_LIMIT_KEYS,
  ...DATASET_KEYS,
  ...KUBERNETES_KEYS,
  ...DOCKER_KEYS,
  ...SENTINEL_KEYS,
  ...APP_CHANNEL_KEYS,
  ...ANTI_AFFINITY_KEYS,
  ...PLACEMENT_KEYS,
  ...PASSWORD_KEYS,
  ...BACKUP_KEYS,
  ...COMMANDER_KEYS,
  ...CLUSTER_KEYS,
  ...NETWORK_POLICY_KEYS,
  ...METRICS_KEYS,
} as const satisfies Record<string, KeySpec>;

export type KeyName = keyof typeof KEYS;
export const KEY_NAMES: readonly KeyName[] = keyNames(KEYS);

/** The keys set with `pulumi config set --secret`: their entries say `secret: true`. */
export type SecretName = {
  [K in KeyName]: (typeof KEYS)[K] extends { readonly secret: true } ? K : never;
}[KeyName];

/** The keys whose values the config reads and validates in clear. */
export type PlainKeyName = Exclude<KeyName, SecretName>;

export function isSecretName(key: KeyName): key is SecretName {
  const spec: KeySpec = KEYS[key];
  return spec.secret === true;
}

export const SECRET_KEYS: readonly SecretName[] = KEY_NAMES.filter(isSecretName);

/** The value of every key but the secrets, once each has passed its schema. */
export type ConfigValues = { readonly [K in PlainKeyName]: KeyValue<(typeof KEYS)[K]> };
