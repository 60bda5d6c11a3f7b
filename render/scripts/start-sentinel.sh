#!/bin/sh
@HEADER@
## Starts a sentinel. On its first start (or with its state lost) it writes its state file: the
## `sentinel monitor` line for the master the other sentinels' record names (a majority of them,
## the highest epoch), or else for the node that is master (the nodes choose one by their data
## when no sentinel has a record). It never guesses (pod 0 could be the node with the oldest
## data): it waits, not listening, until a node is master. Later starts reuse the state file,
## which Sentinel keeps current, on a persistent volume: the sentinels remember the master across
## a whole-group restart. Every start applies the rendered settings and quorum to it, and drops the
## peers and replicas the deployment no longer has.
# Environment: CONF_DIR (rendered files), DATA_DIR (data), NODE_HOST and NODE_PORT (this node's
# stable address), DEFAULT_MASTER ("host port" of the initial master), SENTINELS ("host:port ..."
# of every sentinel), NODES ("host:port ..." of every Redis node, in ordinal order); optional
# SENTINEL_RECORD_WAIT_SECONDS and PEER_WAIT_SECONDS shorten the choosing waits (tests).
# STATE_DIR holds the state file. Arguments: those of redis-sentinel.
## Sentinel writes its state file (its sentinel-pass and auth-pass in it) with the process umask:
## set on every start, and what was left open is closed again (see start-redis.sh).
set -u
umask 077
chmod -R go-rwx "$CONF_DIR" "$STATE_DIR" 2>/dev/null || :
mkdir -p "$STATE_DIR"
@SENTINEL_RECORD@
@PEER_FUNCTIONS@

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
    echo "sentinel monitor @MASTER_NAME@ $master @QUORUM@"
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
  grep -v -E '@SECRET_DIRECTIVES@|@CLIENT_LIMIT_DIRECTIVES@|@MASTER_SETTING_DIRECTIVES@' "$state" |
    awk -v quorum=@QUORUM@ -v sentinels=" $SENTINELS " -v nodes=" $NODES " '
      $1 == "sentinel" && $2 == "monitor" && $3 == "@MASTER_NAME@" { $6 = quorum }
      $1 == "sentinel" && $2 == "known-sentinel" && !index(sentinels, " " $4 ":" $5 " ") { next }
      $1 == "sentinel" && $2 == "known-replica" && !index(nodes, " " $4 ":" $5 " ") { next }
      { print }' > "$state.tmp" || :
  grep -E '@CLIENT_LIMIT_DIRECTIVES@|@MASTER_SETTING_DIRECTIVES@' "$CONF_DIR/sentinel.conf" >> "$state.tmp" || :
  cat "$CONF_DIR/sentinel-secrets.conf" >> "$state.tmp"
  mv "$state.tmp" "$state"
fi
trap - TERM INT
exec redis-sentinel "$state" "$@"
