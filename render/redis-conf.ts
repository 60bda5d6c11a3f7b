import { createHash } from "node:crypto";
import { ResolvedConfig } from "../config/resolve";

/** Where the rendered files live inside a container or pod (the sandbox mirrors it under its dir). */
export const LAYOUT = {
  dataDir: "/data",
  confDir: "/conf",
  redisConf: "/conf/redis.conf",
  secretsConf: "/conf/secrets.conf",
  usersAcl: "/conf/users.acl",
  probeScript: "/conf/probe.sh",
  probePassword: "/conf/probe.pass",
} as const;

export type RedisUser = "default" | "app" | "admin" | "probe";

/** Secret values the secret-bearing files are made of. Only those `requiredSecrets` names are read. */
export interface SecretValues {
  readonly defaultPassword?: string;
  readonly appPassword?: string;
  readonly adminPassword?: string;
  readonly probePassword?: string;
  /** The name CONFIG is renamed to in production. */
  readonly configCommand?: string;
}
export type SecretKey = keyof SecretValues;

/** The secrets a stack needs: dev has one password; production has ACL users and a renamed CONFIG. */
export function requiredSecrets(cfg: ResolvedConfig): SecretKey[] {
  return cfg.security.aclUsers
    ? ["appPassword", "adminPassword", "probePassword", "configCommand"]
    : ["defaultPassword"];
}

/** Which user and password each role connects with. In dev every role is the `default` user. */
export function userFor(
  cfg: ResolvedConfig,
  role: "app" | "admin" | "probe",
): { username: string; secret: SecretKey } {
  if (!cfg.security.aclUsers) return { username: "default", secret: "defaultPassword" };
  return { username: role, secret: `${role}Password` as SecretKey };
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
  return lines.join("\n") + "\n";
}

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * The ACL rules of each production user. ACL rules name commands by their original names, so
 * `+config` stays correct while CONFIG is renamed.
 */
export const ACL_RULES: Readonly<Record<Exclude<RedisUser, "default">, string>> = {
  // The platform: every data command on every key and channel, none of @dangerous (FLUSH*, CONFIG,
  // KEYS, DEBUG, SHUTDOWN, REPLICAOF, ACL, MONITOR…). INFO stays: client libraries use it as a
  // ready check. CLIENT SETNAME/GETNAME/ID let pooled connections name themselves.
  app: "~* &* +@all -@dangerous +info +client|setname +client|getname +client|id +client|info",
  admin: "~* &* +@all",
  // Health checks: PING and nothing else.
  probe: "resetchannels -@all +ping",
};

/** users.acl for production: `default` off, then each user with a SHA-256 password hash. */
export function renderUsersAcl(
  secrets: SecretValues,
  hash: (password: string) => string = sha256Hex,
): string {
  const rule = (user: keyof typeof ACL_RULES, key: SecretKey) =>
    `user ${user} on #${hash(need(secrets, key))} ${ACL_RULES[user]}`;
  return (
    [
      "user default off resetchannels -@all",
      rule("app", "appPassword"),
      rule("admin", "adminPassword"),
      rule("probe", "probePassword"),
    ].join("\n") + "\n"
  );
}

/** The probe's password file: dev probes as `default`, production as the PING-only `probe` user. */
export function renderProbePassword(cfg: ResolvedConfig, secrets: SecretValues): string {
  return need(secrets, userFor(cfg, "probe").secret);
}

/** Health check of a node: authenticates with the probe password file and expects PONG. */
export function renderProbeScript(cfg: ResolvedConfig): string {
  const user = userFor(cfg, "probe").username;
  return [
    "#!/bin/sh",
    header(cfg, "probe.sh").trimEnd(),
    "# Exit 0 when Redis answers PING to an authenticated client.",
    `REDISCLI_AUTH="$(cat ${LAYOUT.probePassword})"`,
    "export REDISCLI_AUTH",
    `reply="$(redis-cli --no-auth-warning --user ${user} -h 127.0.0.1 -p ${cfg.port} ping 2>&1)"`,
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

/** Files that hold secrets, by file name: mounted from a Secret, uploaded, or written 0600. */
export function secretFiles(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash?: (password: string) => string,
): Record<string, string> {
  return {
    "secrets.conf": renderSecretsConf(cfg, secrets),
    ...(cfg.security.aclUsers ? { "users.acl": renderUsersAcl(secrets, hash) } : {}),
    "probe.pass": renderProbePassword(cfg, secrets),
  };
}

/** Files without secrets, by file name. */
export function plainFiles(cfg: ResolvedConfig): Record<string, string> {
  return { "redis.conf": renderRedisConf(cfg), "probe.sh": renderProbeScript(cfg) };
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
  if (cfg.security.bindNodeAddress && nodeAddress) args.push("--bind", ...cfg.bind, nodeAddress);
  return args;
}
