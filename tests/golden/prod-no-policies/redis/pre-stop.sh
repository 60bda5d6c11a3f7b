#!/bin/sh
# pre-stop.sh of lowcode-redis, stack prod-no-policies, profile production, target kubernetes, topology sentinel.
# Rendered from the stack config: change the config, not this file.
# Environment: CONF_DIR (rendered files), DATA_DIR (data), NODE_HOST and NODE_PORT (this node's
# stable address), DEFAULT_MASTER ("host port" of the initial master), SENTINELS ("host:port ..."
# of every sentinel), NODES ("host:port ..." of every Redis node, in ordinal order); optional
# SENTINEL_RECORD_WAIT_SECONDS and PEER_WAIT_SECONDS shorten the choosing waits (tests).
set -u
# The longest this hook takes, and how long the master waits for a replica the sentinels would
# promote (after a replica restarts, a sentinel skips it until its next INFO, every 10 s).
pre_stop_seconds=30
promotable_wait_seconds=15
# Prints "host port" of the master as the first answering sentinel knows it, or nothing.
ask_sentinels() {
  REDISCLI_AUTH="$(cat "$CONF_DIR/failover.pass")"
  export REDISCLI_AUTH
  for address in $SENTINELS; do
    reply="$(timeout 3 redis-cli --no-auth-warning --raw --user failover -h "${address%:*}" -p "${address##*:}" sentinel get-master-addr-by-name lowcode-master 2>/dev/null)" || continue
    host="$(printf '%s\n' "$reply" | sed -n 1p)"
    port="$(printf '%s\n' "$reply" | sed -n 2p)"
    case "$port" in '' | *[!0-9]*) continue ;; esac
    [ -n "$host" ] && { unset REDISCLI_AUTH; echo "$host $port"; return 0; }
  done
  unset REDISCLI_AUTH
}

deadline=$(( $(date +%s) + pre_stop_seconds ))
left() { echo $(( deadline - $(date +%s) )); }
# redis-cli as the failover user: cli HOST PORT COMMAND…; local_cli, and sentinel_cli HOST:PORT.
cli() { _h=$1; _p=$2; shift 2; REDISCLI_AUTH="$(cat "$CONF_DIR/failover.pass")" timeout 3 redis-cli --no-auth-warning --raw --user failover -h "$_h" -p "$_p" "$@"; }
local_cli() { cli 127.0.0.1 "$NODE_PORT" "$@"; }
sentinel_cli() { _a=$1; shift; cli "${_a%:*}" "${_a##*:}" "$@"; }
field() { printf '%s\n' "$1" | tr -d '\r' | sed -n "s/^$2:\\(.*\\)$/\\1/p"; }
# How many replicas the sentinel at $1 would promote now: linked, and seen so since its last INFO.
promotable() {
  sentinel_cli "$1" sentinel replicas lowcode-master 2>/dev/null |
    tr -d '\r' | awk '
      function check() { if (v["flags"] == "slave" && v["master-link-status"] == "ok" && v["master-link-down-time"] == "0") n++; split("", v) }
      NR % 2 == 1 { k = $0; next }
      { if (k == "name" && seen) check(); seen = 1; v[k] = $0 }
      END { if (seen) check(); print n + 0 }'
}

master="$(ask_sentinels)"
if [ "$master" != "$NODE_HOST $NODE_PORT" ]; then
  echo "pre-stop: not the master (${master:-no sentinel answered}); stopping"
  exit 0
fi
info="$(local_cli info replication)"
if [ "$(field "$info" connected_slaves)" = "0" ]; then
  echo "pre-stop: master without replicas; nothing to fail over to"
  exit 0
fi
ready_by=$(( $(date +%s) + promotable_wait_seconds ))
while :; do
  for address in $SENTINELS; do
    [ "$(promotable "$address")" -gt 0 ] && break 2
  done
  if [ "$(date +%s)" -ge "$ready_by" ]; then
    echo "pre-stop: no sentinel would promote a replica within ${promotable_wait_seconds}s; stopping as master"
    exit 0
  fi
  sleep 0.5
done
# From here writes wait until this node stops; the pause outlasts the hook.
local_cli client pause "$(( ($(left) + 5) * 1000 ))" write >/dev/null
target="$(field "$(local_cli info replication)" master_repl_offset)"
# A replica that holds every write: the one the sentinels will promote.
while [ "$(left)" -gt 0 ]; do
  best="$(local_cli info replication | tr -d '\r' | sed -n 's/^slave[0-9]*:.*state=online,offset=\([0-9]*\).*/\1/p' | sort -n | tail -n 1)"
  [ "${best:-0}" -ge "${target:-0}" ] && break
  sleep 0.1
done
asked=
for address in $SENTINELS; do
  reply="$(sentinel_cli "$address" sentinel failover lowcode-master 2>&1)"
  [ "$reply" = "OK" ] && { asked=$address; break; }
  echo "pre-stop: $address: $reply"
done
if [ -z "$asked" ]; then
  local_cli client unpause >/dev/null
  echo "pre-stop: no sentinel started a failover; stopping as master"
  exit 0
fi
while [ "$(left)" -gt 0 ]; do
  # The sentinel that runs the failover names the new master first.
  now="$(SENTINELS="$asked"; ask_sentinels)"
  if [ -n "$now" ] && [ "$now" != "$NODE_HOST $NODE_PORT" ]; then
    echo "pre-stop: failed over to $now; stopping"
    exit 0
  fi
  sleep 0.1
done
local_cli client unpause >/dev/null
echo "pre-stop: no new master within ${pre_stop_seconds}s; stopping as master"
exit 0
