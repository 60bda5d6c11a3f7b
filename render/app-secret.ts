import { DatabasePurpose, ResolvedConfig } from "../config/resolve";
import { Endpoint, clientSettings, credentials } from "./connection";
import { K8sObject, labels } from "./kubernetes";
import { SecretValues } from "./redis-conf";

/**
 * The applications' connection Secret (Kubernetes): what a NestJS/ioredis pod needs as environment
 * variables, in every namespace of `appSecretNamespaces`, so services read it with `envFrom` and
 * nobody copies a password by hand. The same keys for every stack; a standalone server has
 * REDIS_HOST/REDIS_PORT, a group REDIS_SENTINELS and REDIS_MASTER_NAME.
 */

const DATABASE_VARIABLES: Readonly<Record<DatabasePurpose, string>> = {
  sessions: "REDIS_DB_SESSIONS",
  flowCache: "REDIS_DB_FLOW_CACHE",
  components: "REDIS_DB_COMPONENTS",
  collaboration: "REDIS_DB_COLLABORATION",
  rateLimiting: "REDIS_DB_RATE_LIMITING",
  queryCache: "REDIS_DB_QUERY_CACHE",
};

export function appSecretName(name: string): string {
  return `${name}-connection`;
}

/** Where the applications reach Redis: the first node (standalone) or every sentinel. */
export interface AppEndpoints {
  readonly redis: Endpoint;
  readonly sentinels: readonly Endpoint[];
}

/** The variables of the Secret, by name. */
export function appConnectionEnv(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  endpoints: AppEndpoints,
): Record<string, string> {
  const app = credentials(cfg, secrets, "app");
  const client = clientSettings(cfg);
  const place: Record<string, string> =
    cfg.topology === "sentinel"
      ? {
          REDIS_SENTINELS: endpoints.sentinels.map((e) => `${e.host}:${e.port}`).join(","),
          REDIS_MASTER_NAME: cfg.sentinel.masterName,
          REDIS_SENTINEL_USERNAME: credentials(cfg, secrets, "sentinel-client").username,
          REDIS_SENTINEL_PASSWORD: credentials(cfg, secrets, "sentinel-client").password,
          REDIS_SENTINEL_COMMAND_TIMEOUT_MS: String(client.sentinelCommandTimeoutMs),
        }
      : { REDIS_HOST: endpoints.redis.host, REDIS_PORT: String(endpoints.redis.port) };
  return {
    ...place,
    REDIS_USERNAME: app.username,
    REDIS_PASSWORD: app.password,
    REDIS_CONNECT_TIMEOUT_MS: String(client.connectTimeoutMs),
    REDIS_COMMAND_TIMEOUT_MS: String(client.commandTimeoutMs),
    REDIS_MAX_RETRIES_PER_REQUEST: String(client.maxRetriesPerRequest),
    REDIS_RETRY_BASE_DELAY_MS: String(client.retryBaseDelayMs),
    REDIS_RETRY_MAX_DELAY_MS: String(client.retryMaxDelayMs),
    ...Object.fromEntries(
      (Object.keys(DATABASE_VARIABLES) as DatabasePurpose[]).map((purpose) => [
        DATABASE_VARIABLES[purpose],
        String(cfg.databaseIndex[purpose]),
      ]),
    ),
  };
}

/** One Secret per namespace of `appSecretNamespaces`, without data (the component adds it). */
export function appSecretObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  return cfg.cluster.appSecretNamespaces.map((namespace) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: appSecretName(name), namespace, labels: labels(name, "connection") },
    type: "Opaque",
  }));
}
