import {
  CLIENT_LIMIT_DIRECTIVES,
  SENTINEL_CLIENT_LIMITS,
  SENTINEL_MAXCLIENTS,
  clientLimitLines,
} from "../config/client-limits";
import { ResolvedConfig } from "../config/resolve";
import { RESTORED_MARKER } from "./backup";
import { EXPORTER_SENTINEL_RULES, exporterUserLine, sentinelUserLines } from "./acl";
import type { Endpoint } from "./connection";
import {
  SecretValues,
  configFile,
  dockerSentinelAddress,
  header,
  need,
  quote,
  renderPingProbe,
  userFor,
} from "./redis-conf";

/** Sentinel's port in containers and pods. */
export const SENTINEL_PORT = 26379;

/** Every sentinel of a Docker group, at its fixed address on the network. */
export function dockerSentinelEndpoints(cfg: ResolvedConfig): Endpoint[] {
  return Array.from({ length: cfg.sentinel.sentinels }, (_, i) => ({
    host: dockerSentinelAddress(cfg, i),
    port: SENTINEL_PORT,
  }));
}

/** Endpoints as the rendered scripts read them (SENTINELS, NODES): "host:port host:port …". */
export function endpointList(endpoints: readonly Endpoint[]): string {
  return endpoints.map((e) => `${e.host}:${e.port}`).join(" ");
}

/**
 * How long a restarting node that the sentinels still name as master, while a replica holds newer
 * data, waits for them to fail over before it starts as master anyway (a group that cannot fail
 * over must still come back): down-after, then one attempt that may abort (a split vote, no
 * promotable replica yet) and its retry 2 x failover-timeout later, and 10 s to spare.
 */
export function masterWaitSeconds(cfg: ResolvedConfig): number {
  return Math.ceil((cfg.sentinel.downAfterMs + 2 * cfg.sentinel.failoverTimeoutMs) / 1000) + 10;
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
    // Every application holds the sentinel-client password: its clients are bounded like a node's.
    `maxclients ${SENTINEL_MAXCLIENTS}`,
    ...clientLimitLines(SENTINEL_CLIENT_LIMITS),
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
      ...(cfg.metrics.enabled ? [exporterUserLine(secrets, hash, EXPORTER_SENTINEL_RULES)] : []),
    );
  }
  return configFile("sentinel-secrets.conf", lines);
}

/** Password file of the sentinel-client user, read by the start scripts and the sentinel probe. */
export function renderSentinelClientPassword(cfg: ResolvedConfig, secrets: SecretValues): string {
  return need(secrets, userFor(cfg, "sentinel-client").secret);
}

/**
 * Shell function of the pre-stop hook: the master the first answering sentinel names, asked as the
 * failover user (the start scripts need a majority: sentinelRecordFunction).
 */
function askSentinelsFunction(cfg: ResolvedConfig): string[] {
  const role = "failover";
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
  '# of every sentinel), NODES ("host:port ..." of every Redis node, in ordinal order); optional',
  "# SENTINEL_RECORD_WAIT_SECONDS and PEER_WAIT_SECONDS shorten the choosing waits (tests).",
];

/**
 * How long a node that finds no sentinel record, and holds the same data as another node, waits
 * for one before it breaks the tie by ordinal: after a clean stop every node holds the same data,
 * and only the sentinels remember which one was master.
 */
export const SENTINEL_RECORD_WAIT_SECONDS = 30;

/**
 * How long a node that finds no sentinel record waits for every other node to answer before a
 * majority of them may choose without the rest.
 */
export const PEER_WAIT_SECONDS = 60;

/**
 * How long the startup probe of a sentinel without state allows it to wait for the nodes to
 * choose a master (it never guesses one: see renderStartSentinelScript).
 */
export const SENTINEL_START_WAIT_SECONDS = PEER_WAIT_SECONDS + 30;

/** Key of the stand-in server that holds a choosing node's record of its data. */
const RECORD_KEY = "lowcode:recorded-data";

