import { isIP } from "node:net";
import { z } from "zod";
import {
  BindAddress,
  bindConflict,
  blockOf,
  overlaps,
  ipv4ToNumber,
  maskOf,
  numberToIpv4,
  parseBindAddress,
} from "./addresses";
import { exactQuantity, wholeQuantity } from "./units";
import { BACKUP_KEYS } from "./backup";
import { COMMANDER_KEYS } from "./commander";
import {
  DNS_LABEL,
  KeySpec,
  MI,
  TI,
  bool,
  checked,
  int,
  memory,
  oneOf,
  password,
  quantity,
} from "./schemas";
import { CLIENT_LIMIT_KEYS } from "./client-limits";
import { CLUSTER_KEYS } from "./cluster";
import { METRICS_KEYS } from "./metrics";
import { NETWORK_POLICY_KEYS } from "./network-policy";

export type { DeclaredType, KeySpec } from "./schemas";

/** The Pulumi config namespace of every key (`lowcode-redis:<key>`). */
export const NAMESPACE = "lowcode-redis";

const MEMORY_LIMIT_FORMAT =
  'must be "" (derived from maxmemory) or a Kubernetes quantity such as "768Mi"';

const ADDRESS_FORMAT =
  'must be IPv4 or IPv6 addresses (e.g. "127.0.0.1"), optionally prefixed with "-". Redis\'s "*" and "::*" mean every IPv4 and every IPv6 address';
const bindAddresses = z
  .array(z.string({ error: ADDRESS_FORMAT }), { error: "must be a list of addresses" })
  .max(16, { error: "must list at most 16 addresses (Redis binds at most 16)" })
  .superRefine((list, ctx) => {
    const parsed: BindAddress[] = [];
    for (const given of list) {
      const address = parseBindAddress(given);
      if ("problem" in address) {
        ctx.addIssue({
          code: "custom",
          message:
            address.problem === "not an address"
              ? `${ADDRESS_FORMAT}; ${JSON.stringify(given)} is not an address`
              : `${ADDRESS_FORMAT}; ${address.problem}`,
        });
        return;
      }
      parsed.push(address);
    }
    const conflict = bindConflict(parsed);
    if (conflict) ctx.addIssue({ code: "custom", message: conflict });
  });

/** RFC 1918 ranges: a Docker network of the platform is private. */
const PRIVATE_IPV4: readonly (readonly [number, number])[] = [
  [0x0a000000, 8],
  [0xac100000, 12],
  [0xc0a80000, 16],
];

/** The default subnet of Docker's bridge network docker0. */
const DOCKER_BRIDGE = "172.17.0.0/16";
const SUBNET_ALLOWED =
  'must be a private IPv4 network (inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) with a prefix from /16 to /24, written as its network address, e.g. "172.28.0.0/24"';
const dockerSubnet = checked(SUBNET_ALLOWED, (v) => {
  const match = /^([0-9.]{7,15})\/(1[6-9]|2[0-4])$/.exec(v);
  if (!match || isIP(match[1]) !== 4) return SUBNET_ALLOWED;
  const address = ipv4ToNumber(match[1]);
  const prefix = Number(match[2]);
  const network = (address & maskOf(prefix)) >>> 0;
  if (network !== address)
    return `${SUBNET_ALLOWED} (host bits are set: the network is ${numberToIpv4(network)}/${prefix})`;
  const inPrivate = PRIVATE_IPV4.some(
    ([base, bits]) => prefix >= bits && (address & maskOf(bits)) >>> 0 === base,
  );
  if (!inPrivate) return SUBNET_ALLOWED;
  // Docker refuses a network that overlaps another ("Pool overlaps"), and docker0 is always there.
  if (overlaps(blockOf(v), blockOf(DOCKER_BRIDGE)))
    return `${SUBNET_ALLOWED}; not inside ${DOCKER_BRIDGE}, the subnet of Docker's default bridge network (docker0), which Docker would refuse to overlap`;
  return undefined;
});

const CHANNEL = /^[A-Za-z0-9][A-Za-z0-9:_.@{}*?-]*$/;
const CHANNELS_ALLOWED =
  "must be a list of 1 to 32 channel patterns of 1 to 128 characters: letters, digits and :_.@{}*?- starting with a letter or digit, so that no pattern can match a reserved channel such as __sentinel__:hello or __keyevent@0__:expired";

