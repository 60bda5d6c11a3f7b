import { z } from "zod";
import { parseMemory, parseQuantity } from "./units";

/** The Pulumi config namespace of every key (`lowcode-redis:<key>`). */
export const NAMESPACE = "lowcode-redis";

/** Raw value types the Pulumi project file can declare. */
export type DeclaredType = "string" | "integer" | "boolean" | "array";

export interface KeySpec {
  /** Type declared in Pulumi.yaml. */
  readonly type: DeclaredType;
  /** One line for Pulumi.yaml and the README. */
  readonly description: string;
  /** Default declared in Pulumi.yaml; `undefined` for secrets (generated when unset). */
  readonly default: unknown;
  /** Validates one value; its messages say what is allowed. */
  readonly schema: z.ZodType;
  /** Set with `pulumi config set --secret`; never echoed in errors. */
  readonly secret?: boolean;
}

const int = (min: number, max: number) =>
  z
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` });

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(", ")}` });

const bool = z.boolean({ error: "must be true or false" });

const memory = (what: string) =>
  z
    .string({ error: `must be a ${what} such as "384mb"` })
    .refine((v) => parseMemory(v) !== undefined, {
      error: `must be a ${what}: a whole number with a unit b, kb, mb or gb (e.g. "384mb")`,
    });

const quantity = (example: string) =>
  z
    .string({ error: `must be a Kubernetes quantity such as "${example}"` })
    .refine((v) => parseQuantity(v) !== undefined, {
      error: `must be a Kubernetes quantity such as "${example}" (binary suffixes Ki, Mi, Gi or decimal k, M, G)`,
    });

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^-?[0-9a-fA-F:]*:[0-9a-fA-F:]*$/;
const bindAddress = z
  .string()
  .refine((v) => IPV4.test(v.replace(/^-/, "")) || IPV6.test(v) || v === "*" || v === "-*", {
    error: 'must be IPv4 or IPv6 addresses (e.g. "127.0.0.1"), optionally prefixed with "-"',
  });

const SAVE_POINT = /^[1-9]\d{0,6} [1-9]\d{0,8}$/;
const KEYSPACE_EVENTS = /^[KEg$lshzxetdmnA]*$/;
const IMAGE = /^[a-z0-9][a-z0-9._/-]*:(7\.\d+\.\d+[a-z0-9.-]*)(@sha256:[0-9a-f]{64})?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MASTER_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Printable ASCII without blanks or quotes, so a password is safe in every config file. */
const password = z
  .string({ error: "must be a string" })
  .min(16, { error: "must be at least 16 characters" })
  .max(512, { error: "must be at most 512 characters" })
  .regex(/^[!#-&(-[\]-~]+$/, {
    error: "may hold printable ASCII only, without blanks, quotes or backslashes",
  });

const database = (index: number, purpose: string): KeySpec => ({
  type: "integer",
  description: `Logical database for ${purpose}.`,
  default: index,
  schema: int(0, 15),
});

/**
 * Every key of the `lowcode-redis` namespace. Pulumi.yaml declares the same keys, types and
 * defaults (a unit test keeps the two in step); an unknown key is an error, which catches typos.
 * An empty value ("" or []) means "the profile's default" where the description says so.
 */
