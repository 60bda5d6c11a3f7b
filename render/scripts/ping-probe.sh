#!/bin/sh
@HEADER@
## A health check: PING as an authenticated user; the password file sits beside the script, so one
## script serves every layout; PROBE_PORT overrides the port (the sandbox's nodes).
# Exit 0 when the server answers PING to an authenticated client (argument live: or is full).
REDISCLI_AUTH="$(cat "$(dirname "$0")/@PASSWORD_FILE@")"
export REDISCLI_AUTH
reply="$(timeout 3 redis-cli --no-auth-warning --user @USER@ -h 127.0.0.1 -p "${PROBE_PORT:-@PORT@}" ping 2>&1)"
[ "$reply" = "PONG" ] && exit 0
[ "${1:-ready}" = live ] && case "$reply" in @SERVING_BUT_FULL@) exit 0 ;; esac
echo "probe: $reply" >&2
exit 1
