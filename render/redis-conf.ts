import { createHash } from "node:crypto";
import { ResolvedConfig } from "../config/resolve";

/** Where the rendered files live in a container or pod (the sandbox mirrors it under its dir). */
export interface ContainerLayout {
  readonly dataDir: string;
  /** Writable by the redis user: Redis and Sentinel replace their config files there. */
  readonly confDir: string;
  readonly redisConf: string;
  readonly secretsConf: string;
  readonly usersAcl: string;
  readonly probeScript: string;
  readonly startRedisScript: string;
  readonly startSentinelScript: string;
  readonly sentinelProbeScript: string;
}

export function containerLayout(dataDir: string, confDir: string): ContainerLayout {
  return {
    dataDir,
    confDir,
    redisConf: `${confDir}/redis.conf`,
    secretsConf: `${confDir}/secrets.conf`,
    usersAcl: `${confDir}/users.acl`,
    probeScript: `${confDir}/probe.sh`,
    startRedisScript: `${confDir}/start-redis.sh`,
    startSentinelScript: `${confDir}/start-sentinel.sh`,
    sentinelProbeScript: `${confDir}/sentinel-probe.sh`,
  };
}

/** Kubernetes: the init container copies the files into the in-memory volume /conf. */
export const LAYOUT = containerLayout("/data", "/conf");

/**
 * Docker: uploads land in the data volume, the one directory the image's redis user owns, because
 * CONFIG REWRITE replaces redis.conf through a temporary file in the same directory.
 */
export const DOCKER_LAYOUT = containerLayout("/data", "/data/conf");

export type Role =
  "app" | "admin" | "probe" | "replication" | "sentinel" | "sentinel-client" | "sentinel-peer";

const ROLE_SECRETS: Readonly<Record<Role, SecretKey>> = {
  app: "appPassword",
  admin: "adminPassword",
  probe: "probePassword",
  replication: "replicationPassword",
  sentinel: "sentinelNodePassword",
  "sentinel-client": "sentinelClientPassword",
  "sentinel-peer": "sentinelPeerPassword",
};

/** Secret values the secret-bearing files are made of. Only those `requiredSecrets` names are read. */
export interface SecretValues {
  readonly defaultPassword?: string;
  readonly appPassword?: string;
  readonly adminPassword?: string;
  readonly probePassword?: string;
  /** The name CONFIG is renamed to in production. */
  readonly configCommand?: string;
  /** Sentinel group, production: replicas authenticate to the master as `replication`. */
  readonly replicationPassword?: string;
  /** Sentinel group, production: sentinels authenticate to Redis nodes as `sentinel`. */
  readonly sentinelNodePassword?: string;
  /** Sentinel group, production: clients query the sentinels as `sentinel-client`. */
  readonly sentinelClientPassword?: string;
  /** Sentinel group, production: sentinels authenticate to each other as `sentinel-peer`. */
  readonly sentinelPeerPassword?: string;
}
export type SecretKey = keyof SecretValues;

/** The secrets a stack needs: dev has one password; production has ACL users and a renamed CONFIG. */
export function requiredSecrets(cfg: ResolvedConfig): SecretKey[] {
  if (!cfg.security.aclUsers) return ["defaultPassword"];
  const group: SecretKey[] =
    cfg.topology === "sentinel"
      ? [
          "replicationPassword",
          "sentinelNodePassword",
          "sentinelClientPassword",
          "sentinelPeerPassword",
        ]
      : [];
  return ["appPassword", "adminPassword", "probePassword", "configCommand", ...group];
}

/** Which user and password each role connects with. In dev every role is the `default` user. */
export function userFor(cfg: ResolvedConfig, role: Role): { username: string; secret: SecretKey } {
  if (!cfg.security.aclUsers) return { username: "default", secret: "defaultPassword" };
  return { username: role, secret: ROLE_SECRETS[role] };
}

export function header(cfg: ResolvedConfig, file: string, comment = "#"): string {
  return `${comment} ${file} of lowcode-redis, stack ${cfg.stack}, profile ${cfg.profile}, target ${cfg.target}, topology ${cfg.topology}.\n${comment} Rendered from the stack config: change the config, not this file.\n`;
}

/**
 * redis.conf with the platform settings and the profile's security. It holds no secret: passwords
 * and the renamed CONFIG live in secrets.conf / users.acl, passed with --include / --aclfile.
 */
