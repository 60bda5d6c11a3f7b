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
      ...sentinelUserLines(cfg, secrets, hash),
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

/**
 * Shell function shared by the start and pre-stop scripts: the master the first answering sentinel
 * names, asked as `role` with its password file from CONF_DIR.
 */
function askSentinelsFunction(
  cfg: ResolvedConfig,
  role: "sentinel-client" | "failover" = "sentinel-client",
): string[] {
  const user = userFor(cfg, role).username;
  return [
    '# Prints "host port" of the master as the first answering sentinel knows it, or nothing.',
    "ask_sentinels() {",
    `  REDISCLI_AUTH="$(cat "$CONF_DIR/${role}.pass")"`,
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
    // PID 1 of a container ignores a signal it has no handler for: stop at once on SIGTERM while
    // waiting (the sleeps are 1 s), instead of holding the pod for its whole grace period.
    "trap 'echo \"start-redis: stopped while waiting\"; exit 143' TERM INT",
    // The wait is bounded in seconds, whatever an unreachable sentinel costs a turn (3 s each).
    `deadline=$(( $(date +%s) + ${masterWaitSeconds(cfg)} ))`,
    "announced=",
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
    '  if [ "$(date +%s)" -ge "$deadline" ]; then',
    `    echo "start-redis: the sentinels still name this node master after ${masterWaitSeconds(cfg)}s; starting as master"`,
    "    break",
    "  fi",
    '  [ -z "$announced" ] && { announced=1; echo "start-redis: the sentinels name this node master; waiting for them to fail over"; }',
    "  sleep 1",
    "done",
    "trap - TERM INT",
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

/** The longest the pre-stop hook takes; the pod's grace period adds the shutdown to it. */
export const PRE_STOP_SECONDS = 30;

/**
 * How long the master's hook waits, before it pauses any write, for a replica the sentinels would
 * promote: after a replica restarts (the step before in a rolling update), a sentinel skips it
 * until its next INFO of that replica, which comes every 10 s.
 */
export const PROMOTABLE_WAIT_SECONDS = 15;

/**
 * A Redis pod's terminationGracePeriodSeconds: the hook, then SIGTERM and the shutdown, in which
 * Redis 7 waits up to shutdown-timeout (10 s) for lagging replicas and writes its final RDB.
 */
export function terminationGraceSeconds(): number {
  return PRE_STOP_SECONDS + 30;
}

/**
 * The pre-stop hook of a group's Redis node (Kubernetes runs it before SIGTERM; the drill and the
 * sandbox run it the same way). A replica stops at once. The master makes its writes wait
 * (`CLIENT PAUSE … WRITE`: delayed, not refused), lets a replica catch up to its last write, asks
 * the sentinels to fail over, and returns once they name the new master: clients reconnect there
 * and resend what was waiting. Always exits 0 within PRE_STOP_SECONDS: a hook must never keep a
 * pod from stopping. Environment: as start-redis.sh.
 */
export function renderPreStopScript(cfg: ResolvedConfig): string {
  const user = userFor(cfg, "failover").username;
  const name = cfg.sentinel.masterName;
  return [
    "#!/bin/sh",
    ...header(cfg, "pre-stop.sh").slice(0, 2),
    ...SCRIPT_ENV,
    "set -u",
    ...askSentinelsFunction(cfg, "failover"),
    "",
    `deadline=$(( $(date +%s) + ${PRE_STOP_SECONDS} ))`,
    "left() { echo $(( deadline - $(date +%s) )); }",
    "# redis-cli as the failover user: cli HOST PORT COMMAND…; local_cli, and sentinel_cli HOST:PORT.",
    `cli() { _h=$1; _p=$2; shift 2; REDISCLI_AUTH="$(cat "$CONF_DIR/failover.pass")" timeout 3 redis-cli --no-auth-warning --raw --user ${user} -h "$_h" -p "$_p" "$@"; }`,
    'local_cli() { cli 127.0.0.1 "$NODE_PORT" "$@"; }',
    'sentinel_cli() { _a=$1; shift; cli "${_a%:*}" "${_a##*:}" "$@"; }',
    "field() { printf '%s\\n' \"$1\" | tr -d '\\r' | sed -n \"s/^$2:\\\\(.*\\\\)$/\\\\1/p\"; }",
    "# How many replicas the sentinel at $1 would promote now: linked, and seen so since its last INFO.",
    "promotable() {",
    `  sentinel_cli "$1" sentinel replicas ${name} 2>/dev/null |`,
    "    tr -d '\\r' | awk '",
    '      function check() { if (v["flags"] == "slave" && v["master-link-status"] == "ok" && v["master-link-down-time"] == "0") n++; split("", v) }',
    "      NR % 2 == 1 { k = $0; next }",
    '      { if (k == "name" && seen) check(); seen = 1; v[k] = $0 }',
    "      END { if (seen) check(); print n + 0 }'",
    "}",
    "",
    'master="$(ask_sentinels)"',
    'if [ "$master" != "$NODE_HOST $NODE_PORT" ]; then',
    '  echo "pre-stop: not the master (${master:-no sentinel answered}); stopping"',
    "  exit 0",
    "fi",
    'info="$(local_cli info replication)"',
    'if [ "$(field "$info" connected_slaves)" = "0" ]; then',
    '  echo "pre-stop: master without replicas; nothing to fail over to"',
    "  exit 0",
    "fi",
    `ready_by=$(( $(date +%s) + ${PROMOTABLE_WAIT_SECONDS} ))`,
    "while :; do",
    "  for address in $SENTINELS; do",
    '    [ "$(promotable "$address")" -gt 0 ] && break 2',
    "  done",
    '  if [ "$(date +%s)" -ge "$ready_by" ]; then',
    `    echo "pre-stop: no sentinel would promote a replica within ${PROMOTABLE_WAIT_SECONDS}s; stopping as master"`,
    "    exit 0",
    "  fi",
    "  sleep 0.5",
    "done",
    "# From here writes wait until this node stops; the pause outlasts the hook.",
    'local_cli client pause "$(( ($(left) + 5) * 1000 ))" write >/dev/null',
    'target="$(field "$(local_cli info replication)" master_repl_offset)"',
    "# A replica that holds every write: the one the sentinels will promote.",
    'while [ "$(left)" -gt 0 ]; do',
    "  best=\"$(local_cli info replication | tr -d '\\r' | sed -n 's/^slave[0-9]*:.*state=online,offset=\\([0-9]*\\).*/\\1/p' | sort -n | tail -n 1)\"",
    '  [ "${best:-0}" -ge "${target:-0}" ] && break',
    "  sleep 0.1",
    "done",
    "asked=",
    "for address in $SENTINELS; do",
    `  reply="$(sentinel_cli "$address" sentinel failover ${name} 2>&1)"`,
    '  [ "$reply" = "OK" ] && { asked=$address; break; }',
    '  echo "pre-stop: $address: $reply"',
    "done",
    'if [ -z "$asked" ]; then',
    "  local_cli client unpause >/dev/null",
    '  echo "pre-stop: no sentinel started a failover; stopping as master"',
    "  exit 0",
    "fi",
    'while [ "$(left)" -gt 0 ]; do',
    "  # The sentinel that runs the failover names the new master first.",
    '  now="$(SENTINELS="$asked"; ask_sentinels)"',
    '  if [ -n "$now" ] && [ "$now" != "$NODE_HOST $NODE_PORT" ]; then',
    '    echo "pre-stop: failed over to $now; stopping"',
    "    exit 0",
    "  fi",
    "  sleep 0.1",
    "done",
    "local_cli client unpause >/dev/null",
    `echo "pre-stop: no new master within ${PRE_STOP_SECONDS}s; stopping as master"`,
    "exit 0",
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
