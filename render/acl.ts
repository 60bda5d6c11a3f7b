import { ResolvedConfig } from "../config/resolve";
import { SecretValues, configFile, need, sha256Hex, userFor } from "./redis-conf";

/**
 * The ACL users of the production profile, on the Redis nodes and on the sentinels, and why each
 * holds what it holds. ACL rules name commands by their original names, so `+config|rewrite` stays
 * right while CONFIG is renamed. Channel permissions are allow-lists (`acl-pubsub-default
 * resetchannels`), and PSUBSCRIBE patterns must equal an allowed pattern literally.
 *
 * | user | where | may | may not, and why |
 * |---|---|---|---|
 * | app | nodes | every data command on every key and database; INFO (ioredis's ready check); CLIENT SETNAME/GETNAME/ID/INFO; FCALL/FCALL_RO of functions an operator loaded; PUBLISH and SUBSCRIBE on `appChannels`; SUBSCRIBE (not PUBLISH) on keyspace notifications | `@dangerous` (FLUSH*, CONFIG, KEYS, SHUTDOWN, REPLICAOF, ACL, MONITOR, DEBUG…); EVAL/EVALSHA/SCRIPT and FUNCTION LOAD/DELETE/FLUSH/RESTORE/KILL (a busy script blocks a node for good, Lua memory is outside maxmemory, the script and function state is shared); CLIENT TRACKING/CACHING (REDIRECT reaches other connections' subscriptions); CLUSTER (not a cluster); MEMORY but USAGE (operator diagnostics); `appDeniedCommands` (SETRANGE, SETBIT, BITFIELD, COPY, set algebra, *STORE, BITOP: a short call makes a large value or holds the node for seconds); any other channel: `PUBLISH __sentinel__:hello` would let it point every sentinel at a server of its choosing |
 * | admin | nodes | operations: every command, the renamed CONFIG, INFO, SLOWLOG, CLIENT, BGSAVE; SUBSCRIBE to any channel; PUBLISH on `appChannels` | ACL changes (users come from the rendered file; a change at run time would differ per node and vanish on restart); MODULE, DEBUG, SCRIPT DEBUG; SYNC/PSYNC/REPLCONF (replicas' protocol); in a group REPLICAOF/SLAVEOF/FAILOVER (Sentinel owns the roles); PUBLISH on reserved channels (`__sentinel__:hello`) |
 * | probe | nodes | PING, INFO (a replica is ready when its link is up) | everything else: its password sits in a file beside the probe script |
 * | failover | nodes (group) | what the pre-stop hook needs on its own node: INFO, CLIENT PAUSE/UNPAUSE (writes wait while the sentinels promote a replica that has them all) | keys, channels, everything else |
 * | replication | nodes (group) | PSYNC, REPLCONF, PING: what a replica sends | reading or writing keys, channels |
 * | backup | nodes | what `redis-cli --rdb` sends: REPLCONF CAPA and RDB-ONLY, SYNC (a snapshot of the dataset, streamed to the backup script) | keys, channels, every other command; REPLCONF LISTENING-PORT/IP-ADDRESS/ACK (a replica that announces an address is one the sentinels connect to, with their password, and may promote; ACK would count for min-replicas-to-write and WAIT) |
 * | sentinel | nodes (group) | what Sentinel sends to monitor and reconfigure a node (Redis Sentinel docs), its hello channel | data, other channels, other CONFIG subcommands |
 * | sentinel-client | sentinels | master lookups, PING, subscriptions to Sentinel's event channels by name | SENTINEL FAILOVER/SET/MONITOR/REMOVE/RESET, PUBLISH (a hello published to a sentinel is believed); any other channel (a subscriber's channel names are memory Redis does not count as the client's) |
 * | failover | sentinels | SENTINEL FAILOVER, the master lookup and SENTINEL REPLICAS (is a replica promotable?): the pre-stop hook of the master's pod | other SENTINEL subcommands |
 * | sentinel-peer | sentinels | what one sentinel sends another: PING, CLIENT SETNAME, hello PUBLISH, SENTINEL IS-MASTER-DOWN-BY-ADDR | everything else: its password is in every sentinel's state file |
 * | commander | nodes, both profiles | Redis Commander: with `commanderReadOnly` (production's default) the read commands (`@read`: GET, SCAN, TYPE, TTL, HGETALL, MEMORY USAGE…), INFO (ioredis's ready check confirms it reached the master after a failover; Commander's server page), SELECT and the connection commands it sends (CLIENT SETNAME, COMMAND); otherwise also `@write` | `@dangerous` but INFO (KEYS, FLUSH*, CONFIG, MONITOR, CLIENT LIST/KILL, DEBUG, SHUTDOWN, ACL…); any write when read-only; scripting (EVAL runs writes), pub/sub (no channel granted), transactions when read-only; `@blocking` (BLPOP, XREAD…: one connection per database serves every Commander user, a blocked one stalls them all) |
 * | exporter | nodes and sentinels, both profiles (Kubernetes metrics) | what redis_exporter reads: INFO (every metric, key counts per database), PING, CLIENT SETNAME, LATENCY LATEST and HISTOGRAM (timings, no arguments), SLOWLOG LEN; on the sentinels SENTINEL MASTERS/SENTINELS/REPLICAS/CKQUORUM | every key (no key pattern), channels; SLOWLOG GET (the slow log holds the arguments of commands, values included); CONFIG GET (it returns `masterauth` and `requirepass`: a password of another user); CLIENT LIST |
 * | default | both | nothing (off) | dev: the password of requirepass, every command |
 */

