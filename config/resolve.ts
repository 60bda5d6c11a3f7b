import { KEYS, KEY_NAMES, KeyName, KeySpec, NAMESPACE, SECRET_KEYS } from "./keys";
import { PROFILES, Profile, ProfileSettings } from "./profiles";
import { parseMemory, parseQuantity, toMebibytes } from "./units";

/** A secret set in a stack file but not decrypted here (`{ secure: … }`): its value is unknown. */
export interface SecretReference {
  readonly secure: string;
}

/** Config as read from a stack file or the Pulumi engine: keys without the namespace. */
export interface RawConfig {
  readonly stack: string;
  readonly values: Readonly<Record<string, unknown>>;
  /** Keys whose values were stored encrypted (`pulumi config set --secret`). */
  readonly secretKeys: ReadonlySet<string>;
}

export type DatabasePurpose =
  "sessions" | "flowCache" | "components" | "collaboration" | "rateLimiting" | "queryCache";
export type SecretName = "defaultPassword" | "appPassword" | "adminPassword";

/** Plain data every renderer, component and the sandbox work from. Holds no secret values. */
export interface ResolvedConfig {
  readonly stack: string;
  readonly target: "docker" | "kubernetes";
  readonly profile: Profile;
  readonly topology: "standalone" | "sentinel";
  readonly image: string;
  readonly port: number;
  readonly hostPort: number;
  /** Addresses of redis.conf's `bind`; the node's own address is added at start where the profile says so. */
  readonly bind: readonly string[];
  readonly security: ProfileSettings;
  readonly redis: {
    readonly maxmemory: string;
    readonly maxmemoryBytes: number;
    readonly maxmemoryPolicy: string;
    readonly maxmemorySamples: number;
    readonly maxclients: number;
    readonly tcpKeepalive: number;
    readonly appendonly: boolean;
    readonly appendfsync: string;
    readonly save: readonly string[];
    readonly activedefrag: boolean;
    readonly notifyKeyspaceEvents: string;
    readonly databases: number;
  };
  readonly resources: {
    readonly memoryLimit: string;
    readonly memoryLimitBytes: number;
    readonly cpuRequest: string;
  };
  readonly databaseIndex: Readonly<Record<DatabasePurpose, number>>;
  readonly kubernetes: {
    readonly namespace: string;
    readonly createNamespace: boolean;
    readonly storageSize: string;
    readonly storageClass: string;
    readonly antiAffinity: "soft" | "hard" | "none";
  };
  readonly docker: { readonly network: string; readonly subnet: string };
  readonly sentinel: {
    /** Redis nodes: 1 for standalone. */
    readonly nodes: number;
    readonly sentinels: number;
    readonly quorum: number;
    readonly masterName: string;
    readonly downAfterMs: number;
    readonly failoverTimeoutMs: number;
    readonly minReplicasToWrite: number;
    readonly minReplicasMaxLag: number;
  };
  /** Secrets set in the stack config; the others are generated. */
  readonly suppliedSecrets: readonly SecretName[];
  /** Settings that are valid but deserve a look (printed by the commands, logged by `pulumi up`). */
  readonly warnings: readonly string[];
}

export class ConfigError extends Error {
  constructor(public readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

const DATABASE_KEYS: Record<DatabasePurpose, KeyName> = {
  sessions: "dbSessions",
  flowCache: "dbFlowCache",
  components: "dbComponents",
  collaboration: "dbCollaboration",
  rateLimiting: "dbRateLimiting",
  queryCache: "dbQueryCache",
};

const MIN_MAXMEMORY = 1024 ** 2;
const MAX_MAXMEMORY = 64 * 1024 ** 3;
/** Share of the memory limit kept free for copy-on-write during BGSAVE / AOF rewrite. */
export const FORK_HEADROOM = 0.25;

function show(key: string, value: unknown): string {
  if ((SECRET_KEYS as string[]).includes(key)) return "(secret value not shown)";
  return JSON.stringify(value);
}

function invalid(key: string, value: unknown, allowed: string): string {
  return `Invalid ${NAMESPACE}:${key} ${show(key, value)}: ${allowed}.`;
}

function isSecretReference(value: unknown): value is SecretReference {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as SecretReference).secure === "string"
  );
}

