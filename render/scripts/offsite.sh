#!/bin/sh
@HEADER@
## Copies the local backups the remote lacks (each RDB before its checksum, so a checksum there
## means a whole file), then prunes the remote to the newest RETENTION. `--wait SECONDS`: first
## wait until a backup newer than the start is recorded (Docker's upload step runs on the same
## schedule as the backup).
# Copies the backups to S3-compatible storage with rclone.
set -u
umask 077
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/backup.env"
STACK='@STACK@'
RETENTION=@RETENTION@
STATUS="$BACKUP_DIR/@STATUS_FILE@"
@RCLONE_ENV@
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
backups='/@BACKUP_GLOB@'
pattern='@BACKUP_PATTERN@'
rclone copy --include "$backups" "$BACKUP_DIR" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"
rclone copy --include "$backups.sha256" "$BACKUP_DIR" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"
rclone lsf --files-only --include "$backups" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"
grep -E "$pattern" "$log" | sort -r | tail -n +$((RETENTION + 1)) | while read -r old; do
  rclone deletefile "$REMOTE/$old.sha256" 2>/dev/null
  rclone deletefile "$REMOTE/$old" || exit 1
done || fail "pruning the oldest backups"
echo "$STACK off-site copy ok: $REMOTE holds the newest $(grep -cE "$pattern" "$log") backup(s) before pruning to $RETENTION"
