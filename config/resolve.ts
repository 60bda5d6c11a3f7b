import { parseBindAddress } from "./addresses";
import {
  ClientLimits,
  CostlyCommand,
  clientLimits,
  clientMemoryReserve,
  defaultProtoMaxBulkBytes,
  resolveClientLimits,
} from "./client-limits";
import { BACKUP_KEYS, BackupConfig, resolveBackup } from "./backup";
import { COMMANDER_KEYS, CommanderConfig, resolveCommander } from "./commander";
import { CLUSTER_KEYS, ClusterConfig, resolveCluster } from "./cluster";
import { METRICS_KEYS, MetricsConfig, resolveMetrics } from "./metrics";
import { NETWORK_POLICY_KEYS, NetworkPolicyConfig, resolveNetworkPolicy } from "./network-policy";
import { KEYS, KEY_NAMES, KeyName, KeySpec, NAMESPACE, SECRET_KEYS } from "./keys";
import { PROFILES, Profile, ProfileSettings } from "./profiles";
import { malformedKeyProblem, meantKey, nearOurNamespace, parseConfigKey } from "./raw-config";
import { editDistance, jsonText, nearest, printable } from "./suggest";
import { parseMemory, toMebibytes, wholeQuantity } from "./units";

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

export type DatabasePurpose =
  "sessions" | "flowCache" | "components" | "collaboration" | "rateLimiting" | "queryCache";
export type SecretName =
  | "defaultPassword"
  | "appPassword"
  | "appPasswordPrevious"
  | "adminPassword"
  | "backupS3AccessKeyId"
  | "backupS3SecretAccessKey"
  | "commanderPassword";
/** The password keys, each used by one profile. */
const PASSWORD_KEYS = [
  "defaultPassword",
  "appPassword",
  "appPasswordPrevious",
  "adminPassword",
] as const;

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
    /** Sentinel group: the master's replica output buffer limit and backlog (see `replicationBuffers`). */
    readonly replicationBuffers: ReplicationBuffers;
    /** What one client may hold or make, and all clients together (config/client-limits.ts). */
    readonly clients: ClientLimits;
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
    readonly sentinelStorageSize: string;
    readonly storageClass: string;
    readonly antiAffinity: "soft" | "hard" | "none";
    /** DNS domain of the cluster: pods and Services are `<name>.<namespace>.svc.<clusterDomain>`. */
    readonly clusterDomain: string;
  };
  readonly docker: {
    readonly network: string;
    readonly subnet: string;
    /** Create the network (true), or join the existing network of that name, whose subnet is `subnet`. */
    readonly createNetwork: boolean;
  };
  /** Pub/sub channel patterns the app user may publish and subscribe to (besides keyspace events). */
  readonly appChannels: readonly string[];
  /** Commands withheld from the app user: one call could hold a node for seconds. */
  readonly appDeniedCommands: readonly CostlyCommand[];
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
  /** Scheduled backups, off-site copies and the restore of a new deployment (config/backup.ts). */
  readonly backup: BackupConfig;
  /** Redis Commander and RedisInsight (config/commander.ts). */
  readonly commander: CommanderConfig;
  /** Kubernetes: the applications' connection Secret, and rendering instead of applying (config/cluster.ts). */
  readonly cluster: ClusterConfig;
  /** Kubernetes: the NetworkPolicies around the pods (config/network-policy.ts). */
  readonly networkPolicy: NetworkPolicyConfig;
  /** Kubernetes: exporters, ServiceMonitor and alerts (config/metrics.ts). */
  readonly metrics: MetricsConfig;
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

/** Docker publishes sentinel i on this port + i (render/sentinel.ts SENTINEL_PORT). */
const DOCKER_SENTINEL_FIRST_PORT = 26379;
const MIN_MAXMEMORY = 1024 ** 2;
const MAX_MAXMEMORY = 64 * 1024 ** 3;
const MIB = 1024 ** 2;