/** Pulumi hands every value over as a string; turn it into the declared type where it parses. */
function coerce(spec: KeySpec, value: unknown): unknown {
  if (typeof value !== "string") return value;
  switch (spec.type) {
    case "integer":
      return /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    case "boolean":
      return value === "true" ? true : value === "false" ? false : value;
    case "array":
      if (value.trim().startsWith("[")) {
        try {
          return JSON.parse(value);
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
 * Validates raw stack config and resolves profile defaults. Throws a ConfigError listing every
 * problem (key, value, what is allowed) before anything is created.
 */
export function resolveConfig(raw: RawConfig): ResolvedConfig {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};

  for (const key of Object.keys(raw.values)) {
    if (!(KEY_NAMES as string[]).includes(key)) {
      problems.push(
        `Unknown config key ${NAMESPACE}:${key}: allowed keys are ${KEY_NAMES.join(", ")}.`,
      );
    }
  }
  for (const key of KEY_NAMES) {
    const spec: KeySpec = KEYS[key];
    const given = raw.values[key];
    if (given === undefined || given === null) {
      values[key] = spec.default;
      continue;
    }
    if (spec.secret) {
      if (!raw.secretKeys.has(key) && !isSecretReference(given)) {
        problems.push(
          `Invalid ${NAMESPACE}:${key} (plain text): passwords must be set with "pulumi config set --secret ${NAMESPACE}:${key}", never stored in clear.`,
        );
        continue;
      }
      if (isSecretReference(given)) {
        values[key] = given;
        continue;
      }
    }
    const value = coerce(spec, given);
    const result = spec.schema.safeParse(value);
    if (result.success) values[key] = result.data;
    else problems.push(invalid(key, given, result.error.issues[0]?.message ?? "is not valid"));
  }
  if (problems.length > 0) throw new ConfigError(problems);

  // Each value has passed its key's schema above.
  const v = values as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const profile = v.profile as Profile;
  const security = PROFILES[profile];
  const warnings: string[] = [];
  const sentinelTopology = v.topology === "sentinel";

  // Memory: maxmemory within bounds and under the container limit with fork headroom.
  const maxmemoryBytes = parseMemory(v.maxmemory)!;
  if (maxmemoryBytes < MIN_MAXMEMORY || maxmemoryBytes > MAX_MAXMEMORY) {
    problems.push(invalid("maxmemory", v.maxmemory, "must be between 1mb and 64gb"));
  }
  const memoryLimit =
    v.memoryLimit === "" ? toMebibytes(maxmemoryBytes * 2) : (v.memoryLimit as string);
  const memoryLimitBytes = parseQuantity(memoryLimit)!;
  const maxAllowed = Math.floor((memoryLimitBytes * (1 - FORK_HEADROOM)) / 1024 ** 2);
  if (maxmemoryBytes > memoryLimitBytes * (1 - FORK_HEADROOM)) {
    problems.push(
      invalid(
        "maxmemory",
        v.maxmemory,
        `must leave ${FORK_HEADROOM * 100}% of ${NAMESPACE}:memoryLimit "${memoryLimit}" free for forks (at most ${maxAllowed}mb)`,
      ),
    );
  }

  // Databases: one distinct index per purpose, each below the database count.
  const databaseIndex = {} as Record<DatabasePurpose, number>;
  const seen = new Map<number, string>();
  for (const [purpose, key] of Object.entries(DATABASE_KEYS) as [DatabasePurpose, KeyName][]) {
    const index = v[key] as number;
    if (index >= v.databases) {
      problems.push(invalid(key, index, `must be below ${NAMESPACE}:databases (${v.databases})`));
    } else if (seen.has(index)) {
      problems.push(
        invalid(
          key,
          index,
          `is already used by ${NAMESPACE}:${seen.get(index)}; each purpose needs its own database`,
        ),
      );
    }
    seen.set(index, key);
    databaseIndex[purpose] = index;
  }

  // Security of the profile.
  const bind = (v.bind as string[]).length > 0 ? (v.bind as string[]) : security.bind;
  if (profile === "production") {
    const open = bind.find((a) => ["0.0.0.0", "*", "-*", "::", "-::*"].includes(a));
    if (open)
      problems.push(
        invalid(
          "bind",
          v.bind,
          `the production profile binds specific addresses; "${open}" listens everywhere`,
        ),
      );
  }
  for (const key of SECRET_KEYS) {
    if (raw.values[key] === undefined) continue;
    const usedBy = key === "defaultPassword" ? "dev" : "production";
    if (usedBy !== profile) {
      problems.push(
        `Invalid ${NAMESPACE}:${key} (secret value not shown): used only by the ${usedBy} profile; this stack's profile is ${profile}.`,
      );
    }
  }

  // Sentinel group.
  const sentinels = v.sentinels as number;
  if (v.quorum > sentinels) {
    problems.push(
      invalid("quorum", v.quorum, `must be between 1 and the number of sentinels (${sentinels})`),
    );
  }
  if (sentinelTopology && profile === "production" && sentinels < 3) {
    problems.push(
      invalid(
        "sentinels",
        sentinels,
        "the production profile needs at least 3 sentinels, so that one can fail and a majority remains",
      ),
    );
  }
  if (v.failoverTimeoutMs < 2 * v.downAfterMs) {
    problems.push(
      invalid(
        "failoverTimeoutMs",
        v.failoverTimeoutMs,
        `must be at least twice ${NAMESPACE}:downAfterMs (${2 * v.downAfterMs})`,
      ),
    );
  }
  const nodes = sentinelTopology ? (v.replicas as number) : 1;
  const minReplicasToWrite =
    v.minReplicasToWrite === -1
      ? sentinelTopology
        ? security.minReplicasToWrite
        : 0
      : (v.minReplicasToWrite as number);
  if (minReplicasToWrite > nodes - 1) {
    problems.push(
      invalid(
        "minReplicasToWrite",
        v.minReplicasToWrite,
        `must be at most the number of replicas (${nodes - 1}), or the master refuses every write`,
      ),
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  if (sentinelTopology) {
    const majority = Math.floor(sentinels / 2) + 1;
    if (v.quorum < majority) {
      warnings.push(
        `${NAMESPACE}:quorum ${v.quorum} is below a majority of ${sentinels} sentinels (${majority}): fewer sentinels can flag the master down, but a failover still needs ${majority} to agree.`,
      );
    }
    if (sentinels % 2 === 0)
      warnings.push(
        `${NAMESPACE}:sentinels ${sentinels} is even: an odd number tolerates the same failures with one sentinel fewer.`,
      );
  }
  if ((v.maxmemoryPolicy as string).startsWith("allkeys-")) {
    warnings.push(
      `${NAMESPACE}:maxmemoryPolicy ${v.maxmemoryPolicy} may evict keys that have no TTL (flow:queue, ui:themes) when memory is full; keep such data small or use a volatile-* policy.`,
    );
  }

  return {
    stack: raw.stack,
    target: v.target,
    profile,
    topology: v.topology,
    image: v.redisImage,
    port: v.port,
    hostPort: v.hostPort,
    bind,
    security,
    redis: {
      maxmemory: v.maxmemory,
      maxmemoryBytes,
      maxmemoryPolicy: v.maxmemoryPolicy,
      maxmemorySamples: v.maxmemorySamples,
      maxclients: v.maxclients,
      tcpKeepalive: v.tcpKeepalive,
      appendonly: v.appendonly,
      appendfsync: v.appendfsync,
      save: v.save,
      activedefrag: v.activedefrag,
      notifyKeyspaceEvents: v.notifyKeyspaceEvents,
      databases: v.databases,
    },
    resources: { memoryLimit, memoryLimitBytes, cpuRequest: v.cpuRequest },
    databaseIndex,
    kubernetes: {
      namespace: v.namespace,
      createNamespace: v.createNamespace,
      storageSize: v.storageSize,
      storageClass: v.storageClass,
      antiAffinity: v.antiAffinity,
    },
    docker: { network: v.dockerNetwork, subnet: v.dockerSubnet },
    sentinel: {
      nodes,
      sentinels: sentinelTopology ? sentinels : 0,
      quorum: v.quorum,
      masterName: v.masterName,
      downAfterMs: v.downAfterMs,
      failoverTimeoutMs: v.failoverTimeoutMs,
      minReplicasToWrite,
      minReplicasMaxLag: v.minReplicasMaxLag,
    },
    suppliedSecrets: SECRET_KEYS.filter((k) => raw.values[k] !== undefined) as SecretName[],
    warnings,
  };
}
