import { createHash } from "node:crypto";
import { clientLimitLines } from "../config/client-limits";
import { ResolvedConfig } from "../config/resolve";
import { fillTemplate, scriptTemplate } from "./template";

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
  readonly preStopScript: string;
  readonly startSentinelScript: string;
  readonly sentinelProbeScript: string;
  /** Where a sentinel keeps the state file it rewrites. */
  readonly sentinelStateDir: string;
}

export function containerLayout(
  dataDir: string,
  confDir: string,
  sentinelStateDir: string,
): ContainerLayout {
  return {
    dataDir,
    confDir,
    sentinelStateDir,
    redisConf: `${confDir}/redis.conf`,
    secretsConf: `${confDir}/secrets.conf`,
    usersAcl: `${confDir}/users.acl`,
    probeScript: `${confDir}/probe.sh`,
    startRedisScript: `${confDir}/start-redis.sh`,
    preStopScript: `${confDir}/pre-stop.sh`,
    startSentinelScript: `${confDir}/start-sentinel.sh`,
    sentinelProbeScript: `${confDir}/sentinel-probe.sh`,
  };
}

/**
 * Kubernetes: the init container copies the files into the in-memory volume /conf; a sentinel's
 * state lives in its own in-memory volume /state.
 */
export const LAYOUT = containerLayout("/data", "/conf", "/state");

/**
 * Docker: uploads land in the root of the data volume, the one directory the image's redis user
 * owns: CONFIG REWRITE replaces redis.conf through a temporary file in the same directory, and
 * Docker would create a missing parent folder of an upload as root. The sentinel's state goes in
 * a folder its start script creates, away from the uploaded sentinel.conf.
 */
export const DOCKER_LAYOUT = containerLayout("/data", "/data", "/data/state");

export type Role =
  | "app"
  | "admin"
  | "probe"
  | "replication"
  | "sentinel"
  | "sentinel-client"
  | "sentinel-peer"
  | "failover"
  | "backup";

const ROLE_SECRETS: Readonly<Record<Role, SecretKey>> = {
  app: "appPassword",
  admin: "adminPassword",
  probe: "probePassword",
  replication: "replicationPassword",
  sentinel: "sentinelNodePassword",
  "sentinel-client": "sentinelClientPassword",
  "sentinel-peer": "sentinelPeerPassword",
  failover: "failoverPassword",
  backup: "backupPassword",
};

/** Secret values the secret-bearing files are made of. Only those `requiredSecrets` names are read. */
export interface SecretValues {
  readonly defaultPassword?: string;
  readonly appPassword?: string;
  /** Production: also accepted for `app` while the applications move to a new appPassword. */
  readonly appPasswordPrevious?: string;
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
  /**
   * Sentinel group, production: the pre-stop hook pauses writes on its node and asks the
   * sentinels to fail over as `failover` (a user on both, with that and nothing more).
   */
  readonly failoverPassword?: string;
  /** Backups, production: the backup script streams an RDB as `backup` (REPLCONF and SYNC only). */
  readonly backupPassword?: string;
  /** Redis Commander connects as the `commander` user, on both profiles. */
  readonly commanderRedisPassword?: string;
  /** Kubernetes metrics: the redis_exporter sidecars connect as the `exporter` user, on both profiles. */
  readonly exporterPassword?: string;
  /** Off-site copies: set with `pulumi config set --secret`, never generated. */
  readonly backupS3AccessKeyId?: string;
  readonly backupS3SecretAccessKey?: string;
}
export type SecretKey = keyof SecretValues;

/** The secrets a stack needs: dev has one password; production has ACL users and a renamed CONFIG. */
export function requiredSecrets(cfg: ResolvedConfig): SecretKey[] {
  const offsite: SecretKey[] = cfg.backup.offsite
    ? ["backupS3AccessKeyId", "backupS3SecretAccessKey"]
    : [];
  const commander: SecretKey[] = cfg.commander.enabled ? ["commanderRedisPassword"] : [];
  const exporter: SecretKey[] = cfg.metrics.enabled ? ["exporterPassword"] : [];
  if (!cfg.security.aclUsers) return ["defaultPassword", ...commander, ...exporter, ...offsite];
  const group: SecretKey[] =
    cfg.topology === "sentinel"
      ? [
          "replicationPassword",
          "sentinelNodePassword",
          "sentinelClientPassword",
          "sentinelPeerPassword",
          "failoverPassword",
        ]
      : [];
  const backup: SecretKey[] = cfg.backup.enabled ? ["backupPassword"] : [];
  // Only while a rotation is under way: set with --secret, never generated.
  const previous: SecretKey[] = cfg.suppliedSecrets.includes("appPasswordPrevious")
    ? ["appPasswordPrevious"]
    : [];
  return [
    "appPassword",
    ...previous,
    "adminPassword",
    "probePassword",
    "configCommand",
    ...group,
    ...backup,
    ...commander,
    ...exporter,
    ...offsite,
  ];
}

