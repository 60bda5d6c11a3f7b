import { ResolvedConfig } from "../config/resolve";
import { SecretKey, SecretValues, configFile, need, sha256Hex } from "./redis-conf";

/**
 * The ACL users of the production profile, on the Redis nodes and on the sentinels, and why each
 * holds what it holds. ACL rules name commands by their original names, so `+config|rewrite` stays
 * right while CONFIG is renamed. Channel permissions are allow-lists (`acl-pubsub-default
 * resetchannels`), and PSUBSCRIBE patterns must equal an allowed pattern literally.
 *
 * | user | where | may | may not, and why |
 * |---|---|---|---|
 * | app | nodes | every data command on every key and database; INFO (ioredis's ready check); CLIENT SETNAME/GETNAME/ID/INFO; EVAL/EVALSHA/FCALL; PUBLISH and SUBSCRIBE on `appChannels`; SUBSCRIBE (not PUBLISH) on keyspace notifications | `@dangerous` (FLUSH*, CONFIG, KEYS, SHUTDOWN, REPLICAOF, ACL, MONITOR, DEBUG…); SCRIPT FLUSH/KILL/DEBUG and FUNCTION LOAD/DELETE/FLUSH/RESTORE/KILL (server-wide state other services share; SCRIPT DEBUG SYNC blocks the server); CLUSTER (not a cluster); MEMORY but USAGE (operator diagnostics); any other channel: `PUBLISH __sentinel__:hello` would let it point every sentinel at a server of its choosing |
 * | admin | nodes | operations: every command, the renamed CONFIG, INFO, SLOWLOG, CLIENT, BGSAVE; SUBSCRIBE to any channel; PUBLISH on `appChannels` | ACL changes (users come from the rendered file; a change at run time would differ per node and vanish on restart); MODULE, DEBUG, SCRIPT DEBUG; SYNC/PSYNC/REPLCONF (replicas' protocol); in a group REPLICAOF/SLAVEOF/FAILOVER (Sentinel owns the roles); PUBLISH on reserved channels (`__sentinel__:hello`) |
 * | probe | nodes | PING | everything else: its password sits in a file beside the probe script |
 * | replication | nodes (group) | PSYNC, REPLCONF, PING: what a replica sends | reading or writing keys, channels |
 * | sentinel | nodes (group) | what Sentinel sends to monitor and reconfigure a node (Redis Sentinel docs), its hello channel | data, other channels, other CONFIG subcommands |
 * | sentinel-client | sentinels | master lookups, PING, event subscriptions | SENTINEL FAILOVER/SET/MONITOR/REMOVE/RESET, PUBLISH (a hello published to a sentinel is believed) |
 * | sentinel-peer | sentinels | what one sentinel sends another: PING, CLIENT SETNAME, hello PUBLISH, SENTINEL IS-MASTER-DOWN-BY-ADDR | everything else: its password is in every sentinel's state file |
 * | default | both | nothing (off) | |
 */

/** Keyspace and keyevent notifications: sessions expire through `__keyevent@<db>__:expired`. */
export const KEYSPACE_CHANNELS = ["__keyevent@*__:*", "__keyspace@*__:*"] as const;

/** The channel Sentinel discovers peers on; only the sentinel users may use it. */
export const SENTINEL_HELLO_CHANNEL = "__sentinel__:hello";

/** Server-wide script and function state, and the script debugger, kept from applications. */
const SHARED_SCRIPT_STATE = [
  "-script|flush",
  "-script|kill",
  "-script|debug",
  "-function|load",
  "-function|delete",
  "-function|flush",
  "-function|restore",
  "-function|kill",
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
      "+client|setname",
      "+client|getname",
      "+client|id",
      "+client|info",
      "-cluster",
      "-memory",
      "+memory|usage",
      ...SHARED_SCRIPT_STATE,
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
    probe: "resetchannels -@all +ping",
    replication: "resetchannels -@all +psync +replconf +ping",
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

/** The rules of each user on the sentinels. */
export const SENTINEL_ACL_RULES = {
  "sentinel-client": [
    // Sentinel's event channels (+switch-master, +sdown…) are what clients subscribe to.
    "resetchannels &*",
    "-@all +ping +hello",
    "+sentinel|get-master-addr-by-name +sentinel|sentinels +sentinel|replicas +sentinel|slaves +sentinel|master",
    "+subscribe +psubscribe +unsubscribe +punsubscribe",
  ].join(" "),
  "sentinel-peer": [
    "resetchannels",
    `&${SENTINEL_HELLO_CHANNEL}`,
    "-@all +ping +publish +client|setname +sentinel|is-master-down-by-addr",
  ].join(" "),
} as const;

/** users.acl for production: `default` off, then each user with a SHA-256 password hash. */
export function renderUsersAcl(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash: (password: string) => string = sha256Hex,
): string {
  const rules = nodeAclRules(cfg);
  const rule = (user: NodeUser, key: SecretKey) =>
    `user ${user} on #${hash(need(secrets, key))} ${rules[user]}`;
  return configFile("users.acl", [
    // A connection that has not authenticated can run nothing.
    "user default off resetchannels -@all",
    rule("app", "appPassword"),
    rule("admin", "adminPassword"),
    rule("probe", "probePassword"),
    ...(cfg.topology === "sentinel"
      ? [rule("replication", "replicationPassword"), rule("sentinel", "sentinelNodePassword")]
      : []),
  ]);
}

/** The sentinels' own users: `default` off, clients and peers with SHA-256 password hashes. */
export function sentinelUserLines(
  secrets: SecretValues,
  hash: (password: string) => string,
): string[] {
  const rule = (user: keyof typeof SENTINEL_ACL_RULES, key: SecretKey) =>
    `user ${user} on #${hash(need(secrets, key))} ${SENTINEL_ACL_RULES[user]}`;
  return [
    "user default off resetchannels -@all",
    rule("sentinel-client", "sentinelClientPassword"),
    rule("sentinel-peer", "sentinelPeerPassword"),
  ];
}
