#!/bin/sh
# fetch.sh of lowcode-redis, stack prod-offsite, profile production, target kubernetes, topology sentinel.
# Rendered from the stack config: change the config, not this file.
# Downloads the off-site backup to restore, with its checksum.
set -u
umask 077
HERE="$(cd "$(dirname "$0")" && pwd)"
export RCLONE_CONFIG=/dev/null
unset AWS_CA_BUNDLE
export RCLONE_CONFIG_OFFSITE_TYPE=s3
export RCLONE_CONFIG_OFFSITE_PROVIDER=Other
export RCLONE_CONFIG_OFFSITE_ENDPOINT='https://s3.example.com'
export RCLONE_CONFIG_OFFSITE_REGION='us-east-1'
RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID="$(cat "$HERE/s3-access-key-id")"
RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY="$(cat "$HERE/s3-secret-access-key")"
export RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY
export RCLONE_RETRIES=1 RCLONE_LOW_LEVEL_RETRIES=2 RCLONE_CONTIMEOUT=10s RCLONE_TIMEOUT=60s
REMOTE='offsite:lowcode-backups/prod'
REMOTE='offsite:lowcode-backups'
KEY=''
STAGING="${1:?usage: fetch.sh STAGING_DIR}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for f in "$KEY.sha256" "$KEY"; do
  rclone copyto "$REMOTE/$f" "$STAGING/${f##*/}" > "$log" 2>&1 ||
    { echo "fetch of $REMOTE/$f failed: $(tail -n 1 "$log")" >&2; exit 1; }
done
echo "fetched $REMOTE/$KEY"
