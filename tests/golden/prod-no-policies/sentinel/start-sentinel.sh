#!/bin/sh
# start-sentinel.sh of lowcode-redis, stack prod-no-policies, profile production, target kubernetes, topology sentinel.
# Rendered from the stack config: change the config, not this file.
# Environment: CONF_DIR (rendered files), DATA_DIR (data), NODE_HOST and NODE_PORT (this node's
# stable address), DEFAULT_MASTER ("host port" of the initial master), SENTINELS ("host:port ..."
# of every sentinel), NODES ("host:port ..." of every Redis node, in ordinal order); optional
# SENTINEL_RECORD_WAIT_SECONDS and PEER_WAIT_SECONDS shorten the choosing waits (tests).
# STATE_DIR holds the state file. Arguments: those of redis-sentinel.
set -u
umask 077
chmod -R go-rwx "$CONF_DIR" "$STATE_DIR" 2>/dev/null || :
mkdir -p "$STATE_DIR"
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

trap 'echo "start-sentinel: stopped while waiting"; exit 143' TERM INT
state="$STATE_DIR/sentinel.conf"
if [ ! -s "$state" ]; then
  master="$(sentinel_record)"
  waited=0
  while [ -z "$master" ]; do
    replicas=-1
    for node in $NODES; do
      info="$(peer_cli "$node" info replication)"
      [ "$(field "$info" role)" = master ] || continue
      # Two masters (one lost its group while down): the one the replicas follow.
      n="$(field "$info" connected_slaves)"
      [ "${n:-0}" -gt "$replicas" ] && { replicas=${n:-0}; master="${node%:*} ${node##*:}"; }
    done
    [ -n "$master" ] && break
    [ $((waited % 30)) -eq 0 ] && echo "start-sentinel: no sentinel record and no node is master yet; waiting for the nodes to choose"
    sleep 1; waited=$((waited + 1))
    master="$(sentinel_record)"
  done
  echo "start-sentinel: monitoring $master"
  {
    echo "sentinel monitor lowcode-master $master 2"
    echo "sentinel announce-ip $NODE_HOST"
    cat "$CONF_DIR/sentinel.conf" "$CONF_DIR/sentinel-secrets.conf"
  } > "$state.tmp"
  mv "$state.tmp" "$state"
else
  # A restart keeps what Sentinel wrote (the master, the epochs, the peers and replicas that are
  # still part of the group) but takes the users, passwords and CONFIG name from the Secret again:
  # they may have been rotated or added; the client limits and the master's settings
  # (down-after, failover-timeout, parallel-syncs) from sentinel.conf, and the quorum of this
  # release: a changed config reaches a running group with its rolling restart. A peer or replica
  # no longer in SENTINELS or NODES (the group shrank) is dropped: Sentinel never forgets one by
  # itself, and a sentinel it still knows of counts in the majority a failover needs.
  grep -v -E '^(user |requirepass |sentinel (sentinel-user|sentinel-pass|auth-user|auth-pass|rename-command) )|^(maxclients|proto-max-bulk-len|client-query-buffer-limit|client-output-buffer-limit|maxmemory-clients) |^sentinel (down-after-milliseconds|failover-timeout|parallel-syncs) ' "$state" |
    awk -v quorum=2 -v sentinels=" $SENTINELS " -v nodes=" $NODES " '
      $1 == "sentinel" && $2 == "monitor" && $3 == "lowcode-master" { $6 = quorum }
      $1 == "sentinel" && $2 == "known-sentinel" && !index(sentinels, " " $4 ":" $5 " ") { next }
      $1 == "sentinel" && $2 == "known-replica" && !index(nodes, " " $4 ":" $5 " ") { next }
      { print }' > "$state.tmp" || :
  grep -E '^(maxclients|proto-max-bulk-len|client-query-buffer-limit|client-output-buffer-limit|maxmemory-clients) |^sentinel (down-after-milliseconds|failover-timeout|parallel-syncs) ' "$CONF_DIR/sentinel.conf" >> "$state.tmp" || :
  cat "$CONF_DIR/sentinel-secrets.conf" >> "$state.tmp"
  mv "$state.tmp" "$state"
fi
trap - TERM INT
exec redis-sentinel "$state" "$@"