/**
 * What a Redis container holds at its peak, and so what its memory limit must cover:
 *
 *   memoryLimit >= maxmemory + fork headroom + maxmemory-clients
 *                  + (nodes - 1) x replica buffer + backlog
 *
 * - maxmemory: the dataset.
 * - Fork headroom: BGSAVE, AOF rewrite and a replica's full sync fork a child that shares every
 *   page with Redis until Redis writes to it (copy-on-write): each page written while the child
 *   runs exists twice, at worst the whole dataset. The default limit gives maxmemory; a limit set
 *   in the config must give at least FORK_HEADROOM of what the buffers leave (a third of
 *   maxmemory).
 * - Replica buffer: from the fork of a full sync until the replica has loaded the snapshot, the
 *   master keeps the writes for that replica in its output buffer, outside maxmemory (evicting
 *   for it would only feed it). `client-output-buffer-limit replica` disconnects a replica past
 *   the hard limit, so the hard limit bounds it. Redis's default, 256mb whatever the dataset, is
 *   more than a small node's dataset and too little for a large one, whose sync takes longer:
 *   the hard limit is a quarter of maxmemory (whole mb), the soft limit half of that for 60 s.
 * - Backlog: `repl-backlog-size`, Redis's default 1mb, written out so that the sum rests on no
 *   default.
 * - Clients: `maxmemory-clients` (config/client-limits.ts). Client buffers count towards
 *   maxmemory, so with an eviction policy they push keys out rather than grow the process; under
 *   `noeviction`, or within the command that grows them, they can stand above maxmemory, by at
 *   most this much.
 * Redis 7 keeps the backlog and the replicas' buffers in one shared replication buffer, so the
 * real peak is nearer one buffer than the sum; the sum bounds it without relying on that.
 * A standalone server has no replicas: its limit is maxmemory and the fork headroom.
 */
export interface ReplicationBuffers {
  /** `client-output-buffer-limit replica <hard> <soft> <seconds>`, in mb. */
  readonly replicaHardMb: number;
  readonly replicaSoftMb: number;
  readonly replicaSoftSeconds: number;
  /** `repl-backlog-size`, in mb. */
  readonly backlogMb: number;
  /** What the memory limit sets aside for them: (nodes - 1) x hard + backlog; 0 standalone. */
  readonly reservedBytes: number;
}

/** Share of the memory limit, after the replication buffers, kept free for copy-on-write. */
export const FORK_HEADROOM = 0.25;

/** The replication buffers of a node with `maxmemoryBytes` in a group of `nodes` (1: standalone). */
export function replicationBuffers(maxmemoryBytes: number, nodes: number): ReplicationBuffers {
  const replicaHardMb = Math.max(1, Math.ceil(maxmemoryBytes / 4 / MIB));
  const backlogMb = 1;
  return {
    replicaHardMb,
    replicaSoftMb: Math.ceil(replicaHardMb / 2),
    replicaSoftSeconds: 60,
    backlogMb,
    reservedBytes: nodes > 1 ? ((nodes - 1) * replicaHardMb + backlogMb) * MIB : 0,
  };
}

/**
 * What the memory limit sets aside beside maxmemory and the fork headroom, for a node of
 * `maxmemoryBytes`: the replication buffers and the clients' memory.
 */
type ReservedFor = (maxmemoryBytes: number) => number;

/** The reserve of a group of `nodes` whose clients' bound is `clientsBytes(maxmemory)`. */
function reserveOf(nodes: number, clientsBytes: (maxmemoryBytes: number) => number): ReservedFor {
  return (maxmemoryBytes) =>
    replicationBuffers(maxmemoryBytes, nodes).reservedBytes + clientsBytes(maxmemoryBytes);
}

/** Whether maxmemory, its reserve and the fork headroom fit in the limit. */
function fitsMemoryLimit(maxmemoryBytes: number, reserved: ReservedFor, limitBytes: number) {
  return maxmemoryBytes <= (limitBytes - reserved(maxmemoryBytes)) * (1 - FORK_HEADROOM);
}

/** The largest maxmemory in whole mb that fits in the limit (0 when none does). */
function largestFittingMaxmemoryMb(reserved: ReservedFor, limitBytes: number): number {
  // The reserve grows with maxmemory: start from the limit's share and step down to the edge.
  let mb = Math.max(0, Math.floor((limitBytes / MIB) * (1 - FORK_HEADROOM)));
  while (mb > 0 && !fitsMemoryLimit(mb * MIB, reserved, limitBytes)) mb--;
  return mb;
}