/**
 * Shell function sentinel_record: "host port" of the master by the sentinels' record. A majority
 * of the sentinels must answer, and the answer with the highest config epoch wins: a sentinel
 * that was down during a failover, or restarted before the others, still names the old master,
 * under an older epoch. Prints nothing when fewer than a majority answer.
 */
function sentinelRecordFunction(cfg: ResolvedConfig): string[] {
  const user = userFor(cfg, "sentinel-client").username;
  const value = (key: string) =>
    `printf '%s\\n' "$_reply" | awk 'NR % 2 == 1 && $0 == "${key}" { getline; print; exit }'`;
  return [
    "sentinel_record() {",
    '  REDISCLI_AUTH="$(cat "$CONF_DIR/sentinel-client.pass")"',
    "  export REDISCLI_AUTH",
    "  _all=0; _answered=0; _epoch=-1; _record=",
    "  for address in $SENTINELS; do",
    "    _all=$((_all + 1))",
    `    _reply="$(timeout 3 redis-cli --no-auth-warning --raw --user ${user} -h "\${address%:*}" -p "\${address##*:}" sentinel master ${cfg.sentinel.masterName} 2>/dev/null | tr -d '\\r')"`,
    `    _e="$(${value("config-epoch")})"`,
    // During a failover SENTINEL MASTER shows the new epoch with the old address: the address
    // comes from the lookup, which switches with the epoch.
    `    _addr="$(timeout 3 redis-cli --no-auth-warning --raw --user ${user} -h "\${address%:*}" -p "\${address##*:}" sentinel get-master-addr-by-name ${cfg.sentinel.masterName} 2>/dev/null | tr -d '\\r')"`,
    `    _host="$(printf '%s\\n' "$_addr" | sed -n 1p)"; _port="$(printf '%s\\n' "$_addr" | sed -n 2p)"`,
    '    case "$_port:$_e" in *[!0-9:]* | :* | *:) continue ;; esac',
    '    [ -n "$_host" ] || continue',
    "    _answered=$((_answered + 1))",
    '    [ "$_e" -gt "$_epoch" ] && { _epoch=$_e; _record="$_host $_port"; }',
    "  done",
    "  unset REDISCLI_AUTH",
    '  [ $((_answered * 2)) -gt "$_all" ] && echo "$_record"',
    "  return 0",
    "}",
  ];
}

/**
 * Shell functions to ask the Redis nodes, as the probe user (PING and INFO only): peer_cli
 * HOST:PORT COMMAND…, field TEXT NAME, and running_master HOST:PORT, which prints "host port" of
 * the master a running node serves (itself) or follows, and nothing when it does not run.
 */
function peerFunctions(cfg: ResolvedConfig): string[] {
  const probe = userFor(cfg, "probe").username;
  return [
    `peer_cli() { _a=$1; shift; REDISCLI_AUTH="$(cat "$CONF_DIR/probe.pass")" timeout 3 redis-cli --no-auth-warning --raw --user ${probe} -h "\${_a%:*}" -p "\${_a##*:}" "$@" 2>/dev/null | tr -d '\\r'; }`,
    'field() { printf \'%s\\n\' "$1" | sed -n "s/^$2:\\\\(.*\\\\)$/\\\\1/p"; }',
    "running_master() {",
    '  _info="$(peer_cli "$1" info replication)"',
    '  case "$(field "$_info" role)" in',
    '    master) echo "${1%:*} ${1##*:}" ;;',
    '    slave) echo "$(field "$_info" master_host) $(field "$_info" master_port)" ;;',
    "  esac",
    "}",
  ];
}

/**
 * The stand-in a choosing node runs on its port: the node's own arguments (port, bind, TLS…), but
 * an empty data directory, no replication (a rewritten redis.conf may hold `replicaof`) and an
 * ACL of its own. The probe user may read this node's record and nothing else — not even PING, so
 * sentinels and health checks do not take the stand-in for the node; a one-time user writes it.
 */
