#!/bin/sh
# prepare.sh of lowcode-redis, stack @STACK@: Redis and Sentinel rewrite their config files,
# so they run from a writable copy. The secret files never leave the in-memory volume.
# The directories can be overridden for a dry run: CONFIG_MOUNT, SECRET_MOUNT, CONF_DIR.
## The init container of a Kubernetes pod: copies the read-only ConfigMap and Secret into the
## writable in-memory /conf, owner-only: the files, and the directory where the volume lets the
## redis user change it.
set -eu
from_config="${CONFIG_MOUNT:-@CONFIG_MOUNT@}"
from_secret="${SECRET_MOUNT:-@SECRET_MOUNT@}"
to="${CONF_DIR:-@CONF_DIR@}"
umask 077
chmod 0700 "$to" 2>/dev/null || :
## The globs skip the mounts' hidden ..data links; cp follows the visible links to the files.
for f in "$from_config"/* "$from_secret"/*; do cp "$f" "$to"/; done
chmod 0600 "$to"/*
