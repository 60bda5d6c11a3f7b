#!/bin/sh
# start-redis.sh of lowcode-redis, stack dev, profile dev, target docker, topology standalone.
# Rendered from the stack config: change the config, not this file.
# Environment: CONF_DIR (rendered files), DATA_DIR (data). Arguments: those of redis-server.
set -u
umask 077
chmod -R go-rwx "$CONF_DIR" "$DATA_DIR" 2>/dev/null || :
exec redis-server "$@"
