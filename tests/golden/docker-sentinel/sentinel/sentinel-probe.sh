#!/bin/sh
# sentinel-probe.sh of lowcode-redis, stack docker-sentinel, profile dev, target docker, topology sentinel.
# Rendered from the stack config: change the config, not this file.
# Exit 0 when the server answers PING to an authenticated client (argument live: or is full).
REDISCLI_AUTH="$(cat "$(dirname "$0")/sentinel-client.pass")"
export REDISCLI_AUTH
reply="$(timeout 3 redis-cli --no-auth-warning --user default -h 127.0.0.1 -p "${PROBE_PORT:-26379}" ping 2>&1)"
[ "$reply" = "PONG" ] && exit 0
[ "${1:-ready}" = live ] && case "$reply" in *"max number of clients reached"* | *"Server closed the connection"* | *"Connection reset by peer"*) exit 0 ;; esac
echo "probe: $reply" >&2
exit 1
