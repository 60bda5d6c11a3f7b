import { ResolvedConfig } from "../config/resolve";
import { SecretValues, header, renderPingProbe, userFor } from "./redis-conf";

/** Sentinel's port in containers and pods. */
export const SENTINEL_PORT = 26379;

/** Kubernetes: a sentinel's state file lives in its own in-memory volume (Docker: the data volume). */
export const SENTINEL_STATE_DIR = "/state";

/**
 * How long a restarting node that the sentinels still name as master waits for them to fail over
 * before it starts as master anyway (a group that cannot fail over must still come back).
 */
export function masterWaitSeconds(cfg: ResolvedConfig): number {
  return Math.ceil((2 * cfg.sentinel.downAfterMs) / 1000) + 10;
}

function quote(value: string): string {
  return `"${value}"`;
}

function need(secrets: SecretValues, key: keyof SecretValues): string {
  const value = secrets[key];
  if (value === undefined) throw new Error(`secret ${key} is required to render this file`);
  return value;
}

/**
 * sentinel.conf settings, without secrets and without the `sentinel monitor` line: the start
 * script writes that line first (the master is the one the other sentinels know, or the initial
 * one), then this file and sentinel-secrets.conf, into the writable state file Sentinel rewrites.
 */
export function renderSentinelConf(cfg: ResolvedConfig): string {
  const name = cfg.sentinel.masterName;
  return (
    [
      header(cfg, "sentinel.conf"),
      `port ${SENTINEL_PORT}`,
      `bind ${cfg.bind.join(" ")}`,
      `protected-mode ${cfg.security.protectedMode ? "yes" : "no"}`,
      "daemonize no",
      'logfile ""',
      // Kubernetes pod IPs change: nodes and sentinels are known by their stable DNS names.
      "sentinel resolve-hostnames yes",
      "sentinel announce-hostnames yes",
      // No client may make a sentinel run a script.
      "sentinel deny-scripts-reconfig yes",
      `sentinel down-after-milliseconds ${name} ${cfg.sentinel.downAfterMs}`,
      `sentinel failover-timeout ${name} ${cfg.sentinel.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${name} 1`,
    ].join("\n") + "\n"
  );
}

/** The ACL rules of each sentinel user (on the sentinels themselves). */
export const SENTINEL_ACL_RULES = {
  // Clients (ioredis, the start scripts) look up the master and watch failover events.
  "sentinel-client":
    "&* -@all +ping +auth +hello +sentinel|get-master-addr-by-name +sentinel|sentinels +sentinel|replicas +sentinel|slaves +sentinel|master +subscribe +psubscribe +unsubscribe +punsubscribe",
  // The other sentinels of the group.
  "sentinel-peer": "&* +@all",
} as const;

/**
 * Sentinel secrets: its own users (production) or password (dev), the credentials it uses with the
 * other sentinels and with the Redis nodes, and the CONFIG rename it must use on the nodes.
 */