function standInFunctions(cfg: ResolvedConfig): string[] {
  const probe = userFor(cfg, "probe").username;
  const readOnly = `resetkeys ~${RECORD_KEY} resetchannels -@all`;
  return [
    'standin_dir="$CONF_DIR/standin"',
    "standin_pid=",
    "sha() { printf '%s' \"$1\" | sha256sum | cut -c1-64; }",
    "start_standin() {",
    '  rm -rf "$standin_dir" && mkdir -p "$standin_dir"',
    "  # A one-time password for the one SET this script makes.",
    "  token=\"$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')\"",
    "  {",
    ...(probe === "default" ? [] : ['    echo "user default off"']),
    `    echo "user ${probe} on #$(sha "$(cat "$CONF_DIR/probe.pass")") ${readOnly} +get"`,
    `    echo "user standin on #$(sha "$token") ${readOnly} +set"`,
    '  } > "$standin_dir/users.acl"',
    '  redis-server "$@" --dir "$standin_dir" --dbfilename standin.rdb --appendonly no --save "" \\',
    '    --replicaof no one --aclfile "$standin_dir/users.acl" --min-replicas-to-write 0 \\',
    "    --loglevel warning &",
    "  standin_pid=$!",
    "  i=0",
    `  until [ "$(REDISCLI_AUTH="$token" timeout 3 redis-cli --no-auth-warning --user standin -h 127.0.0.1 -p "$NODE_PORT" set ${RECORD_KEY} "$mine" 2>/dev/null)" = OK ]; do`,
    '    i=$((i + 1)); [ "$i" -lt 50 ] || { log "the stand-in server did not start"; stop_standin; exit 1; }',
    "    sleep 0.1",
    "  done",
    "}",
    'stop_standin() { [ -n "$standin_pid" ] && { kill "$standin_pid" 2>/dev/null; wait "$standin_pid" 2>/dev/null; standin_pid=; }; rm -rf "$standin_dir"; }',
  ];
}

/**
 * Shell functions for a node's record of its data, from its last RDB (Redis writes one on every
 * clean stop; loading the AOF restores no replication state): `none` without any data file;
 * `unknown` when the RDB cannot be read; else "<save time> <replication ID or -> <offset>".
 * rank_records then ranks the records the nodes published: the newest RDB names the current
 * replication history; a node of that history ranks by offset (2), any other node with data by
 * its save time (1: it was left out of the current history), a node without data last (0).
 */
function recordFunctions(): string[] {
  const aux = (key: string) =>
    `printf '%s\\n' "$_check" | sed -n "s/.*AUX FIELD ${key} = '\\\\([^']*\\\\)'.*/\\\\1/p" | head -n 1`;
  return [
    "recorded() {",
    '  _aof="$(ls -t "$DATA_DIR"/appendonlydir/*.aof 2>/dev/null | head -n 1)"',
    '  if [ ! -s "$DATA_DIR/dump.rdb" ] || { [ -n "$_aof" ] && [ "$_aof" -nt "$DATA_DIR/dump.rdb" ]; }; then',
    "    # No RDB, or the AOF went on after it (the node did not stop cleanly): data whose",
    "    # replication position is unknown, as recent as the AOF.",
    '    if [ -z "$_aof" ]; then echo none; else echo "$(stat -c %Y "$_aof") - 0"; fi',
    "    return",
    "  fi",
    '  _check="$(timeout 300 redis-check-rdb "$DATA_DIR/dump.rdb" 2>/dev/null)" || { echo unknown; return; }',
    `  _t="$(${aux("ctime")})"; _id="$(${aux("repl-id")})"; _o="$(${aux("repl-offset")})"`,
    '  echo "${_t:-0} ${_id:--} ${_o:-0}"',
    "}",
    '# Input: lines "host:port record"; output: "best ties rank" (ties: records equal to the best).',
    "rank_records() {",
    "  awk '",
    '    { node[NR] = $1; t[NR] = $2; id[NR] = $3; o[NR] = $4; if ($2 != "none" && $3 != "-" && $2 + 0 >= newest) { newest = $2 + 0; history = $3 } }',
    "    END {",
    "      br = -1; bv = -1",
    "      for (i = 1; i <= NR; i++) {",
    '        if (t[i] == "none") { r = 0; v = 0 } else if (id[i] "" == history "") { r = 2; v = o[i] + 0 } else { r = 1; v = t[i] + 0 }',
    "        if (r > br || (r == br && v > bv)) { br = r; bv = v; best = node[i]; n = 1 } else if (r == br && v == bv) n++",
    "      }",
    "      print best, n, br",
    "    }'",
    "}",
  ];
}

