#!/bin/sh
# start-redis.sh of lowcode-redis, stack prod, profile production, target kubernetes, topology sentinel.
# Rendered from the stack config: change the config, not this file.
# Environment: CONF_DIR (rendered files), DATA_DIR (data), NODE_HOST and NODE_PORT (this node's
# stable address), DEFAULT_MASTER ("host port" of the initial master), SENTINELS ("host:port ..."
# of every sentinel), NODES ("host:port ..." of every Redis node, in ordinal order); optional
# SENTINEL_RECORD_WAIT_SECONDS and PEER_WAIT_SECONDS shorten the choosing waits (tests).
# Arguments: those of redis-server.
set -u
umask 077
chmod -R go-rwx "$CONF_DIR" "$DATA_DIR" 2>/dev/null || :
# How long a node the sentinels name master, while another node holds newer data, waits for them
# to fail over before it starts as master anyway.
master_wait_seconds=35
log() { echo "start-redis: $*"; }
sentinel_record() {
  REDISCLI_AUTH="$(cat "$CONF_DIR/sentinel-client.pass")"
  export REDISCLI_AUTH
  _all=0; _answered=0; _epoch=-1; _record=
  for address in $SENTINELS; do
    _all=$((_all + 1))
    _reply="$(timeout 3 redis-cli --no-auth-warning --raw --user sentinel-client -h "${address%:*}" -p "${address##*:}" sentinel master lowcode-master 2>/dev/null | tr -d '\r')"
    _e="$(printf '%s\n' "$_reply" | awk 'NR % 2 == 1 && $0 == "config-epoch" { getline; print; exit }')"
    _addr="$(timeout 3 redis-cli --no-auth-warning --raw --user sentinel-client -h "${address%:*}" -p "${address##*:}" sentinel get-master-addr-by-name lowcode-master 2>/dev/null | tr -d '\r')"
    _host="$(printf '%s\n' "$_addr" | sed -n 1p)"; _port="$(printf '%s\n' "$_addr" | sed -n 2p)"
    case "$_port:$_e" in *[!0-9:]* | :* | *:) continue ;; esac
    [ -n "$_host" ] || continue
    _answered=$((_answered + 1))
    [ "$_e" -gt "$_epoch" ] && { _epoch=$_e; _record="$_host $_port"; }
  done
  unset REDISCLI_AUTH
  [ $((_answered * 2)) -gt "$_all" ] && echo "$_record"
  return 0
}
peer_cli() { _a=$1; shift; REDISCLI_AUTH="$(cat "$CONF_DIR/probe.pass")" timeout 3 redis-cli --no-auth-warning --raw --user probe -h "${_a%:*}" -p "${_a##*:}" "$@" 2>/dev/null | tr -d '\r'; }
field() { printf '%s\n' "$1" | sed -n "s/^$2:\\(.*\\)$/\\1/p"; }
running_master() {
  _info="$(peer_cli "$1" info replication)"
  case "$(field "$_info" role)" in
    master) echo "${1%:*} ${1##*:}" ;;
    slave) echo "$(field "$_info" master_host) $(field "$_info" master_port)" ;;
  esac
}
standin_dir="$CONF_DIR/standin"
standin_pid=
sha() { printf '%s' "$1" | sha256sum | cut -c1-64; }
start_standin() {
  rm -rf "$standin_dir" && mkdir -p "$standin_dir"
  # A one-time password for the one SET this script makes.
  token="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  {
    echo "user default off"
    echo "user probe on #$(sha "$(cat "$CONF_DIR/probe.pass")") resetkeys ~lowcode:recorded-data resetchannels -@all +get"
    echo "user standin on #$(sha "$token") resetkeys ~lowcode:recorded-data resetchannels -@all +set"
  } > "$standin_dir/users.acl"
  redis-server "$@" --dir "$standin_dir" --dbfilename standin.rdb --appendonly no --save "" \
    --replicaof no one --aclfile "$standin_dir/users.acl" --min-replicas-to-write 0 \
    --loglevel warning &
  standin_pid=$!
  i=0
  until [ "$(REDISCLI_AUTH="$token" timeout 3 redis-cli --no-auth-warning --user standin -h 127.0.0.1 -p "$NODE_PORT" set lowcode:recorded-data "$mine" 2>/dev/null)" = OK ]; do
    i=$((i + 1)); [ "$i" -lt 50 ] || { log "the stand-in server did not start"; stop_standin; exit 1; }
    sleep 0.1
  done
}
stop_standin() { [ -n "$standin_pid" ] && { kill "$standin_pid" 2>/dev/null; wait "$standin_pid" 2>/dev/null; standin_pid=; }; rm -rf "$standin_dir"; }
recorded() {
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

trap 'stop_standin; log "stopped while waiting"; exit 143' TERM INT
mine="$(recorded)"
if [ -e "$DATA_DIR/restored-from" ]; then log "seeded from $(cat "$DATA_DIR/restored-from"): counts as no data"; mine=none; fi
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
  record_by=$((now + ${SENTINEL_RECORD_WAIT_SECONDS:-30})); peers_by=$((now + ${PEER_WAIT_SECONDS:-60}))
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
        record="$(peer_cli "$node" get lowcode:recorded-data)"
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
      if [ "$ties" -eq 1 ] || [ "$rank" -eq 0 ] || [ "$now" -ge "$record_by" ]; then
        log "every node answered; $best has the newest data"; break
      fi
    elif [ "$now" -ge "$peers_by" ] && [ $((with_data * 2)) -gt "$total" ]; then
      log "no answer from$missing in time; of the others, $best has the newest data"; break
    fi
    sleep 1
  done
  [ -n "$master" ] || { master="${best%:*} ${best##*:}"; chosen=1; }
  stop_standin
fi

if [ "$master" = "$NODE_HOST $NODE_PORT" ] && [ -z "$chosen" ]; then
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
rm -f "$DATA_DIR/restored-from"

if [ "$master" = "$NODE_HOST $NODE_PORT" ]; then
  log "starting as master"
  exec redis-server "$@" --replica-announce-ip "$NODE_HOST" --replicaof no one
fi
log "starting as replica of $master"
# shellcheck disable=SC2086 # "host port" splits into two arguments
exec redis-server "$@" --replica-announce-ip "$NODE_HOST" --replicaof $master