export function renderSentinelSecretsConf(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash: (password: string) => string,
): string {
  const name = cfg.sentinel.masterName;
  const lines = [header(cfg, "sentinel-secrets.conf")];
  if (cfg.security.aclUsers) {
    lines.push(
      "user default off resetchannels -@all",
      `user sentinel-client on #${hash(need(secrets, "sentinelClientPassword"))} ${SENTINEL_ACL_RULES["sentinel-client"]}`,
      `user sentinel-peer on #${hash(need(secrets, "sentinelPeerPassword"))} ${SENTINEL_ACL_RULES["sentinel-peer"]}`,
      "sentinel sentinel-user sentinel-peer",
      `sentinel sentinel-pass ${quote(need(secrets, "sentinelPeerPassword"))}`,
      `sentinel auth-user ${name} ${userFor(cfg, "sentinel").username}`,
      `sentinel auth-pass ${name} ${quote(need(secrets, "sentinelNodePassword"))}`,
      `sentinel rename-command ${name} CONFIG ${need(secrets, "configCommand")}`,
    );
  } else {
    const password = quote(need(secrets, "defaultPassword"));
    lines.push(
      `requirepass ${password}`,
      `sentinel sentinel-pass ${password}`,
      `sentinel auth-pass ${name} ${password}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Password file of the sentinel-client user, read by the start scripts and the sentinel probe. */
export function renderSentinelClientPassword(cfg: ResolvedConfig, secrets: SecretValues): string {
  return need(secrets, userFor(cfg, "sentinel-client").secret);
}

/** Shell function shared by both start scripts: the master the first answering sentinel names. */
function askSentinelsFunction(cfg: ResolvedConfig): string[] {
  const user = userFor(cfg, "sentinel-client").username;
  return [
    '# Prints "host port" of the master as the first answering sentinel knows it, or nothing.',
    "ask_sentinels() {",
    '  REDISCLI_AUTH="$(cat "$CONF_DIR/sentinel-client.pass")"',
    "  export REDISCLI_AUTH",
    "  for address in $SENTINELS; do",
    `    reply="$(timeout 3 redis-cli --no-auth-warning --raw --user ${user} -h "\${address%:*}" -p "\${address##*:}" sentinel get-master-addr-by-name ${cfg.sentinel.masterName} 2>/dev/null)" || continue`,
    '    host="$(printf \'%s\\n\' "$reply" | sed -n 1p)"',
    '    port="$(printf \'%s\\n\' "$reply" | sed -n 2p)"',
    "    case \"$port\" in '' | *[!0-9]*) continue ;; esac",
    '    [ -n "$host" ] && { unset REDISCLI_AUTH; echo "$host $port"; return 0; }',
    "  done",
    "  unset REDISCLI_AUTH",
    "}",
  ];
}

const SCRIPT_ENV = [
  "# Environment: CONF_DIR (rendered files), NODE_HOST and NODE_PORT (this node's stable address),",
  '# DEFAULT_MASTER ("host port" of the initial master), SENTINELS ("host:port ..." of every sentinel).',
];

/**
 * Starts a group's Redis node in the role the sentinels know, so that a restarted old master never
 * comes back as a second master: while the sentinels still name this node master, it waits
 * (not listening) until they fail over, then starts as a replica of the new master.
 */
export function renderStartRedisScript(cfg: ResolvedConfig): string {
  return [
    "#!/bin/sh",
    header(cfg, "start-redis.sh").trimEnd(),
    ...SCRIPT_ENV,
    "# Arguments: those of redis-server.",
    "set -u",
    ...askSentinelsFunction(cfg),
    "",
    "waited=0",
    "while :; do",
    '  master="$(ask_sentinels)"',
    '  if [ -z "$master" ]; then',
    '    master="$DEFAULT_MASTER"',
    '    echo "start-redis: no sentinel answered; the initial master is $master"',
    "    break",
    "  fi",
    '  [ "$master" != "$NODE_HOST $NODE_PORT" ] && break',
    // This node was master and went down: its last second of writes may be missing (appendfsync
    // everysec), while a replica holds every write a client saw acknowledged with WAIT.
    `  if [ "$waited" -ge ${masterWaitSeconds(cfg)} ]; then`,
    '    echo "start-redis: the sentinels still name this node master after ${waited}s; starting as master"',
    "    break",
    "  fi",
    '  [ "$waited" -eq 0 ] && echo "start-redis: the sentinels name this node master; waiting for them to fail over"',
    "  sleep 1",
    "  waited=$((waited + 1))",
    "done",
    "",
    'if [ "$master" = "$NODE_HOST $NODE_PORT" ]; then',
    '  echo "start-redis: starting as master"',
    '  exec redis-server "$@" --replica-announce-ip "$NODE_HOST"',
    "fi",
    'echo "start-redis: starting as replica of $master"',
    '# shellcheck disable=SC2086 # "host port" splits into two arguments',
    'exec redis-server "$@" --replica-announce-ip "$NODE_HOST" --replicaof $master',
    "",
  ].join("\n");
}

/**
 * Starts a sentinel. On its first start it writes its state file: the `sentinel monitor` line for
 * the master the other sentinels know (or the initial one), then sentinel.conf and the secrets.
 * Later starts reuse the state file, which Sentinel keeps current.
 */
export function renderStartSentinelScript(cfg: ResolvedConfig): string {
  return [
    "#!/bin/sh",
    header(cfg, "start-sentinel.sh").trimEnd(),
    ...SCRIPT_ENV,
    "# STATE_DIR holds the state file. Arguments: those of redis-sentinel.",
    "set -u",
    ...askSentinelsFunction(cfg),
    "",
    'state="$STATE_DIR/sentinel.conf"',
    'if [ ! -s "$state" ]; then',
    '  master="$(ask_sentinels)"',
    '  [ -n "$master" ] || master="$DEFAULT_MASTER"',
    '  echo "start-sentinel: monitoring $master"',
    "  umask 077",
    "  {",
    `    echo "sentinel monitor ${cfg.sentinel.masterName} $master ${cfg.sentinel.quorum}"`,
    '    echo "sentinel announce-ip $NODE_HOST"',
    '    cat "$CONF_DIR/sentinel.conf" "$CONF_DIR/sentinel-secrets.conf"',
    '  } > "$state.tmp"',
    '  mv "$state.tmp" "$state"',
    "fi",
    'exec redis-sentinel "$state" "$@"',
    "",
  ].join("\n");
}

/** Health check of a sentinel: PING as sentinel-client. */
export function renderSentinelProbeScript(cfg: ResolvedConfig): string {
  const user = userFor(cfg, "sentinel-client").username;
  return renderPingProbe(cfg, "sentinel-probe.sh", user, SENTINEL_PORT, "sentinel-client.pass");
}