export const KEYS = {
  target: {
    type: "string",
    description: "Where to deploy: docker or kubernetes.",
    default: "docker",
    schema: oneOf(["docker", "kubernetes"]),
  },
  profile: {
    type: "string",
    description: "Settings profile: dev or production (security, write safety).",
    default: "dev",
    schema: oneOf(["dev", "production"]),
  },
  topology: {
    type: "string",
    description: "standalone (one Redis) or sentinel (replicas watched by sentinels).",
    default: "standalone",
    schema: oneOf(["standalone", "sentinel"]),
  },
  redisImage: {
    type: "string",
    description: "Official Redis 7 image, pinned to an exact version tag.",
    default: "redis:7.2.5-alpine",
    schema: z.string().regex(IMAGE, {
      error: 'must be a Redis 7 image pinned to an exact version tag, e.g. "redis:7.2.5-alpine"',
    }),
  },
  port: {
    type: "integer",
    description: "Redis port inside the container or pod.",
    default: 6379,
    schema: int(1, 65535),
  },
  hostPort: {
    type: "integer",
    description: "Docker: port published on 127.0.0.1 of the host.",
    default: 6379,
    schema: int(1, 65535),
  },
  bind: {
    type: "array",
    description:
      "Addresses Redis binds; [] = profile default (dev 0.0.0.0, production 127.0.0.1 plus the node's own address).",
    default: [],
    schema: z
      .array(bindAddress, { error: "must be a list of addresses" })
      .max(16, { error: "must list at most 16 addresses" }),
  },
  maxmemory: {
    type: "string",
    description: "Redis maxmemory.",
    default: "384mb",
    schema: memory("memory size"),
  },
  maxmemoryPolicy: {
    type: "string",
    description: "Eviction policy when maxmemory is reached.",
    default: "allkeys-lru",
    schema: oneOf([
      "allkeys-lru",
      "allkeys-lfu",
      "allkeys-random",
      "volatile-lru",
      "volatile-lfu",
      "volatile-random",
      "volatile-ttl",
      "noeviction",
    ]),
  },
  maxmemorySamples: {
    type: "integer",
    description: "Keys sampled per eviction.",
    default: 5,
    schema: int(1, 64),
  },
  memoryLimit: {
    type: "string",
    description:
      'Container memory limit; "" = maxmemory x 2 (fork headroom for BGSAVE and AOF rewrite).',
    default: "",
    schema: z.string().refine((v) => v === "" || parseQuantity(v) !== undefined, {
      error: 'must be "" (maxmemory x 2) or a Kubernetes quantity such as "768Mi"',
    }),
  },
  cpuRequest: {
    type: "string",
    description: "CPU request of each Redis container.",
    default: "100m",
    schema: quantity("100m"),
  },
  maxclients: {
    type: "integer",
    description: "Maximum client connections.",
    default: 10000,
    schema: int(1, 100000),
  },
  tcpKeepalive: {
    type: "integer",
    description: "TCP keepalive in seconds (0 = off).",
    default: 300,
    schema: int(0, 7200),
  },
  appendonly: { type: "boolean", description: "AOF persistence.", default: true, schema: bool },
  appendfsync: {
    type: "string",
    description: "AOF fsync policy.",
    default: "everysec",
    schema: oneOf(["always", "everysec", "no"]),
  },
  save: {
    type: "array",
    description: 'RDB save points "<seconds> <changes>"; [] disables RDB snapshots.',
    default: ["900 1", "300 10", "60 10000"],
    schema: z
      .array(
        z.string().regex(SAVE_POINT, {
          error: 'must be "<seconds> <changes>" with two positive whole numbers, e.g. "900 1"',
        }),
        {
          error: 'must be a list of "<seconds> <changes>" strings',
        },
      )
      .max(8, { error: "must list at most 8 save points" }),
  },
  activedefrag: {
    type: "boolean",
    description: "Active defragmentation.",
    default: true,
    schema: bool,
  },
  notifyKeyspaceEvents: {
    type: "string",
    description: "Keyspace notifications (sessions expire through Ex).",
    default: "Ex",
    schema: z.string().regex(KEYSPACE_EVENTS, { error: "must be letters from KEg$lshzxetdmnA" }),
  },
  databases: {
    type: "integer",
    description: "Number of logical databases.",
    default: 16,
    schema: int(6, 64),
  },
  dbSessions: database(0, "sessions and authentication"),
  dbFlowCache: database(1, "flow execution and cache"),
  dbComponents: database(2, "component templates and UI"),
  dbCollaboration: database(3, "real-time collaboration (pub/sub)"),
  dbRateLimiting: database(4, "rate limiting and security"),
  dbQueryCache: database(5, "query and data cache"),
  namespace: {
    type: "string",
    description: "Kubernetes namespace.",
    default: "lowcode",
    schema: z
      .string()
      .regex(DNS_LABEL, { error: "must be a DNS-1123 label (lowercase letters, digits, '-')" }),
  },
  createNamespace: {
    type: "boolean",
    description: "Kubernetes: create the namespace.",
    default: true,
    schema: bool,
  },
  storageSize: {
    type: "string",
    description: "Size of each Redis data volume (Kubernetes).",
    default: "1Gi",
    schema: quantity("1Gi"),
  },
  storageClass: {
    type: "string",
    description: 'Kubernetes storage class; "" = the cluster default.',
    default: "",
    schema: z
      .string()
      .regex(/^$|^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { error: "must be a DNS-1123 name" }),
  },
  dockerNetwork: {
    type: "string",
    description: "Docker network shared with the platform.",
    default: "lowcode-network",
    schema: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, { error: "must be a Docker network name" }),
  },
  dockerSubnet: {
    type: "string",
    description: "Docker: subnet of the network; Redis nodes get fixed addresses from .10 on.",
    default: "172.28.0.0/24",
    schema: z
      .string()
      .refine((v) => /^(\d{1,3}\.){3}0\/(1[6-9]|2[0-4])$/.test(v) && IPV4.test(v.split("/")[0]), {
        error: 'must be an IPv4 subnet from /16 to /24 ending in .0, e.g. "172.28.0.0/24"',
      }),
  },
  replicas: {
    type: "integer",
    description: "Sentinel topology: Redis nodes (one master, the rest replicas).",
    default: 3,
    schema: int(2, 9),
  },
  sentinels: {
    type: "integer",
    description: "Sentinel topology: number of sentinels.",
    default: 3,
    schema: int(1, 9),
  },
  quorum: {
    type: "integer",
    description: "Sentinels that must agree the master is down.",
    default: 2,
    schema: int(1, 9),
  },
  masterName: {
    type: "string",
    description: "Name the sentinels monitor the master under.",
    default: "lowcode-master",
    schema: z.string().regex(MASTER_NAME, {
      error: "must start with a letter and hold letters, digits, '_', '.', '-' (at most 64)",
    }),
  },
  downAfterMs: {
    type: "integer",
    description: "Sentinel down-after-milliseconds.",
    default: 5000,
    schema: int(1000, 60000),
  },
  failoverTimeoutMs: {
    type: "integer",
    description: "Sentinel failover-timeout.",
    default: 60000,
    schema: int(10000, 600000),
  },
  minReplicasToWrite: {
    type: "integer",
    description: "min-replicas-to-write; -1 = profile default (dev 0, production 1).",
    default: -1,
    schema: int(-1, 8),
  },
  minReplicasMaxLag: {
    type: "integer",
    description: "min-replicas-max-lag in seconds.",
    default: 10,
    schema: int(1, 60),
  },
  antiAffinity: {
    type: "string",
    description: "Kubernetes pod anti-affinity across nodes: soft, hard or none.",
    default: "soft",
    schema: oneOf(["soft", "hard", "none"]),
  },
  defaultPassword: {
    type: "string",
    description: "Dev: password of the default user (requirepass); generated when unset.",
    default: undefined,
    schema: password,
    secret: true,
  },
  appPassword: {
    type: "string",
    description: "Production: password of the app user; generated when unset.",
    default: undefined,
    schema: password,
    secret: true,
  },
  adminPassword: {
    type: "string",
    description: "Production: password of the admin user; generated when unset.",
    default: undefined,
    schema: password,
    secret: true,
  },
} satisfies Record<string, KeySpec>;

export type KeyName = keyof typeof KEYS;
export const KEY_NAMES = Object.keys(KEYS) as KeyName[];
export const SECRET_KEYS = KEY_NAMES.filter((k) => (KEYS[k] as KeySpec).secret);