/**
 * Whether the nodes load users.acl: production's users, or dev's `default` beside Commander's
 * and the exporter's users. Users are never declared in a config file: CONFIG REWRITE (Sentinel's, after a failover)
 * copies such users into redis.conf, and Redis refuses to start on a user declared twice, or on
 * users in a config file beside an ACL file (the stand-in of start-redis.sh has one).
 */
export function usesAclFile(cfg: ResolvedConfig): boolean {
  return cfg.security.aclUsers || cfg.commander.enabled || cfg.metrics.enabled;
}

/** Which user and password each role connects with. In dev every role is the `default` user. */
export function userFor(cfg: ResolvedConfig, role: Role): { username: string; secret: SecretKey } {
  if (!cfg.security.aclUsers) return { username: "default", secret: "defaultPassword" };
  return { username: role, secret: ROLE_SECRETS[role] };
}

/** The two comment lines that open every rendered file, then a blank line. */
export function header(cfg: ResolvedConfig, file: string, comment = "#"): string[] {
  return [
    `${comment} ${file} of lowcode-redis, stack ${cfg.stack}, profile ${cfg.profile}, target ${cfg.target}, topology ${cfg.topology}.`,
    `${comment} Rendered from the stack config: change the config, not this file.`,
    "",
  ];
}

/**
 * Joins the lines of a Redis or Sentinel config file. The second line of defence behind the config
 * validation: a value with a line break or another control character would split a directive or
 * smuggle in a new one, so it is refused here too.
 */
export function configFile(file: string, lines: readonly string[]): string {
  for (const line of lines) {
    if (/[\u0000-\u001f\u007f]/.test(line))
      throw new Error(
        `${file}: refusing to render ${JSON.stringify(line)}: a control character would split or hide a directive`,
      );
  }
  return lines.join("\n") + "\n";
}

/** Milliseconds a script or function may run before the node answers others BUSY. */
export const BUSY_REPLY_THRESHOLD_MS = 1000;

/**
 * redis.conf with the platform settings and the profile's security. It holds no secret: passwords
 * and the renamed CONFIG live in secrets.conf / users.acl, passed with --include / --aclfile.
 */
export function renderRedisConf(cfg: ResolvedConfig): string {
  const r = cfg.redis;
  const lines: string[] = [
    ...header(cfg, "redis.conf"),
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
    // Freeing a large key (DEL, expiry, eviction, an overwrite) happens in a background thread,
    // not on the event loop every client waits on. A replica's flush before a full sync stays
    // synchronous: in the background the old and the new dataset would be held at once.
    "lazyfree-lazy-eviction yes",
    "lazyfree-lazy-expire yes",
    "lazyfree-lazy-server-del yes",
    "lazyfree-lazy-user-del yes",
    "lazyfree-lazy-user-flush yes",
    "",
    "# Clients: what one client may hold or make, and all of them together (see docs/security.md)",
    ...clientLimitLines(r.clients),
    // A function an operator loaded that runs past this answers BUSY to everyone else at once
    // (instead of keeping them waiting) and can be stopped with FUNCTION KILL.
    `busy-reply-threshold ${BUSY_REPLY_THRESHOLD_MS}`,
    "",
    "# Persistence (the data directory is passed as --dir: Redis changes into it while parsing)",
    "dbfilename dump.rdb",
    ...(r.save.length > 0 ? r.save.map((point) => `save ${point}`) : ['save ""']),
    `appendonly ${r.appendonly ? "yes" : "no"}`,
    'appendfilename "appendonly.aof"',
    'appenddirname "appendonlydir"',
    `appendfsync ${r.appendfsync}`,
    // A node killed while its volume was full may have left half a command at the end of its AOF:
    // it starts with every complete one (a replica gets the rest from its master) instead of not
    // starting at all. Redis's default, stated.
    "aof-load-truncated yes",
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
    // Redis 7 defaults, stated: no CONFIG SET of dir/dbfilename, no DEBUG, no MODULE LOAD, for anyone.
    "enable-protected-configs no",
    "enable-debug-command no",
    "enable-module-command no",
  ];
  if (cfg.security.renameDangerousCommands) {
    lines.push(
      'rename-command FLUSHALL ""',
      'rename-command FLUSHDB ""',
      "# CONFIG is renamed in secrets.conf: its new name is a secret.",
    );
  }
  return configFile("redis.conf", lines);
}

/**
 * A sentinel group's nodes: replicas are read-only and resync without touching disk; the master
 * refuses writes unless enough replicas are attached and current (docs/architecture.md).
 */
