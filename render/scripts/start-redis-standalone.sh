#!/bin/sh
@HEADER@
## A standalone server just starts, owner-only: see the prologue of start-redis.sh.
# Environment: CONF_DIR (rendered files), DATA_DIR (data). Arguments: those of redis-server.
set -u
umask 077
chmod -R go-rwx "$CONF_DIR" "$DATA_DIR" 2>/dev/null || :
exec redis-server "$@"
