#!/bin/sh
# probe.sh of lowcode-redis, stack docker-sentinel, profile dev, target docker, topology sentinel.
# Rendered from the stack config: change the config, not this file.
# Exit 0 when the node is ready (no argument) or alive (argument: live).
REDISCLI_AUTH="$(cat "$(dirname "$0")/probe.pass")"
export REDISCLI_AUTH
reply="$(timeout 3 redis-cli --no-auth-warning --user default -h 127.0.0.1 -p "${PROBE_PORT:-6379}" ping 2>&1)"
if [ "${1:-ready}" = live ]; then
  [ -d "$(dirname "$0")/standin" ] && exit 0
  case "$reply" in PONG | LOADING* | MASTERDOWN* | *"max number of clients reached"* | *"Server closed the connection"* | *"Connection reset by peer"*) exit 0 ;; esac
  echo "probe: $reply" >&2
  exit 1
fi
[ "$reply" = "PONG" ] || { echo "probe: $reply" >&2; exit 1; }
info="$(timeout 3 redis-cli --no-auth-warning --user default -h 127.0.0.1 -p "${PROBE_PORT:-6379}" info replication 2>&1)" || { echo "probe: $info" >&2; exit 1; }
case "$info" in *role:master*) exit 0 ;; *role:slave*) ;; *) echo "probe: $info" >&2; exit 1 ;; esac
printf '%s\n' "$info" | grep -q '^master_link_status:up' || { echo 'probe: replica not linked to its master' >&2; exit 1; }
printf '%s\n' "$info" | grep -q '^master_sync_in_progress:0' || { echo 'probe: replica in a full sync' >&2; exit 1; }
