#!/bin/sh
@HEADER@
## Seeds a node's empty data directory from a backup, before Redis starts. Refuses a link,
## anything but a regular non-empty file (the backup and its `.sha256`), a copy that does not
## match the checksum, and one redis-check-rdb rejects, each with one line and exit 1, nothing
## seeded; never writes to the source. With appendonly yes, Redis loads only the AOF (a lone
## dump.rdb is ignored and a shutdown would overwrite it), so the backup becomes the base of a new
## AOF (`appendonlydir`, the RDB as `<appendfilename>.1.base.rdb` and a manifest naming it);
## dump.rdb is the same file, the node's record of its data when nodes choose a master.
## Environment: DATA_DIR, RESTORE_SOURCE (the backup file).
# Seeds an empty data directory from a verified backup.
set -u
umask 077
fail() { echo "restore failed: $(printf "%s" "$*" | tr "\n" " ")" >&2; rm -rf "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp"; exit 1; }
@CHECKSUM_FUNCTIONS@
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
@SEEDED_MARKER@
@AOF_BASE@
mv "$DATA_DIR/.restore.tmp" "$DATA_DIR/dump.rdb" || fail "cannot write $DATA_DIR/dump.rdb"
sync "$DATA_DIR"
echo "restore: $DATA_DIR seeded from ${RESTORE_SOURCE##*/} ($(wc -c < "$DATA_DIR/dump.rdb" | tr -d " ") bytes, sha256 $expected)"
