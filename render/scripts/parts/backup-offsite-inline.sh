## Off-site copies, where rclone is installed beside this script (the sandbox); elsewhere a
## second step in rclone's image runs offsite.sh (backup.env's OFFSITE_STEP).
if [ "$OFFSITE_STEP" = inline ]; then
  sh "$HERE/offsite.sh" || { write_status failed "$name" "$size" "off-site copy failed; the local backup $name is kept" "$kept"; exit 1; }
fi
