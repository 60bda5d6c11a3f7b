#!/bin/sh
@HEADER@
## Starts a Redis node of a sentinel group in the role the records give it:
## - The sentinels' record (a majority answering, the highest epoch): a replica follows the master
##   they name. A node they name itself starts as master, unless a running node holds newer data
##   than it recorded (it was lost while the group ran on, its last second of writes may be
##   missing): then it waits (not listening) until the sentinels fail over, and follows.
## - No record (the first start, or every sentinel's state lost): the nodes choose. Each runs a
##   stand-in holding its record, and the newest data wins (rank_records). Ties with data wait
##   SENTINEL_RECORD_WAIT_SECONDS for a record, then go to the lowest ordinal; without any data
##   (the first start) every node must answer; with nodes missing after PEER_WAIT_SECONDS a
##   majority chooses, and only a node with data. A node already running decides for everyone.
# Environment: CONF_DIR (rendered files), DATA_DIR (data), NODE_HOST and NODE_PORT (this node's
# stable address), DEFAULT_MASTER ("host port" of the initial master), SENTINELS ("host:port ..."
# of every sentinel), NODES ("host:port ..." of every Redis node, in ordinal order); optional
# SENTINEL_RECORD_WAIT_SECONDS and PEER_WAIT_SECONDS shorten the choosing waits (tests).
# Arguments: those of redis-server.
## Redis writes files with the process umask: CONFIG REWRITE puts masteruser/masterauth into
## redis.conf, and RDB/AOF hold the data. So the umask is set on every start, and whatever an
## earlier start, an older release or a volume's setup left open is closed again (a directory the
## process does not own, such as a volume root, is left as it is).
set -u
umask 077
chmod -R go-rwx "$CONF_DIR" "$DATA_DIR" 2>/dev/null || :
# How long a node the sentinels name master, while another node holds newer data, waits for them
# to fail over before it starts as master anyway.
master_wait_seconds=@MASTER_WAIT_SECONDS@
log() { echo "start-redis: $*"; }
@SENTINEL_RECORD@
@PEER_FUNCTIONS@
## The stand-in a choosing node runs on its port: the node's own arguments (port, bind, TLS...), but
## an empty data directory, no replication (a rewritten redis.conf may hold `replicaof`) and an
## ACL of its own. The probe user may read this node's record and nothing else, not even PING, so
## sentinels and health checks do not take the stand-in for the node; a one-time user writes it.
standin_dir="$CONF_DIR/standin"
standin_pid=
sha() { printf '%s' "$1" | sha256sum | cut -c1-64; }
start_standin() {
  rm -rf "$standin_dir" && mkdir -p "$standin_dir"
  # A one-time password for the one SET this script makes.
  token="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  {
@DEFAULT_USER_OFF@
    echo "user @PROBE_USER@ on #$(sha "$(cat "$CONF_DIR/probe.pass")") resetkeys ~@RECORD_KEY@ resetchannels -@all +get"
    echo "user standin on #$(sha "$token") resetkeys ~@RECORD_KEY@ resetchannels -@all +set"
  } > "$standin_dir/users.acl"
  redis-server "$@" --dir "$standin_dir" --dbfilename standin.rdb --appendonly no --save "" \
    --replicaof no one --aclfile "$standin_dir/users.acl" --min-replicas-to-write 0 \
    --loglevel warning &
  standin_pid=$!
  i=0
  until [ "$(REDISCLI_AUTH="$token" timeout 3 redis-cli --no-auth-warning --user standin -h 127.0.0.1 -p "$NODE_PORT" set @RECORD_KEY@ "$mine" 2>/dev/null)" = OK ]; do
    i=$((i + 1)); [ "$i" -lt 50 ] || { log "the stand-in server did not start"; stop_standin; exit 1; }
    sleep 0.1
  done
}
stop_standin() { [ -n "$standin_pid" ] && { kill "$standin_pid" 2>/dev/null; wait "$standin_pid" 2>/dev/null; standin_pid=; }; rm -rf "$standin_dir"; }
## A node's record of its data, from its last RDB (Redis writes one on every clean stop; loading
## the AOF restores no replication state): `none` without any data file; `unknown` when the RDB
## cannot be read; else "<save time> <replication ID or -> <offset>". rank_records then ranks the
## records the nodes published: the newest RDB names the current replication history; a node of
## that history ranks by offset (2), any other node with data by its save time (1: it was left out
## of the current history), a node without data last (0).
recorded() {
  ## Change times in whole seconds, as busybox's `test -nt` compares them (`-nt` and `ls -t` are
  ## not POSIX): an AOF written in the same second as the RDB is not taken as newer.
  # When the AOF and the RDB last changed, in seconds ("" without one).
  _aof_time="$(stat -c %Y "$DATA_DIR"/appendonlydir/*.aof 2>/dev/null | sort -n | tail -n 1)"
  _rdb_time="$(stat -c %Y "$DATA_DIR/dump.rdb" 2>/dev/null)"
  if [ ! -s "$DATA_DIR/dump.rdb" ] || [ "${_aof_time:-0}" -gt "${_rdb_time:-0}" ]; then
    # No RDB, or the AOF went on after it (the node did not stop cleanly): data whose
    # replication position is unknown, as recent as the AOF.
    if [ -z "$_aof_time" ]; then echo none; else echo "$_aof_time - 0"; fi
    return
  fi
  _check="$(timeout 300 redis-check-rdb "$DATA_DIR/dump.rdb" 2>/dev/null)" || { echo unknown; return; }
  _t="$(printf '%s\n' "$_check" | sed -n "s/.*AUX FIELD ctime = '\\([^']*\\)'.*/\\1/p" | head -n 1)"; _id="$(printf '%s\n' "$_check" | sed -n "s/.*AUX FIELD repl-id = '\\([^']*\\)'.*/\\1/p" | head -n 1)"; _o="$(printf '%s\n' "$_check" | sed -n "s/.*AUX FIELD repl-offset = '\\([^']*\\)'.*/\\1/p" | head -n 1)"
  echo "${_t:-0} ${_id:--} ${_o:-0}"
}
# Input: lines "host:port record"; output: "best ties rank" (ties: records equal to the best).
rank_records() {
  awk '
    { node[NR] = $1; t[NR] = $2; id[NR] = $3; o[NR] = $4; if ($2 != "none" && $3 != "-" && $2 + 0 >= newest) { newest = $2 + 0; history = $3 } }
    END {
      br = -1; bv = -1
      for (i = 1; i <= NR; i++) {
        if (t[i] == "none") { r = 0; v = 0 } else if (id[i] "" == history "") { r = 2; v = o[i] + 0 } else { r = 1; v = t[i] + 0 }
        if (r > br || (r == br && v > bv)) { br = r; bv = v; best = node[i]; n = 1 } else if (r == br && v == bv) n++
      }
      print best, n, br
    }'
}
me="$NODE_HOST:$NODE_PORT"