const SAVE_POINT = /^[1-9]\d{0,6} [1-9]\d{0,8}$/;
const SAVE_POINT_ALLOWED =
  'must be "<seconds> <changes>" with two positive whole numbers, e.g. "900 1"';
const KEYSPACE_EVENTS = /^[KEg$lshzxetdmnA]*$/;
/** Docker reference grammar: path components separated by "/", a Redis 7 tag, an optional digest. */
const IMAGE_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE = new RegExp(
  `^${IMAGE_COMPONENT}(?:/${IMAGE_COMPONENT})*:7\\.\\d{1,4}\\.\\d{1,4}(?:[-._][a-z0-9._-]{0,100})?(?:@sha256:[0-9a-f]{64})?$`,
);
const IMAGE_ALLOWED =
  'must be a Redis 7 image pinned to an exact version tag, e.g. "redis:7.2.5-alpine"';
/** The repository's last path component: a mirror (registry.example.com/mirror/redis) is still Redis. */
const SERVER_IMAGES = ["redis", "valkey"];
const imageProblem = (image: string) => {
  const repository = image.replace(/@.*$/, "").replace(/:[^/]*$/, "");
  const name = repository.slice(repository.lastIndexOf("/") + 1);
  return SERVER_IMAGES.includes(name)
    ? undefined
    : `${IMAGE_ALLOWED}: its repository must end in /redis or /valkey (the scripts run redis-server, redis-cli and redis-check-rdb), not ${JSON.stringify(name)}`;
};
const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The only place the usual cluster domain is written: every DNS name is built from the config. */
const DEFAULT_CLUSTER_DOMAIN = "cluster.local";
/** Dot-separated DNS-1123 labels of at most 63 characters each, 253 in all. */
const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const DNS_NAME_ALLOWED = `must be a DNS name: dot-separated DNS-1123 labels (lowercase letters, digits and '-', at most 63 characters each), at most 253 characters in all, e.g. "${DEFAULT_CLUSTER_DOMAIN}"`;
const MASTER_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MASTER_NAME_ALLOWED =
  "must start with a letter and hold letters, digits, '_', '.', '-' (at most 64)";

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
    schema: z
      .string({ error: IMAGE_ALLOWED })
      .max(255, { error: IMAGE_ALLOWED })
      .regex(IMAGE, { error: IMAGE_ALLOWED })
      .superRefine((v, ctx) => {
        const problem = imageProblem(v);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
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
    schema: bindAddresses,
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
      'Container memory limit; "" = maxmemory x 2 (fork headroom for BGSAVE, AOF rewrite and full syncs), plus maxmemory-clients, plus the replication buffers in a sentinel group.',
    default: "",
    schema: checked(MEMORY_LIMIT_FORMAT, (v) => {
      if (v === "") return undefined;
      if (exactQuantity(v) === undefined) return MEMORY_LIMIT_FORMAT;
      const bytes = wholeQuantity(v);
      return bytes === undefined || bytes < MI || bytes > TI
        ? 'must be "" (derived from maxmemory) or whole bytes from 1Mi to 1Ti, such as "768Mi"'
        : undefined;
    }),
  },
  cpuRequest: {
    type: "string",
    description: "CPU request of each Redis container.",
    default: "100m",
    schema: quantity("100m", {
      min: 1n,
      max: 64_000n,
      perUnit: 1000n,
      allowed: 'must be whole millicores from 1m to 64 CPUs, such as "100m", "0.5" or "2"',
    }),
  },
  maxclients: {
    type: "integer",
    description: "Maximum client connections.",
    default: 10000,
    schema: int(1, 100000),
  },
  ...CLIENT_LIMIT_KEYS,
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
        z.string({ error: SAVE_POINT_ALLOWED }).regex(SAVE_POINT, { error: SAVE_POINT_ALLOWED }),
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
    schema: z
      .string({ error: "must be letters from KEg$lshzxetdmnA" })
      .regex(KEYSPACE_EVENTS, { error: "must be letters from KEg$lshzxetdmnA" })
      .refine((v) => v === "" || (/[KE]/.test(v) && /[g$lshzxetdmnA]/.test(v)), {
        error:
          'must be "" (off) or name K and/or E and at least one event class from g$lshzxetdmnA (e.g. "Ex"): Redis delivers nothing otherwise',
      }),
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
      .string({ error: "must be a DNS-1123 label (lowercase letters, digits, '-')" })
      .regex(DNS_LABEL, { error: "must be a DNS-1123 label (lowercase letters, digits, '-')" }),
  },
  createNamespace: {
    type: "boolean",
    description: "Kubernetes: create the namespace.",
    default: true,
    schema: bool,
  },
  clusterDomain: {
    type: "string",
    description:
      "Kubernetes cluster DNS domain of the pod and Service names (kubelet --cluster-domain).",
    default: DEFAULT_CLUSTER_DOMAIN,
    schema: z.string({ error: DNS_NAME_ALLOWED }).regex(DNS_NAME, { error: DNS_NAME_ALLOWED }),
  },
  storageSize: {
    type: "string",
    description: "Size of each Redis data volume (Kubernetes).",
    default: "1Gi",
    schema: quantity("1Gi", {
      min: MI,
      max: 64n * TI,
      allowed: 'must be whole bytes from 1Mi to 64Ti, such as "1Gi"',
    }),
  },
  sentinelStorageSize: {
    type: "string",
    description:
      "Size of each sentinel's state volume (Kubernetes): it remembers the master across restarts.",
    default: "16Mi",
    schema: quantity("16Mi", {
      min: MI,
      max: TI,
      allowed: 'must be whole bytes from 1Mi to 1Ti, such as "16Mi"',
    }),
  },
  storageClass: {
    type: "string",
    description: 'Kubernetes storage class; "" = the cluster default.',
    default: "",
    schema: z
      .string({ error: "must be a DNS-1123 name" })
      .refine((v) => v === "" || DNS_SUBDOMAIN.test(v), {
        error:
          'must be "" (the cluster default) or a DNS-1123 name (dot-separated lowercase labels)',
      }),
  },
  dockerNetwork: {
    type: "string",
    description: "Docker network shared with the platform.",
    default: "lowcode-network",
    schema: z
      .string({ error: "must be a Docker network name" })
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, { error: "must be a Docker network name" })
      // Docker's own networks cannot be created, nor hold fixed addresses.
      .refine((v) => !["bridge", "host", "none"].includes(v), {
        error:
          "must be a network of the platform, not one of Docker's predefined networks bridge, host, none",
      }),
  },
  dockerNetworkCreate: {
    type: "boolean",
    description:
      "Docker: create the network; false = join the existing one (dockerSubnet must then be its subnet).",
    default: true,
    schema: bool,
  },
  dockerSubnet: {
    type: "string",
    description: "Docker: subnet of the network; Redis nodes get fixed addresses from .10 on.",
    default: "172.28.0.0/24",
    schema: dockerSubnet,
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
    schema: z
      .string({ error: MASTER_NAME_ALLOWED })
      .regex(MASTER_NAME, { error: MASTER_NAME_ALLOWED }),
  },
  downAfterMs: {
    type: "integer",
    description: "Sentinel down-after-milliseconds.",
    default: 5000,
    schema: int(1000, 60000),
  },
  failoverTimeoutMs: {
    type: "integer",
    description:
      "Sentinel failover-timeout; an aborted failover is retried after twice this (docs/architecture.md#second-failure).",
    // 10 s: a failover attempt that aborts is retried after 20 s instead of Redis's 6 minutes
    // (180 s default) or 2 minutes (60 s); nothing else in Sentinel gets faster or flaps with it.
    default: 10000,
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
  appChannels: {
    type: "array",
    description:
      "Pub/sub channels (Redis glob patterns) the app user may publish and subscribe to, besides keyspace notifications.",
    default: ["flow:*:cursors"],
    schema: z
      .array(
        z
          .string({ error: CHANNELS_ALLOWED })
          .max(128, { error: CHANNELS_ALLOWED })
          .regex(CHANNEL, { error: CHANNELS_ALLOWED }),
        { error: CHANNELS_ALLOWED },
      )
      .min(1, { error: CHANNELS_ALLOWED })
      .max(32, { error: CHANNELS_ALLOWED }),
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
  appPasswordPrevious: {
    type: "string",
    description:
      "Production: the app user's previous password, accepted beside appPassword while the applications move to the new one (rotation without outage); remove it afterwards.",
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
  ...BACKUP_KEYS,
  ...COMMANDER_KEYS,
  ...CLUSTER_KEYS,
  ...NETWORK_POLICY_KEYS,
  ...METRICS_KEYS,
} satisfies Record<string, KeySpec>;

export type KeyName = keyof typeof KEYS;
export const KEY_NAMES = Object.keys(KEYS) as KeyName[];
export const SECRET_KEYS = KEY_NAMES.filter((k) => (KEYS[k] as KeySpec).secret);
