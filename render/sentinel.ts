import { ResolvedConfig } from "../config/resolve";
import { sentinelUserLines } from "./acl";
import {
  SecretValues,
  configFile,
  header,
  need,
  quote,
  renderPingProbe,
  userFor,
} from "./redis-conf";

/** Sentinel's port in containers and pods. */
export const SENTINEL_PORT = 26379;

/**
 * How long a restarting node that the sentinels still name as master waits for them to fail over
 * before it starts as master anyway (a group that cannot fail over must still come back).
 */
export function masterWaitSeconds(cfg: ResolvedConfig): number {
  return Math.ceil((2 * cfg.sentinel.downAfterMs) / 1000) + 10;
}

/**
 * sentinel.conf settings, without secrets and without the `sentinel monitor` line: the start
 * script writes that line first (the master is the one the other sentinels know, or the initial
 * one), then this file and sentinel-secrets.conf, into the writable state file Sentinel rewrites.
 */
export function renderSentinelConf(cfg: ResolvedConfig): string {
  const name = cfg.sentinel.masterName;
  return configFile("sentinel.conf", [
    ...header(cfg, "sentinel.conf"),
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
  ]);
}

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
  const lines = header(cfg, "sentinel-secrets.conf");
  if (cfg.security.aclUsers) {
    lines.push(
      ...sentinelUserLines(secrets, hash),
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
  return configFile("sentinel-secrets.conf", lines);
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

/**
 * Every start script begins here. Redis and Sentinel write files with the process umask: CONFIG
 * REWRITE puts `masteruser`/`masterauth` into redis.conf, Sentinel its `sentinel-pass` and
 * `auth-pass` into its state file, and RDB/AOF hold the data. So the umask is set on every start,
 * and whatever an earlier start, an older release or a volume's setup left open is closed again
 * (a directory the process does not own, such as a volume root, is left as it is).
 */
function ownerOnlyPrologue(dirs: readonly string[]): string[] {
  return [
    "set -u",
    "umask 077",
    `chmod -R go-rwx ${dirs.map((d) => `"$${d}"`).join(" ")} 2>/dev/null || :`,
  ];
}

const SCRIPT_ENV = [
  "# Environment: CONF_DIR (rendered files), DATA_DIR (data), NODE_HOST and NODE_PORT (this node's",
  '# stable address), DEFAULT_MASTER ("host port" of the initial master), SENTINELS ("host:port ..."',
  "# of every sentinel).",
];

/**
 * Starts a Redis node. A standalone server just starts, owner-only. A group's node starts in the
 * role the sentinels know, so that a restarted old master never comes back as a second master:
 * while the sentinels still name this node master, it waits (not listening) until they fail over,
 * then starts as a replica of the new master.
 */
export function renderStartRedisScript(cfg: ResolvedConfig): string {
  if (cfg.topology !== "sentinel") {
    return [
      "#!/bin/sh",
      ...header(cfg, "start-redis.sh").slice(0, 2),
      "# Environment: CONF_DIR (rendered files), DATA_DIR (data). Arguments: those of redis-server.",
      ...ownerOnlyPrologue(["CONF_DIR", "DATA_DIR"]),
      'exec redis-server "$@"',
      "",
    ].join("\n");
  }
  return [
    "#!/bin/sh",
    ...header(cfg, "start-redis.sh").slice(0, 2),
    ...SCRIPT_ENV,
    "# Arguments: those of redis-server.",
    ...ownerOnlyPrologue(["CONF_DIR", "DATA_DIR"]),
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
    ...header(cfg, "start-sentinel.sh").slice(0, 2),
    ...SCRIPT_ENV,
    "# STATE_DIR holds the state file. Arguments: those of redis-sentinel.",
    ...ownerOnlyPrologue(["CONF_DIR", "STATE_DIR"]),
    'mkdir -p "$STATE_DIR"',
    ...askSentinelsFunction(cfg),
    "",
    'state="$STATE_DIR/sentinel.conf"',
    'if [ ! -s "$state" ]; then',
    '  master="$(ask_sentinels)"',
    '  [ -n "$master" ] || master="$DEFAULT_MASTER"',
    '  echo "start-sentinel: monitoring $master"',
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