## PID 1 of a container ignores a signal it has no handler for: stop at once on SIGTERM while
## choosing or waiting (the sleeps are 1 s), instead of holding the pod for its grace period.
trap 'stop_standin; log "stopped while waiting"; exit 143' TERM INT
mine="$(recorded)"
## A node seeded from a backup (restore.sh) holds old data: it ranks as a node without data,
## and its seed serves only when no record and no node holds data (a new deployment).
if [ -e "$DATA_DIR/@RESTORED_MARKER@" ]; then log "seeded from $(cat "$DATA_DIR/@RESTORED_MARKER@"): counts as no data"; mine=none; fi
case "$mine" in none) mine_offset=-1 ;; unknown) mine_offset=0 ;; *) mine_offset="${mine##* }" ;; esac
chosen=
# The sentinels' record, unless it names this node while this node has no data to serve (its
# volume was replaced): then the node chooses with the others, and its stand-in, which does not
# answer the sentinels, lets them fail over to a node with data.
trusted_record() {
  _r="$(sentinel_record)"
  [ "$_r" = "$NODE_HOST $NODE_PORT" ] && case "$mine" in none | unknown) return 0 ;; esac
  echo "$_r"
}
master="$(trusted_record)"
if [ -n "$master" ]; then
  log "the sentinels name $master master"