/**
 * Starts a Redis node. A standalone server just starts, owner-only. A group's node starts in the
 * role the records give it:
 * - The sentinels' record (a majority answering, the highest epoch): a replica follows the master
 *   they name. A node they name itself starts as master, unless a running node holds newer data
 *   than it recorded — it was lost while the group ran on, its last second of writes may be
 *   missing — then it waits (not listening) until the sentinels fail over, and follows.
 * - No record (the first start, or every sentinel's state lost): the nodes choose. Each runs a
 *   stand-in holding its record, and the newest data wins (rank_records). Ties with data wait
 *   SENTINEL_RECORD_WAIT_SECONDS for a record, then go to the lowest ordinal; without any data
 *   (the first start) every node must answer; with nodes missing after PEER_WAIT_SECONDS a
 *   majority chooses, and only a node with data. A node already running decides for everyone.
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
    'log() { echo "start-redis: $*"; }',
    ...sentinelRecordFunction(cfg),
    ...peerFunctions(cfg),
    ...standInFunctions(cfg),
    ...recordFunctions(),
    'me="$NODE_HOST:$NODE_PORT"',
    "",
    // PID 1 of a container ignores a signal it has no handler for: stop at once on SIGTERM while
    // choosing or waiting (the sleeps are 1 s), instead of holding the pod for its grace period.
    "trap 'stop_standin; log \"stopped while waiting\"; exit 143' TERM INT",
    'mine="$(recorded)"',
    // A node seeded from a backup (restore.sh) holds old data: it ranks as a node without data,
    // and its seed serves only when no record and no node holds data (a new deployment).
    `if [ -e "$DATA_DIR/${RESTORED_MARKER}" ]; then log "seeded from $(cat "$DATA_DIR/${RESTORED_MARKER}"): counts as no data"; mine=none; fi`,
    'case "$mine" in none) mine_offset=-1 ;; unknown) mine_offset=0 ;; *) mine_offset="${mine##* }" ;; esac',
    "chosen=",
    "# The sentinels' record, unless it names this node while this node has no data to serve (its",
    "# volume was replaced): then the node chooses with the others, and its stand-in, which does not",
    "# answer the sentinels, lets them fail over to a node with data.",
    "trusted_record() {",
    '  _r="$(sentinel_record)"',
    '  [ "$_r" = "$NODE_HOST $NODE_PORT" ] && case "$mine" in none | unknown) return 0 ;; esac',
    '  echo "$_r"',
    "}",
    'master="$(trusted_record)"',
    'if [ -n "$master" ]; then',
    '  log "the sentinels name $master master"',
    "else",
    '  log "no sentinel record; choosing with the other nodes (this node: $mine)"',
    '  start_standin "$@"',
    "  now=$(date +%s)",
    `  record_by=$((now + \${SENTINEL_RECORD_WAIT_SECONDS:-${SENTINEL_RECORD_WAIT_SECONDS}})); peers_by=$((now + \${PEER_WAIT_SECONDS:-${PEER_WAIT_SECONDS}}))`,
    "  total=0; for node in $NODES; do total=$((total + 1)); done",
    "  while :; do",
    '    master="$(trusted_record)"',
    '    [ -n "$master" ] && { log "the sentinels name $master master"; break; }',
    "    records=; missing=; running=; answered=0; with_data=0",
    "    for node in $NODES; do",
    '      if [ "$node" = "$me" ]; then',
    "        record=$mine",
    "      else",
    '        running="$(running_master "$node")"',
    '        [ -n "$running" ] && break',
    `        record="$(peer_cli "$node" get ${RECORD_KEY})"`,
    "      fi",
    '      case "$record" in none | [0-9]*" "*" "[0-9]*) ;; *) missing="$missing $node"; continue ;; esac',
    "      answered=$((answered + 1))",
    '      [ "$record" = none ] || with_data=$((with_data + 1))',
    '      records="$records$node $record',
    '"',
    "    done",
    '    [ -n "$running" ] && { master=$running; log "$node runs; its master is $master"; break; }',
    '    [ -n "$records" ] || { sleep 1; continue; }',
    "    read -r best ties rank <<EOF",
    "$(printf '%s' \"$records\" | rank_records)",
    "EOF",
    "    now=$(date +%s)",
    '    if [ -z "$missing" ]; then',
    // Every node answered: the newest data, at once unless tied (then a record may still come).
    '      if [ "$ties" -eq 1 ] || [ "$rank" -eq 0 ] || [ "$now" -ge "$record_by" ]; then',
    '        log "every node answered; $best has the newest data"; break',
    "      fi",
    // Nodes missing: only when a majority of all nodes answered with data.
    '    elif [ "$now" -ge "$peers_by" ] && [ $((with_data * 2)) -gt "$total" ]; then',
    '      log "no answer from$missing in time; of the others, $best has the newest data"; break',
    "    fi",
    "    sleep 1",
    "  done",
    '  [ -n "$master" ] || { master="${best%:*} ${best##*:}"; chosen=1; }',
    "  stop_standin",
    "fi",
    "",
    'if [ "$master" = "$NODE_HOST $NODE_PORT" ] && [ -z "$chosen" ]; then',
    // Lost while the group ran on: a replica may hold writes this node lacks (appendfsync
    // everysec), and would discard them resyncing from it. Let the sentinels promote that replica.
    "  newer=",
    "  for node in $NODES; do",
    '    [ "$node" = "$me" ] && continue',
    '    offset="$(field "$(peer_cli "$node" info replication)" master_repl_offset)"',
    '    [ -n "$offset" ] && [ "$offset" -gt "$mine_offset" ] || continue',
    "    # Offset 0: a node restarted from its AOF; newer than none when it holds keys.",
    '    { [ "$offset" -gt 0 ] || peer_cli "$node" info keyspace | grep -q "^db"; } && newer="$node"',
    "  done",
    '  if [ -n "$newer" ]; then',
    '    log "$newer holds newer data (this node: $mine); waiting for the sentinels to fail over"',
    // The wait is bounded in seconds, whatever an unreachable sentinel costs a turn (3 s each).
    `    deadline=$(( $(date +%s) + ${masterWaitSeconds(cfg)} ))`,
    '    while [ "$master" = "$NODE_HOST $NODE_PORT" ]; do',
    '      if [ "$(date +%s)" -ge "$deadline" ]; then',
    `        log "the sentinels still name this node master after ${masterWaitSeconds(cfg)}s; starting as master"`,
    "        break",
    "      fi",
    "      sleep 1",
    '      master="$(sentinel_record)"',
    '      [ -n "$master" ] || master="$NODE_HOST $NODE_PORT"',
    "    done",
    "  fi",
    "fi",
    "trap - TERM INT",
    `rm -f "$DATA_DIR/${RESTORED_MARKER}"`,
    "",
    'if [ "$master" = "$NODE_HOST $NODE_PORT" ]; then',
    '  log "starting as master"',
    // A redis.conf that Sentinel rewrote may hold a replicaof line.
    '  exec redis-server "$@" --replica-announce-ip "$NODE_HOST" --replicaof no one',
    "fi",
    'log "starting as replica of $master"',
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
    ...askSentinelsFunction(cfg),
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
 * Starts a sentinel. On its first start (or with its state lost) it writes its state file: the
 * `sentinel monitor` line for the master the other sentinels' record names (a majority of them,
 * the highest epoch), or else for the node that is master — the nodes choose one by their data
 * when no sentinel has a record. It never guesses (pod 0 could be the node with the oldest data):
 * it waits, not listening, until a node is master. Later starts reuse the state file, which
 * Sentinel keeps current, on a persistent volume: the sentinels remember the master across a
 * whole-group restart.
 */