/** Keyspace and keyevent notifications: sessions expire through `__keyevent@<db>__:expired`. */
export const KEYSPACE_CHANNELS = ["__keyevent@*__:*", "__keyspace@*__:*"] as const;

/** The channel Sentinel discovers peers on; only the sentinel users may use it. */
export const SENTINEL_HELLO_CHANNEL = "__sentinel__:hello";

/**
 * Lua is the operator's, not the application's: an EVAL of `while true do end` leaves a node
 * answering BUSY to everyone (once it has written, SCRIPT KILL cannot stop it and Sentinel fails
 * it over; twice, and the last node has no replica to write with), and Lua's memory is outside
 * maxmemory. The application calls functions an operator reviewed and loaded (FUNCTION LOAD as
 * admin) with FCALL/FCALL_RO, and may list them.
 */
const APP_SCRIPTING = [
  "-@scripting",
  "+fcall",
  "+fcall_ro",
  "+function|list",
  "+function|stats",
  "+function|dump",
];

/**
 * Client-side caching can redirect invalidation messages into another connection's subscription
 * (CLIENT TRACKING … REDIRECT <id>): a way to reach channels the ACL does not grant.
 */
const APP_CLIENT = [
  "+client|setname",
  "+client|getname",
  "+client|id",
  "+client|info",
  "-client|tracking",
  "-client|caching",
  "-client|getredir",
  "-client|trackinginfo",
];

/** PUBLISH (and SPUBLISH) only on the application's channels: a selector adds them back. */
function publishOnly(channels: readonly string[]): string[] {
  return [
    "-publish",
    "-spublish",
    `(+publish +spublish ${channels.map((c) => `&${c}`).join(" ")})`,
  ];
}

/** The rules of each user on the Redis nodes, for this stack. */
export function nodeAclRules(cfg: ResolvedConfig) {
  const appChannels = cfg.appChannels;
  const grouped = cfg.topology === "sentinel";
  return {
    app: [
      "~*",
      "resetchannels",
      ...[...appChannels, ...KEYSPACE_CHANNELS].map((c) => `&${c}`),
      "+@all",
      "-@dangerous",
      "+info",
      ...APP_CLIENT,
      "-cluster",
      "-memory",
      "+memory|usage",
      ...APP_SCRIPTING,
      // One short call of these makes a large value or works over whole keys (config/client-limits.ts).
      ...cfg.appDeniedCommands.map((command) => `-${command}`),
      ...publishOnly(appChannels),
    ].join(" "),
    admin: [
      "~*",
      "resetchannels",
      "&*",
      "+@all",
      "-acl|setuser",
      "-acl|deluser",
      "-acl|load",
      "-acl|save",
      "-module",
      "-debug",
      "-script|debug",
      "-sync",
      "-psync",
      "-replconf",
      ...(grouped ? ["-replicaof", "-slaveof", "-failover"] : []),
      ...publishOnly(appChannels),
    ].join(" "),
    probe: "resetchannels -@all +ping +info",
    failover: "resetchannels -@all +ping +info +client|pause +client|unpause",
    replication: "resetchannels -@all +psync +replconf +ping",
    // Exactly what `redis-cli --rdb` sends: REPLCONF capa eof, REPLCONF rdb-only 1, SYNC. REPLCONF
    // only with those first arguments: a replica that announces an address (listening-port,
    // ip-address) is one the sentinels connect to with their password, and promote; one that sends
    // ACK counts for min-replicas-to-write and WAIT without holding the writes.
    backup: "resetchannels -@all +replconf|capa +replconf|rdb-only +sync",
    sentinel: [
      "resetchannels",
      `&${SENTINEL_HELLO_CHANNEL}`,
      "-@all",
      "+multi +exec +slaveof +replicaof +ping +info +role +publish +subscribe",
      "+config|rewrite +client|setname +client|kill +script|kill",
    ].join(" "),
  } as const;
}

