#!/bin/sh
@HEADER@
## Health check of a node, authenticated with the probe password file beside it; PROBE_PORT
## overrides the port (the sandbox's nodes). Readiness: PONG, and a replica's link to its master
## is up with no full sync running, so a rolling update never moves on while a replica is behind.
## Liveness: the process answers, LOADING (a large dataset is loading), MASTERDOWN and a full
## client table included: restarting it then would only start the load again, or hand a
## connection flood (no password needed) the power to restart every node.
# Exit 0 when the node is ready (no argument) or alive (argument: live).
REDISCLI_AUTH="$(cat "$(dirname "$0")/probe.pass")"
export REDISCLI_AUTH
reply="$(timeout 3 redis-cli --no-auth-warning --user @PROBE_USER@ -h 127.0.0.1 -p "${PROBE_PORT:-@PORT@}" ping 2>&1)"
if [ "${1:-ready}" = live ]; then
  ## start-redis.sh is choosing the node's role (its stand-in answers no PING): alive.
  [ -d "$(dirname "$0")/standin" ] && exit 0
  case "$reply" in PONG | LOADING* | MASTERDOWN* | @SERVING_BUT_FULL@) exit 0 ;; esac
  echo "probe: $reply" >&2
  exit 1
fi
[ "$reply" = "PONG" ] || { echo "probe: $reply" >&2; exit 1; }
info="$(timeout 3 redis-cli --no-auth-warning --user @PROBE_USER@ -h 127.0.0.1 -p "${PROBE_PORT:-@PORT@}" info replication 2>&1)" || { echo "probe: $info" >&2; exit 1; }
## A node choosing its role answers on its port with a stand-in that serves no INFO.
case "$info" in *role:master*) exit 0 ;; *role:slave*) ;; *) echo "probe: $info" >&2; exit 1 ;; esac
printf '%s\n' "$info" | grep -q '^master_link_status:up' || { echo 'probe: replica not linked to its master' >&2; exit 1; }
printf '%s\n' "$info" | grep -q '^master_sync_in_progress:0' || { echo 'probe: replica in a full sync' >&2; exit 1; }