else
  log "no sentinel record; choosing with the other nodes (this node: $mine)"
  start_standin "$@"
  now=$(date +%s)
  record_by=$((now + ${SENTINEL_RECORD_WAIT_SECONDS:-@SENTINEL_RECORD_WAIT_SECONDS@})); peers_by=$((now + ${PEER_WAIT_SECONDS:-@PEER_WAIT_SECONDS@}))
  total=0; for node in $NODES; do total=$((total + 1)); done
  while :; do
    master="$(trusted_record)"
    [ -n "$master" ] && { log "the sentinels name $master master"; break; }
    records=; missing=; running=; answered=0; with_data=0
    for node in $NODES; do
      if [ "$node" = "$me" ]; then
        record=$mine
      else
        running="$(running_master "$node")"
        [ -n "$running" ] && break
        record="$(peer_cli "$node" get @RECORD_KEY@)"
      fi
      case "$record" in none | [0-9]*" "*" "[0-9]*) ;; *) missing="$missing $node"; continue ;; esac
      answered=$((answered + 1))
      [ "$record" = none ] || with_data=$((with_data + 1))
      records="$records$node $record
"
    done
    [ -n "$running" ] && { master=$running; log "$node runs; its master is $master"; break; }
    [ -n "$records" ] || { sleep 1; continue; }
    read -r best ties rank <<EOF
$(printf '%s' "$records" | rank_records)
EOF
    now=$(date +%s)
    if [ -z "$missing" ]; then
      ## Every node answered: the newest data, at once unless tied (then a record may still come).
      if [ "$ties" -eq 1 ] || [ "$rank" -eq 0 ] || [ "$now" -ge "$record_by" ]; then
        log "every node answered; $best has the newest data"; break
      fi
    ## Nodes missing: only when a majority of all nodes answered with data.
    elif [ "$now" -ge "$peers_by" ] && [ $((with_data * 2)) -gt "$total" ]; then
      log "no answer from$missing in time; of the others, $best has the newest data"; break
    fi
    sleep 1
  done
  [ -n "$master" ] || { master="${best%:*} ${best##*:}"; chosen=1; }
  stop_standin
fi

if [ "$master" = "$NODE_HOST $NODE_PORT" ] && [ -z "$chosen" ]; then
  ## Lost while the group ran on: a replica may hold writes this node lacks (appendfsync
  ## everysec), and would discard them resyncing from it. Let the sentinels promote that replica.
  newer=
  for node in $NODES; do
    [ "$node" = "$me" ] && continue
    offset="$(field "$(peer_cli "$node" info replication)" master_repl_offset)"
    [ -n "$offset" ] || continue
    [ "$offset" -gt "$mine_offset" ] || continue
    # Offset 0: a node restarted from its AOF; newer than none when it holds keys.
    { [ "$offset" -gt 0 ] || peer_cli "$node" info keyspace | grep -q "^db"; } && newer="$node"
  done
  if [ -n "$newer" ]; then
    log "$newer holds newer data (this node: $mine); waiting for the sentinels to fail over"
    ## The wait is bounded in seconds, whatever an unreachable sentinel costs a turn (3 s each).
    deadline=$(( $(date +%s) + master_wait_seconds ))
    while [ "$master" = "$NODE_HOST $NODE_PORT" ]; do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        log "the sentinels still name this node master after ${master_wait_seconds}s; starting as master"
        break
      fi
      sleep 1
      master="$(sentinel_record)"
      [ -n "$master" ] || master="$NODE_HOST $NODE_PORT"
    done
  fi
fi
trap - TERM INT
rm -f "$DATA_DIR/@RESTORED_MARKER@"

if [ "$master" = "$NODE_HOST $NODE_PORT" ]; then
  log "starting as master"
  ## A redis.conf that Sentinel rewrote may hold a replicaof line.
  exec redis-server "$@" --replica-announce-ip "$NODE_HOST" --replicaof no one
fi
log "starting as replica of $master"
# shellcheck disable=SC2086 # "host port" splits into two arguments
exec redis-server "$@" --replica-announce-ip "$NODE_HOST" --replicaof $master