export function renderRedisConf(cfg: ResolvedConfig): string {
  const r = cfg.redis;
  const lines: string[] = [
    header(cfg, "redis.conf"),
    "# Network",
    `bind ${cfg.bind.join(" ")}`,
    `port ${cfg.port}`,
    `protected-mode ${cfg.security.protectedMode ? "yes" : "no"}`,
    `tcp-keepalive ${r.tcpKeepalive}`,
    "timeout 0",
    `maxclients ${r.maxclients}`,
    "",
    "# Process",
    "daemonize no",
    'logfile ""',
    "loglevel notice",
    `databases ${r.databases}`,
    "",
    "# Memory",
    `maxmemory ${r.maxmemory}`,
    `maxmemory-policy ${r.maxmemoryPolicy}`,
    `maxmemory-samples ${r.maxmemorySamples}`,
    `activedefrag ${r.activedefrag ? "yes" : "no"}`,
    "active-defrag-threshold-lower 10",
    "",
    "# Persistence (the data directory is passed as --dir: Redis changes into it while parsing)",
    "dbfilename dump.rdb",
    ...(r.save.length > 0 ? r.save.map((point) => `save ${point}`) : ['save ""']),
    `appendonly ${r.appendonly ? "yes" : "no"}`,
    'appendfilename "appendonly.aof"',
    'appenddirname "appendonlydir"',
    `appendfsync ${r.appendfsync}`,
    "",
    "# Events and monitoring",
    `notify-keyspace-events "${r.notifyKeyspaceEvents}"`,
    "slowlog-log-slower-than 10000",
    "slowlog-max-len 128",
    "latency-monitor-threshold 100",
    "",
    "# Small encodings (Redis 7 names of the ziplist settings)",
    "hash-max-listpack-entries 512",
    "hash-max-listpack-value 64",
    "list-max-listpack-size -2",
    "set-max-intset-entries 512",
    "",
    ...replicationLines(cfg),
    "# Security",
    // Users get no pub/sub channel unless their ACL grants one.
    "acl-pubsub-default resetchannels",
  ];
  if (cfg.security.renameDangerousCommands) {
    lines.push(
      'rename-command FLUSHALL ""',
      'rename-command FLUSHDB ""',
      "# CONFIG is renamed in secrets.conf: its new name is a secret.",
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * A sentinel group's nodes: replicas are read-only and resync without touching disk; the master
 * refuses writes unless enough replicas are attached and current (see README, write safety).
 */
function replicationLines(cfg: ResolvedConfig): string[] {
  if (cfg.topology !== "sentinel") return [];
  return [
    "# Replication (the role is chosen at start: see start-redis.sh)",
    "replica-read-only yes",
    "replica-serve-stale-data yes",
    "repl-diskless-sync yes",
    "repl-diskless-sync-delay 0",
    `min-replicas-to-write ${cfg.sentinel.minReplicasToWrite}`,
    `min-replicas-max-lag ${cfg.sentinel.minReplicasMaxLag}`,
    "",
  ];
}

function quote(value: string): string {
  // Validated passwords hold no quotes, blanks or backslashes; generated ones are alphanumeric.
  return `"${value}"`;
}

function need(secrets: SecretValues, key: SecretKey): string {
  const value = secrets[key];
  if (value === undefined) throw new Error(`secret ${key} is required to render this file`);
  return value;
}

/** secrets.conf: dev's requirepass, production's CONFIG rename. Mounted from a Secret. */
export function renderSecretsConf(cfg: ResolvedConfig, secrets: SecretValues): string {
  const lines = [header(cfg, "secrets.conf")];
  if (cfg.security.aclUsers) {
    lines.push(`rename-command CONFIG ${need(secrets, "configCommand")}`);
  } else {
    lines.push(`requirepass ${quote(need(secrets, "defaultPassword"))}`);
  }
  if (cfg.topology === "sentinel") {
    // Every node may become a replica after a failover, so every node has the master credentials.
    const replication = userFor(cfg, "replication");
    if (cfg.security.aclUsers) lines.push(`masteruser ${replication.username}`);
    lines.push(`masterauth ${quote(need(secrets, replication.secret))}`);
  }
  return lines.join("\n") + "\n";
}

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * The ACL rules of each production user. ACL rules name commands by their original names, so
 * `+config` stays correct while CONFIG is renamed.
 */
export const ACL_RULES = {
  // The platform: every data command on every key and channel, none of @dangerous (FLUSH*, CONFIG,
  // KEYS, DEBUG, SHUTDOWN, REPLICAOF, ACL, MONITOR…). INFO stays: client libraries use it as a
  // ready check. CLIENT SETNAME/GETNAME/ID let pooled connections name themselves.
  app: "~* &* +@all -@dangerous +info +client|setname +client|getname +client|id +client|info",
  admin: "~* &* +@all",
  // Health checks: PING and nothing else.
  probe: "resetchannels -@all +ping",
  // Replicas: the replication handshake only.
  replication: "resetchannels -@all +psync +replconf +ping",
  // Sentinels: what Sentinel sends to monitor and reconfigure a node (Redis Sentinel docs), and
  // its hello channel. +config|rewrite is the original name: ACLs ignore renames.
  sentinel:
    "resetchannels &__sentinel__:hello -@all +multi +exec +slaveof +replicaof +ping +info +role +publish +subscribe +config|rewrite +client|setname +client|kill +script|kill",
} as const;

/** users.acl for production: `default` off, then each user with a SHA-256 password hash. */
export function renderUsersAcl(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash: (password: string) => string = sha256Hex,
): string {
  const rule = (user: keyof typeof ACL_RULES, key: SecretKey) =>
    `user ${user} on #${hash(need(secrets, key))} ${ACL_RULES[user]}`;
  // default is off: a connection that has not authenticated can run nothing.
  return (
    [
      "user default off resetchannels -@all",
      rule("app", "appPassword"),
      rule("admin", "adminPassword"),
      rule("probe", "probePassword"),
      ...(cfg.topology === "sentinel"
        ? [rule("replication", "replicationPassword"), rule("sentinel", "sentinelNodePassword")]
        : []),
    ].join("\n") + "\n"
  );
}

/** The probe's password file: dev probes as `default`, production as the PING-only `probe` user. */
export function renderProbePassword(cfg: ResolvedConfig, secrets: SecretValues): string {
  return need(secrets, userFor(cfg, "probe").secret);
}

/** Health check of a node: authenticates with the probe password file and expects PONG. */
export function renderProbeScript(cfg: ResolvedConfig): string {
  return renderPingProbe(cfg, "probe.sh", userFor(cfg, "probe").username, cfg.port, "probe.pass");
}

/**
 * A health check: exit 0 when the server answers PING to `user`. The password file sits beside the
 * script, so one script serves every layout; PROBE_PORT overrides the port (the sandbox's nodes).
 */
export function renderPingProbe(
  cfg: ResolvedConfig,
  file: string,
  user: string,
  port: number,
  passwordFile: string,
): string {
  return [
    "#!/bin/sh",
    header(cfg, file).trimEnd(),
    "# Exit 0 when the server answers PING to an authenticated client.",
    `REDISCLI_AUTH="$(cat "$(dirname "$0")/${passwordFile}")"`,
    "export REDISCLI_AUTH",
    `reply="$(redis-cli --no-auth-warning --user ${user} -h 127.0.0.1 -p "\${PROBE_PORT:-${port}}" ping 2>&1)"`,
    '[ "$reply" = "PONG" ] || { echo "probe: $reply" >&2; exit 1; }',
    "",
  ].join("\n");
}

export interface ServerLayout {
  readonly redisConf: string;
  readonly secretsConf: string;
  readonly usersAcl: string;
  readonly dataDir: string;
}

/** Fixed address of Redis node `index` on the Docker network: .10, .11, … of the subnet. */
export function dockerNodeAddress(cfg: ResolvedConfig, index: number): string {
  const [a, b, c] = cfg.docker.subnet.split("/")[0].split(".");
  return `${a}.${b}.${c}.${10 + index}`;
}

/**
 * Arguments of `redis-server`: the rendered file, the secret files, and the node's own address
 * where the profile binds it. The same list for Docker, Kubernetes and the sandbox.
 */
export function redisServerArgs(
  cfg: ResolvedConfig,
  layout: ServerLayout,
  nodeAddress?: string,
): string[] {
  const args = [layout.redisConf, "--dir", layout.dataDir, "--include", layout.secretsConf];
  if (cfg.security.aclUsers) args.push("--aclfile", layout.usersAcl);
  if (nodeAddress) args.push(...nodeBindArgs(cfg, nodeAddress));
  return args;
}

/**
 * The bind of a Redis node or sentinel where the profile adds the node's own address (pod IP,
 * container address) to the rendered list; nothing otherwise.
 */
export function nodeBindArgs(cfg: ResolvedConfig, nodeAddress: string): string[] {
  return cfg.security.bindNodeAddress ? ["--bind", ...cfg.bind, nodeAddress] : [];
}