/** Redis binds at most 16 addresses (CONFIG_BINDADDR_MAX). */
const REDIS_MAX_BIND = 16;

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
    typeof (value as SecretReference).secure === "string" &&
    (value as SecretReference).secure.length > 0 &&
    !CONTROL.test((value as SecretReference).secure)
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
function coerce(spec: KeySpec, value: unknown): unknown {
  if (typeof value !== "string") return value;
  switch (spec.type) {
    case "integer":
      return /^-?(0|[1-9]\d{0,15})$/.test(value) ? Number(value) : value;
    case "boolean":
      return value === "true" ? true : value === "false" ? false : value;
    case "array":
      if (value.startsWith("[")) {
        try {
          return JSON.parse(value) as unknown;
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
 * Validates raw stack config and resolves profile defaults. Throws a ConfigError listing every
 * problem (key, value, what is allowed) before anything is created.
 */
export function resolveConfig(raw: RawConfig): ResolvedConfig {
  const problems: string[] = [...(raw.problems ?? [])];
  const values: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const hidden = (key: string) =>
    (SECRET_KEYS as string[]).includes(key) || raw.secretKeys.has(key);
  const show = (key: string, value: unknown) =>
    hidden(key) ? "(secret value not shown)" : jsonText(value);
  const invalid = (key: string, value: unknown, allowed: string) =>
    `Invalid ${NAMESPACE}:${key} ${show(key, value)}: ${allowed}.`;

  const stackProblem = stackNameProblem(raw.stack);
  if (stackProblem) problems.push(stackProblem);
  for (const key of Object.keys(raw.values)) {
    if ((KEY_NAMES as string[]).includes(key)) continue;
    if (key.includes(":")) {
      problems.push(malformedKeyProblem(`${NAMESPACE}:${key}`, key));
      continue;
    }
    const guess = nearest(key, KEY_NAMES);
    problems.push(
      `Unknown config key ${printable(`${NAMESPACE}:${key}`)}: allowed keys are ${KEY_NAMES.join(", ")}.${guess ? ` Did you mean ${NAMESPACE}:${guess}?` : ""}`,
    );
  }
  for (const key of KEY_NAMES) {
    const spec: KeySpec = KEYS[key];
    const given = ownValue(raw.values, key);
    if (given === undefined) {
      values[key] = spec.default;
      continue;
    }
    if (!spec.secret && (raw.secretKeys.has(key) || looksEncrypted(given))) {
      problems.push(
        `Invalid ${NAMESPACE}:${key} (secret value not shown): only ${SECRET_KEYS.join(", ")} may be set with --secret; this value is written in clear into the rendered config, so set it with "pulumi config set ${NAMESPACE}:${key} <value>".`,
      );
      continue;
    }
    if (spec.secret && given !== null) {
      if (!raw.secretKeys.has(key) && !looksEncrypted(given)) {
        problems.push(
          `Invalid ${NAMESPACE}:${key} (plain text): passwords must be set with "pulumi config set --secret ${NAMESPACE}:${key}", never stored in clear.`,
        );
        continue;
      }
      if (looksEncrypted(given)) {
        if (isSecretReference(given)) values[key] = given;
        else
          problems.push(
            `Invalid ${NAMESPACE}:${key} (secret value not shown): an encrypted value is { secure: "<ciphertext>" } as "pulumi config set --secret" writes it.`,
          );
        continue;
      }
    }
    const value = coerce(spec, given);
    if (holdsControlCharacter(value)) {
      problems.push(
        invalid(
          key,
          given,
          "must not hold control characters (U+0000 to U+001F, U+007F: line breaks, tabs…), which would split or hide a line of the rendered config",
        ),
      );
      continue;
    }
    const result = spec.schema.safeParse(value);
    if (result.success) values[key] = result.data;
    else problems.push(invalid(key, given, result.error.issues[0]?.message ?? "is not valid"));
  }
  for (const fullKey of raw.otherNamespaceKeys ?? []) {
    const { problem } = misplacedKey(fullKey);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  // Each value has passed its key's schema above.
  const v = values as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const profile = v.profile as Profile;
  const security = PROFILES[profile];
  const warnings: string[] = [];
  const sentinelTopology = v.topology === "sentinel";
  const nodes = sentinelTopology ? (v.replicas as number) : 1;

  // Memory: maxmemory within bounds; the container limit holds it, the replication buffers, the
  // clients' memory and the fork headroom (see ReplicationBuffers).
  const maxmemoryBytes = parseMemory(v.maxmemory)!;
  if (maxmemoryBytes < MIN_MAXMEMORY || maxmemoryBytes > MAX_MAXMEMORY) {
    problems.push(invalid("maxmemory", v.maxmemory, "must be between 1mb and 64gb"));
  }
  const clients = resolveClientLimits(
    { protoMaxBulkLen: v.protoMaxBulkLen, appDeniedCommands: v.appDeniedCommands },
    { maxmemoryBytes, maxmemory: v.maxmemory, maxclients: v.maxclients },
    invalid,
  );
  problems.push(...clients.problems);
  const clientsBytes = (m: number) =>
    clientMemoryReserve(
      v.protoMaxBulkLen === ""
        ? clientLimits(defaultProtoMaxBulkBytes(m), v.maxclients)
        : clients.limits,
      m,
      v.maxmemoryPolicy,
    );
  const reserved = reserveOf(nodes, clientsBytes);
  const buffers = replicationBuffers(maxmemoryBytes, nodes);
  const memoryLimit =
    v.memoryLimit === ""
      ? toMebibytes(maxmemoryBytes * 2 + reserved(maxmemoryBytes))
      : (v.memoryLimit as string);
  const memoryLimitBytes = Number(wholeQuantity(memoryLimit)!);
  if (!fitsMemoryLimit(maxmemoryBytes, reserved, memoryLimitBytes)) {
    const limit = `${NAMESPACE}:memoryLimit "${memoryLimit}"`;
    const atMost = `at most ${largestFittingMaxmemoryMb(reserved, memoryLimitBytes)}mb`;
    const percent = FORK_HEADROOM * 100;
    const clientsMb = `${toMebibytes(clientsBytes(maxmemoryBytes)).replace("Mi", "mb")} for the clients`;
    const aside =
      nodes === 1
        ? clientsMb
        : `${clientsMb} and ${buffers.reservedBytes / MIB}mb of replication buffers (${nodes - 1} replicas x ${buffers.replicaHardMb}mb, a quarter of maxmemory, + ${buffers.backlogMb}mb backlog)`;
    problems.push(
      invalid(
        "maxmemory",
        v.maxmemory,
        `must leave, after ${aside}, ${percent}% of the rest of ${limit} free for forks (${atMost})`,
      ),
    );
  }

  // The data volume holds the RDB and AOF files of the whole dataset.
  const storageBytes = Number(wholeQuantity(v.storageSize as string)!);
  if (v.target === "kubernetes" && storageBytes < maxmemoryBytes) {
    problems.push(
      invalid(
        "storageSize",
        v.storageSize,
        `must be at least ${NAMESPACE}:maxmemory "${v.maxmemory}" (${toMebibytes(maxmemoryBytes)}): the volume holds the RDB and AOF files of the whole dataset`,
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
    // Compared by address, not spelling: "::0", "0:0:0:0:0:0:0:0", "-::*" all listen everywhere.
    const open = bind.find((a) => {
      const address = parseBindAddress(a);
      return "wildcard" in address && address.wildcard;
    });
    if (open)
      problems.push(
        invalid(
          "bind",
          v.bind,
          `the production profile binds specific addresses; "${open}" listens everywhere`,
        ),
      );
  }
  if (security.bindNodeAddress && bind.length > REDIS_MAX_BIND - 1) {
    problems.push(
      invalid(
        "bind",
        v.bind,
        `must list at most ${REDIS_MAX_BIND - 1} addresses: the ${profile} profile adds the node's own address, and Redis binds at most ${REDIS_MAX_BIND}`,
      ),
    );
  }
  for (const key of PASSWORD_KEYS) {
    if (ownValue(raw.values, key) === undefined) continue;
    const usedBy = key === "defaultPassword" ? "dev" : "production";
    if (usedBy !== profile) {
      problems.push(
        `Invalid ${NAMESPACE}:${key} (secret value not shown): used only by the ${usedBy} profile; this stack's profile is ${profile}.`,
      );
    }
  }

  // Docker publishes node i on hostPort + i and sentinel i on 26379 + i (127.0.0.1).
  if (v.target === "docker" && nodes > 1) {
    const last = (v.hostPort as number) + nodes - 1;
    const sentinelFirst = DOCKER_SENTINEL_FIRST_PORT;
    const sentinelLast = sentinelFirst + (v.sentinels as number) - 1;
    if (last > 65535) {
      problems.push(
        invalid(
          "hostPort",
          v.hostPort,
          `must leave room for ${nodes} nodes on hostPort + 0…${nodes - 1} (at most ${65536 - nodes})`,
        ),
      );
    } else if (v.hostPort <= sentinelLast && last >= sentinelFirst) {
      problems.push(
        invalid(
          "hostPort",
          v.hostPort,
          `publishes the nodes on ${v.hostPort}-${last}, which overlaps the sentinels' ${sentinelFirst}-${sentinelLast}`,
        ),
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
  const supplied = new Set(SECRET_KEYS.filter((k) => ownValue(raw.values, k) !== undefined));
  const backup = resolveBackup(
    Object.fromEntries(Object.keys(BACKUP_KEYS).map((k) => [k, v[k]])) as Parameters<
      typeof resolveBackup
    >[0],
    { target: v.target, maxmemoryBytes, maxmemory: v.maxmemory, supplied },
    invalid,
  );
  problems.push(...backup.problems);
  warnings.push(...backup.warnings);
  const published = new Map<number, string>();
  if (v.target === "docker") {
    for (let i = 0; i < nodes; i++)
      published.set((v.hostPort as number) + i, `Redis node ${i} (hostPort + ${i})`);
    if (sentinelTopology)
      for (let i = 0; i < sentinels; i++)
        published.set(DOCKER_SENTINEL_FIRST_PORT + i, `sentinel ${i}`);
  }
  const commander = resolveCommander(
    Object.fromEntries(Object.keys(COMMANDER_KEYS).map((k) => [k, v[k]])) as Parameters<
      typeof resolveCommander
    >[0],
    {
      target: v.target,
      profile,
      profileReadOnly: security.commanderReadOnly,
      publishedPorts: published,
      supplied,
    },
    invalid,
  );
  problems.push(...commander.problems);
  warnings.push(...commander.warnings);
  const cluster = resolveCluster(
    Object.fromEntries(Object.keys(CLUSTER_KEYS).map((k) => [k, v[k]])) as Parameters<
      typeof resolveCluster
    >[0],
    { target: v.target, namespace: v.namespace, restores: backup.backup.restore !== undefined },
    invalid,
  );
  problems.push(...cluster.problems);
  const networkPolicy = resolveNetworkPolicy(
    Object.fromEntries(Object.keys(NETWORK_POLICY_KEYS).map((k) => [k, v[k]])) as Parameters<
      typeof resolveNetworkPolicy
    >[0],
    {
      target: v.target,
      profile,
      profileDefault: security.networkPolicy,
      appSecretNamespaces: cluster.cluster.appSecretNamespaces,
      namespace: v.namespace,
      clusterDomain: v.clusterDomain,
      offsiteEndpoint: backup.backup.offsite?.endpoint,
    },
    invalid,
  );
  problems.push(...networkPolicy.problems);
  warnings.push(...networkPolicy.warnings);
  const metrics = resolveMetrics(
    Object.fromEntries(Object.keys(METRICS_KEYS).map((k) => [k, v[k]])) as Parameters<
      typeof resolveMetrics
    >[0],
    { target: v.target },
    invalid,
  );
  problems.push(...metrics.problems);
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
  for (const fullKey of raw.otherNamespaceKeys ?? []) {
    const { warning } = misplacedKey(fullKey);
    if (warning) warnings.push(warning);
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
      replicationBuffers: buffers,
      clients: clients.limits,
    },
    resources: { memoryLimit, memoryLimitBytes, cpuRequest: v.cpuRequest },
    databaseIndex,
    kubernetes: {
      namespace: v.namespace,
      createNamespace: v.createNamespace,
      storageSize: v.storageSize,
      sentinelStorageSize: v.sentinelStorageSize,
      storageClass: v.storageClass,
      antiAffinity: v.antiAffinity,
      clusterDomain: v.clusterDomain,
    },
    docker: {
      network: v.dockerNetwork,
      subnet: v.dockerSubnet,
      createNetwork: v.dockerNetworkCreate,
    },
    appChannels: v.appChannels,
    appDeniedCommands: clients.appDeniedCommands,
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
    backup: backup.backup,
    commander: commander.commander,
    cluster: cluster.cluster,
    networkPolicy: networkPolicy.networkPolicy,
    metrics: metrics.metrics,
    suppliedSecrets: SECRET_KEYS.filter((k) => supplied.has(k)) as SecretName[],
    warnings,
  };
}
