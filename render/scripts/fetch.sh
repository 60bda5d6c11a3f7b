#!/bin/sh
@HEADER@
## Downloads restoreFrom's s3:// object and its checksum into a staging directory (argument 1)
## for restore.sh; in rclone's image or the sandbox.
# Downloads the off-site backup to restore, with its checksum.
set -u
umask 077
HERE="$(cd "$(dirname "$0")" && pwd)"
@RCLONE_ENV@
REMOTE=@BUCKET_REMOTE@
KEY=@KEY@
STAGING="${1:?usage: fetch.sh STAGING_DIR}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for f in "$KEY.sha256" "$KEY"; do
  rclone copyto "$REMOTE/$f" "$STAGING/${f##*/}" > "$log" 2>&1 ||
    { echo "fetch of $REMOTE/$f failed: $(tail -n 1 "$log")" >&2; exit 1; }
done
echo "fetched $REMOTE/$KEY"