export function renderStartSentinelScript(cfg: ResolvedConfig): string {
  return [
    "#!/bin/sh",
    ...header(cfg, "start-sentinel.sh").slice(0, 2),
    ...SCRIPT_ENV,
    "# STATE_DIR holds the state file. Arguments: those of redis-sentinel.",
    ...ownerOnlyPrologue(["CONF_DIR", "STATE_DIR"]),
    'mkdir -p "$STATE_DIR"',
    ...sentinelRecordFunction(cfg),
    ...peerFunctions(cfg),
    "",
    "trap 'echo \"start-sentinel: stopped while waiting\"; exit 143' TERM INT",
    'state="$STATE_DIR/sentinel.conf"',
    'if [ ! -s "$state" ]; then',
    '  master="$(sentinel_record)"',
    "  waited=0",
    '  while [ -z "$master" ]; do',
    "    replicas=-1",
    "    for node in $NODES; do",
    '      info="$(peer_cli "$node" info replication)"',
    '      [ "$(field "$info" role)" = master ] || continue',
    "      # Two masters (one lost its group while down): the one the replicas follow.",
    '      n="$(field "$info" connected_slaves)"',
    '      [ "${n:-0}" -gt "$replicas" ] && { replicas=${n:-0}; master="${node%:*} ${node##*:}"; }',
    "    done",
    '    [ -n "$master" ] && break',
    '    [ $((waited % 30)) -eq 0 ] && echo "start-sentinel: no sentinel record and no node is master yet; waiting for the nodes to choose"',
    "    sleep 1; waited=$((waited + 1))",
    '    master="$(sentinel_record)"',
    "  done",
    '  echo "start-sentinel: monitoring $master"',
    "  {",
    `    echo "sentinel monitor ${cfg.sentinel.masterName} $master ${cfg.sentinel.quorum}"`,
    '    echo "sentinel announce-ip $NODE_HOST"',
    '    cat "$CONF_DIR/sentinel.conf" "$CONF_DIR/sentinel-secrets.conf"',
    '  } > "$state.tmp"',
    '  mv "$state.tmp" "$state"',
    "else",
    "  # A restart keeps what Sentinel wrote (the master, its peers, the epochs) but takes the users,",
    "  # passwords and CONFIG name from the Secret again: they may have been rotated or added; and",
    "  # the client limits from sentinel.conf, which a state file of an older release lacks.",
    `  grep -v -E '${SECRET_DIRECTIVES}|${CLIENT_LIMIT_DIRECTIVES}' "$state" > "$state.tmp" || :`,
    `  grep -E '${CLIENT_LIMIT_DIRECTIVES}' "$CONF_DIR/sentinel.conf" >> "$state.tmp" || :`,
    '  cat "$CONF_DIR/sentinel-secrets.conf" >> "$state.tmp"',
    '  mv "$state.tmp" "$state"',
    "fi",
    "trap - TERM INT",
    'exec redis-sentinel "$state" "$@"',
    "",
  ].join("\n");
}

/**
 * The directives of sentinel-secrets.conf, as Sentinel also writes them back into its state file:
 * users, the default user's password, the credentials for peers and nodes, the CONFIG rename.
 */
export const SECRET_DIRECTIVES =
  "^(user |requirepass |sentinel (sentinel-user|sentinel-pass|auth-user|auth-pass|rename-command) )";

/** Health check of a sentinel: PING as sentinel-client. */
export function renderSentinelProbeScript(cfg: ResolvedConfig): string {
  const user = userFor(cfg, "sentinel-client").username;
  return renderPingProbe(cfg, "sentinel-probe.sh", user, SENTINEL_PORT, "sentinel-client.pass");
}
