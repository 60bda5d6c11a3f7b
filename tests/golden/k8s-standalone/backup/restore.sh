#!/bin/sh
# restore.sh of lowcode-redis, stack k8s-standalone, profile production, target kubernetes, topology standalone.
# Rendered from the stack config: change the config, not this file.
# Seeds an empty data directory from a verified backup.
set -u
umask 077
fail() { echo "restore failed: $(printf "%s" "$*" | tr "\n" " ")" >&2; rm -rf "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp"; exit 1; }
sha256_of() { if command -v openssl > /dev/null 2>&1; then openssl dgst -sha256 -r | cut -d " " -f 1; else sha256sum | cut -d " " -f 1; fi; }
rdb_error() { printf "%s\n" "$1" | awk '/RDB ERROR DETECTED/ { getline; print; found = 1; exit } { last = $0 } END { if (!found) print last }'; }
# Only a regular, non-empty file, named itself: a link may point anywhere (another stack's
# backup, /etc/passwd), and a checksum written beside it proves nothing about what it holds.
refuse_unless_file() {
  if [ -L "$2" ]; then fail "$1 $2 is a symbolic link (to $(readlink "$2")); name the file itself"
  elif [ ! -e "$2" ]; then fail "no $1 $2"
  elif [ ! -f "$2" ]; then fail "$1 $2 is not a regular file"
  elif [ ! -s "$2" ]; then fail "$1 $2 is empty"
  fi
}
: "${DATA_DIR:?}" "${RESTORE_SOURCE:?}"
if [ -e "$DATA_DIR/dump.rdb" ] || [ -e "$DATA_DIR/appendonlydir" ]; then
  echo "restore: $DATA_DIR holds data already; nothing restored from ${RESTORE_SOURCE##*/}"
  exit 0
fi
refuse_unless_file backup "$RESTORE_SOURCE"
refuse_unless_file checksum "$RESTORE_SOURCE.sha256"
expected="$(cut -d " " -f 1 < "$RESTORE_SOURCE.sha256")"
printf "%s\n" "$expected" | grep -qE "^[0-9a-f]{64}$" || fail "checksum $RESTORE_SOURCE.sha256 holds no SHA-256 digest"
command -v redis-check-rdb > /dev/null || fail "redis-check-rdb not found: $RESTORE_SOURCE cannot be checked"
rm -rf "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp"
# The source is only read. Its copy, which Redis loads, must match the checksum and pass
# redis-check-rdb before any use (a matching checksum says only that the file is the one it was
# written for); Redis checks the RDB's own CRC64 again as it loads.
err="$(cp "$RESTORE_SOURCE" "$DATA_DIR/.restore.tmp" 2>&1)" || fail "cannot copy $RESTORE_SOURCE into $DATA_DIR: $err"
[ "$(sha256_of < "$DATA_DIR/.restore.tmp")" = "$expected" ] || fail "$RESTORE_SOURCE does not match its checksum"
if ! check="$(redis-check-rdb "$DATA_DIR/.restore.tmp" 2>&1)" || ! printf "%s\n" "$check" | grep -q "RDB looks OK"; then
  fail "redis-check-rdb refused $RESTORE_SOURCE: $(rdb_error "$check")"
fi
sync "$DATA_DIR/.restore.tmp"
{
  mkdir "$DATA_DIR/.appendonlydir.tmp" &&
    # One file, two names: Redis replaces both by new files, never writes into them.
    ln "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp/appendonly.aof.1.base.rdb" &&
    printf "file appendonly.aof.1.base.rdb seq 1 type b\n" > "$DATA_DIR/.appendonlydir.tmp/appendonly.aof.manifest" &&
    sync "$DATA_DIR/.appendonlydir.tmp/appendonly.aof.manifest" "$DATA_DIR/.appendonlydir.tmp" &&
    # The commit point: the AOF directory appears whole.
    mv "$DATA_DIR/.appendonlydir.tmp" "$DATA_DIR/appendonlydir"
} || fail "cannot write the AOF in $DATA_DIR"
mv "$DATA_DIR/.restore.tmp" "$DATA_DIR/dump.rdb" || fail "cannot write $DATA_DIR/dump.rdb"
sync "$DATA_DIR"
echo "restore: $DATA_DIR seeded from ${RESTORE_SOURCE##*/} ($(wc -c < "$DATA_DIR/dump.rdb" | tr -d " ") bytes, sha256 $expected)"