export type NodeUser = keyof ReturnType<typeof nodeAclRules>;

/** The Commander user's name on the Redis nodes, on both profiles. */
export const COMMANDER_REDIS_USER = "commander";

/**
 * What Redis Commander may run. `@dangerous` goes, INFO comes back alone: ioredis's ready check
 * reads the role from it, so a connection that reached a demoted master after a failover is
 * dropped and retried through the sentinels. Commander's own start-up probes (MODULE LIST, INFO
 * cluster) fail quietly.
 */
export function commanderAclRules(cfg: ResolvedConfig): string {
  return [
    "~*",
    "resetchannels",
    "-@all",
    "+@read",
    ...(cfg.commander.readOnly ? [] : ["+@write", "+multi", "+exec", "+discard"]),
    "-@dangerous",
    "+info",
    "+select",
    "+ping",
    "+echo",
    "+hello",
    "+quit",
    "+reset",
    "+command",
    "+client|setname",
    "+client|getname",
    "+client|id",
    // Last, so no rule above brings one back: Commander shares one connection per database among
    // all its users, so a BLPOP or XREAD BLOCK 0 typed in its console would stall that database
    // for everyone. The UI reads streams with XRANGE and XLEN, never XREAD.
    "-@blocking",
  ].join(" ");
}

/** The `user commander …` line of users.acl. */
export function commanderUserLine(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash: (password: string) => string,
): string {
  return `user ${COMMANDER_REDIS_USER} on #${hash(need(secrets, "commanderRedisPassword"))} ${commanderAclRules(cfg)}`;
}

/** The exporter user's name, on the nodes and on the sentinels, on both profiles. */
export const EXPORTER_USER = "exporter";

/** What redis_exporter may run on a Redis node: no key, no channel, no value. */
export const EXPORTER_NODE_RULES =
  "resetkeys resetchannels -@all +ping +info +client|setname +latency|latest +latency|histogram +slowlog|len";

/** What redis_exporter may run on a sentinel: its view of the master, replicas and peers. */
export const EXPORTER_SENTINEL_RULES =
  "resetkeys resetchannels -@all +ping +info +client|setname +sentinel|masters +sentinel|sentinels +sentinel|replicas +sentinel|slaves +sentinel|ckquorum";

/** The `user exporter …` line of a node's users.acl or a sentinel's secrets. */
export function exporterUserLine(
  secrets: SecretValues,
  hash: (password: string) => string,
  rules: string,
): string {
  return `user ${EXPORTER_USER} on #${hash(need(secrets, "exporterPassword"))} ${rules}`;
}

/**
 * The channels Sentinel publishes its events on (Redis 7.0 and 7.2, sentinel.c): what monitoring
 * clients subscribe to, by name (a PSUBSCRIBE pattern must equal one of them).
 */
export const SENTINEL_EVENT_CHANNELS = [
  "+reset-master",
  "+monitor",
  "-monitor",
  "+set",
  "+slave",
  "+sentinel",
  "-dup-sentinel",
  "+sentinel-invalid-addr",
  "+sentinel-address-switch",
  "+sentinel-address-update",
  "+fix-slave-config",
  "+convert-to-slave",
  "+slave-reconf-sent",
  "+slave-reconf-sent-be",
  "-slave-reconf-sent-timeout",
  "+slave-reconf-inprog",
  "+slave-reconf-done",
  "+role-change",
  "-role-change",
  "+reboot",
  "-reboot",
  "+sdown",
  "-sdown",
  "+odown",
  "-odown",
  "+new-epoch",
  "+vote-for-leader",
  "+elected-leader",
  "+try-failover",
  "-failover-abort-not-elected",
  "-failover-abort-no-good-slave",
  "-failover-abort-slave-timeout",
  "+failover-state-select-slave",
  "+selected-slave",
  "+failover-state-send-slaveof-noone",
  "+failover-state-wait-promotion",
  "+promoted-slave",
  "+failover-state-reconf-slaves",
  "+failover-detected",
  "+failover-end-for-timeout",
  "+failover-end",
  "+switch-master",
  "+tilt",
  "-tilt",
  "+config-update-from",
  "+script-child",
  "-script-child",
  "-script-error",
  "-script-timeout",
  "-cmd-link-reconnection",
  "-pubsub-link-reconnection",
] as const;