function replicationLines(cfg: ResolvedConfig): string[] {
  // A backup streams the RDB as a replica does (redis-cli --rdb): from memory, without the
  // 5 s Redis waits by default for more replicas to share the fork.
  const streaming = [
    "# Full syncs and backups stream the snapshot without touching disk, at once",
    "repl-diskless-sync yes",
    "repl-diskless-sync-delay 0",
  ];
  if (cfg.topology !== "sentinel") return cfg.backup.enabled ? streaming : [];
  const b = cfg.redis.replicationBuffers;
  return [
    ...streaming,
    "# Replication (the role is chosen at start: see start-redis.sh)",
    "replica-read-only yes",
    "replica-serve-stale-data yes",
    // A replica that cannot write its AOF or RDB (a full volume) keeps applying its master's
    // writes and keeps the unwritten AOF in memory, written out once the disk has room, instead of
    // aborting on its master's next write and restarting without the writes it had acknowledged.
    // Meanwhile it answers PING with MISCONF, so the sentinels do not promote it.
    "replica-ignore-disk-write-errors yes",
    `min-replicas-to-write ${cfg.sentinel.minReplicasToWrite}`,
    `min-replicas-max-lag ${cfg.sentinel.minReplicasMaxLag}`,
    // Sized with the memory limit, which holds them (config/memory.ts, ReplicationBuffers).
    `client-output-buffer-limit replica ${b.replicaHardMb}mb ${b.replicaSoftMb}mb ${b.replicaSoftSeconds}`,
    `repl-backlog-size ${b.backlogMb}mb`,
    "",
  ];
}

export function quote(value: string): string {
  // Validated passwords hold no quotes, blanks or backslashes; generated ones are alphanumeric.
  return `"${value}"`;
}

export function need(secrets: SecretValues, key: SecretKey): string {
  const value = secrets[key];
  if (value === undefined) throw new Error(`secret ${key} is required to render this file`);
  return value;
}

/** secrets.conf: dev's requirepass, production's CONFIG rename. Mounted from a Secret. */
export function renderSecretsConf(cfg: ResolvedConfig, secrets: SecretValues): string {
  const lines = header(cfg, "secrets.conf");
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
  return configFile("secrets.conf", lines);
}

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** The probe's password file: dev probes as `default`, production as the PING-only `probe` user. */
export function renderProbePassword(cfg: ResolvedConfig, secrets: SecretValues): string {
  return need(secrets, userFor(cfg, "probe").secret);
}

const PROBE_TEMPLATE = scriptTemplate("probe.sh");
const PING_PROBE_TEMPLATE = scriptTemplate("ping-probe.sh");

/** The two header lines of a rendered script (they follow its `#!/bin/sh`). */
export function scriptHeader(cfg: ResolvedConfig, file: string): string {
  return header(cfg, file).slice(0, 2).join("\n");
}

/**
 * Health check of a node (render/scripts/probe.sh): `probe.sh` is readiness (PONG, and a
 * replica linked to its master with no full sync running), `probe.sh live` liveness (the process
 * answers, even LOADING, MASTERDOWN or with every client slot taken).
 */
export function renderProbeScript(cfg: ResolvedConfig): string {
  return fillTemplate(PROBE_TEMPLATE, {
    HEADER: scriptHeader(cfg, "probe.sh"),
    PROBE_USER: userFor(cfg, "probe").username,
    PORT: String(cfg.port),
    SERVING_BUT_FULL,
  });
}

/**
 * What redis-cli prints when the server accepted its connection while every client slot was
 * taken: Redis writes "ERR max number of clients reached" and closes, and redis-cli reads either
 * that (after "AUTH failed: ") or, when the close overtook its AUTH, a closed or reset connection.
 * Only a running event loop accepts and closes a connection (a hung server leaves it open until
 * the probe's timeout; a dead one refuses it), so liveness passes on these, and readiness does
 * not. A `case` pattern list.
 */
export const SERVING_BUT_FULL =
  '*"max number of clients reached"* | *"Server closed the connection"* | *"Connection reset by peer"*';

/**
 * A health check (render/scripts/ping-probe.sh): exit 0 when the server answers PING to `user`;
 * with the argument `live`, also when every client slot is taken (see SERVING_BUT_FULL). The
 * password file sits beside the script, so one script serves every layout.
 */
export function renderPingProbe(
  cfg: ResolvedConfig,
  file: string,
  user: string,
  port: number,
  passwordFile: string,
): string {
  return fillTemplate(PING_PROBE_TEMPLATE, {
    HEADER: scriptHeader(cfg, file),
    PASSWORD_FILE: passwordFile,
    USER: user,
    PORT: String(port),
    SERVING_BUT_FULL,
  });
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

/** Fixed address of sentinel `index` on the Docker network: .20, .21, … of the subnet. */
export function dockerSentinelAddress(cfg: ResolvedConfig, index: number): string {
  return dockerNodeAddress(cfg, 10 + index);
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
  if (usesAclFile(cfg)) args.push("--aclfile", layout.usersAcl);
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
