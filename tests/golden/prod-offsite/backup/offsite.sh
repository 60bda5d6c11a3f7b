#!/bin/sh
# offsite.sh of lowcode-redis, stack prod-offsite, profile production, target kubernetes, topology sentinel.
# Rendered from the stack config: change the config, not this file.
# Copies the backups to S3-compatible storage with rclone.
set -u
umask 077
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/backup.env"
STACK='prod-offsite'
RETENTION=7
STATUS="$BACKUP_DIR/backup.status"
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
fail() { echo "$STACK off-site copy to $REMOTE failed: $(printf "%s" "$*" | tr "\n" " ")" >&2; exit 1; }
if [ "${1:-}" = --wait ]; then
  since=$(date +%s); until_t=$((since + ${2:-600}))
  until [ "$(sed -n "s/^last_good_time=//p" "$STATUS" 2>/dev/null)" -ge "$since" ] 2>/dev/null; do
    [ "$(date +%s)" -lt "$until_t" ] || fail "no new backup within ${2:-600} s"
    sleep 5
  done
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Only names exactly like a backup's, each RDB before its checksum; rclone skips links. Listed
# through the same filter (and rclone's messages left out), the remote's names are all backups:
# a planted one (a newline in it, or any other character) is neither counted nor removed.
backups='/prod-offsite-[0123456789][0123456789][0123456789][0123456789][0123456789][0123456789][0123456789][0123456789]T[0123456789][0123456789][0123456789][0123456789][0123456789][0123456789]Z.rdb'
pattern='^prod-offsite-[0-9]{8}T[0-9]{6}Z\.rdb$'
rclone copy --include "$backups" "$BACKUP_DIR" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"
rclone copy --include "$backups.sha256" "$BACKUP_DIR" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"
rclone lsf --files-only --include "$backups" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"
grep -E "$pattern" "$log" | sort -r | tail -n +$((RETENTION + 1)) | while read -r old; do
  rclone deletefile "$REMOTE/$old.sha256" 2>/dev/null
  rclone deletefile "$REMOTE/$old" || exit 1
done || fail "pruning the oldest backups"
echo "$STACK off-site copy ok: $REMOTE holds the newest $(grep -cE "$pattern" "$log") backup(s) before pruning to $RETENTION"