/** The rules of each user on the sentinels. */
export const SENTINEL_ACL_RULES = {
  "sentinel-client": [
    // Sentinel's event channels (+switch-master, +sdown…) are what clients subscribe to: those
    // names only, since a name Redis keeps for a subscriber is memory it does not count as the
    // client's (a hundred names of 1 MB took a sentinel past its container limit).
    `resetchannels ${SENTINEL_EVENT_CHANNELS.map((c) => `&${c}`).join(" ")}`,
    "-@all +ping +hello",
    "+sentinel|get-master-addr-by-name +sentinel|sentinels +sentinel|replicas +sentinel|slaves +sentinel|master",
    "+subscribe +psubscribe +unsubscribe +punsubscribe",
  ].join(" "),
  failover:
    "resetchannels -@all +ping +sentinel|failover +sentinel|get-master-addr-by-name +sentinel|replicas",
  "sentinel-peer": [
    "resetchannels",
    `&${SENTINEL_HELLO_CHANNEL}`,
    "-@all +ping +publish +client|setname +sentinel|is-master-down-by-addr",
  ].join(" "),
} as const;

/**
 * users.acl, each user with a SHA-256 password hash. Production: `default` off, then its users.
 * Dev: `default` as `requirepass` makes it (every command, the same password), and Commander's user.
 */
export function renderUsersAcl(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash: (password: string) => string = sha256Hex,
): string {
  if (!cfg.security.aclUsers)
    return configFile("users.acl", [
      `user default on #${hash(need(secrets, "defaultPassword"))} ~* &* +@all`,
      ...(cfg.commander.enabled ? [commanderUserLine(cfg, secrets, hash)] : []),
      ...(cfg.metrics.enabled ? [exporterUserLine(secrets, hash, EXPORTER_NODE_RULES)] : []),
    ]);
  const rules = nodeAclRules(cfg);
  // During a rotation the app user has two passwords: the new one, and the one clients still hold.
  const passwords = (user: NodeUser) => [
    need(secrets, userFor(cfg, user).secret),
    ...(user === "app" && cfg.suppliedSecrets.includes("appPasswordPrevious")
      ? [need(secrets, "appPasswordPrevious")]
      : []),
  ];
  const rule = (user: NodeUser) =>
    `user ${user} on ${passwords(user)
      .map((p) => `#${hash(p)}`)
      .join(" ")} ${rules[user]}`;
  return configFile("users.acl", [
    // A connection that has not authenticated can run nothing.
    "user default off resetchannels -@all",
    rule("app"),
    rule("admin"),
    rule("probe"),
    ...(cfg.topology === "sentinel"
      ? [rule("replication"), rule("sentinel"), rule("failover")]
      : []),
    ...(cfg.backup.enabled ? [rule("backup")] : []),
    ...(cfg.commander.enabled ? [commanderUserLine(cfg, secrets, hash)] : []),
    ...(cfg.metrics.enabled ? [exporterUserLine(secrets, hash, EXPORTER_NODE_RULES)] : []),
  ]);
}

/** The sentinels' own users: `default` off, clients and peers with SHA-256 password hashes. */
export function sentinelUserLines(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash: (password: string) => string,
): string[] {
  const rule = (user: keyof typeof SENTINEL_ACL_RULES) =>
    `user ${user} on #${hash(need(secrets, userFor(cfg, user).secret))} ${SENTINEL_ACL_RULES[user]}`;
  return [
    "user default off resetchannels -@all",
    rule("sentinel-client"),
    rule("sentinel-peer"),
    rule("failover"),
    ...(cfg.metrics.enabled ? [exporterUserLine(secrets, hash, EXPORTER_SENTINEL_RULES)] : []),
  ];
}
