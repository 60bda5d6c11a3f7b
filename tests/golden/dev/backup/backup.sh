#!/bin/sh
# backup.sh of lowcode-redis, stack dev, profile dev, target docker, topology standalone.
# Rendered from the stack config: change the config, not this file.
# Takes one verified backup; settings in backup.env beside it.
set -u
umask 077
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/backup.env"
STACK='dev'
RETENTION=7
partial=""; cli=""; locked=""; work=""
LOCK="$BACKUP_DIR/.backup.lock"
# A partial file and the run's temporary directory go with its run; the lock goes last.
cleanup() { [ -n "$cli" ] && kill "$cli" 2> /dev/null; cli=""; [ -n "$partial" ] && rm -f "$partial" "$partial.sha256"; partial=""; [ -n "$work" ] && rm -rf "$work"; work=""; }
unlock() { [ -n "$locked" ] && rm -rf "$LOCK"; locked=""; }
trap 'fail "stopped by a signal"' INT TERM
STATUS="$BACKUP_DIR/backup.status"
started=$(date +%s)
# The last good backup stays in the status file when a run fails.
last_good() { sed -n "s/^last_good_$1=//p" "$STATUS" 2>/dev/null | head -n 1; }
write_status() {
  _now=$(date +%s)
  if [ "$1" = ok ]; then _good_time=$_now; _good_file=$2; _good_size=$3; else _good_time=$(last_good time); _good_file=$(last_good file); _good_size=$(last_good size); fi
  _text="$(printf "result=%s\ntime=%s\nduration_s=%s\nfile=%s\nsize=%s\nkept=%s\nmessage=%s\nlast_good_time=%s\nlast_good_file=%s\nlast_good_size=%s" \
    "$1" "$_now" "$((_now - started))" "$2" "$3" "${5:-}" "$4" "${_good_time:-}" "${_good_file:-}" "${_good_size:-}")"
  # Replaced whole; on a full disk, where a new file finds no room, rewritten in place.
  { printf "%s\n" "$_text" > "$STATUS.tmp.$$" && mv -f "$STATUS.tmp.$$" "$STATUS"; } 2>/dev/null ||
    { rm -f "$STATUS.tmp.$$"; printf "%s\n" "$_text" > "$STATUS"; } 2>/dev/null
}
fail() {
  _msg="$(printf "%s" "$*" | tr "\n" " ")"
  # The partial file first: on a full disk the log line (Docker's log is beside the backups)
  # and the status need its room.
  cleanup
  echo "dev backup failed: $_msg" >&2
  write_status failed "" "" "$_msg"
  unlock
  exit 1
}
find_master() { for _n in $NODES; do echo "${_n%:*} ${_n##*:}"; return; done; }
sha256_of() { if command -v openssl > /dev/null 2>&1; then openssl dgst -sha256 -r | cut -d " " -f 1; else sha256sum | cut -d " " -f 1; fi; }
rdb_error() { printf "%s\n" "$1" | awk '/RDB ERROR DETECTED/ { getline; print; found = 1; exit } { last = $0 } END { if (!found) print last }'; }
# "; No space left on device in DIR" when the backup volume is full and $1 does not say so:
# redis-cli reports a file cut short by a full disk only as a "short write".
full_note() {
  case $1 in *"No space left"*) return 0 ;; esac
  [ "$(df -Pk "$BACKUP_DIR" 2> /dev/null | awk 'NR == 2 { print $4 }')" = 0 ] && printf "; No space left on device in %s" "$BACKUP_DIR"
  return 0
}
# Why the stream failed (exit code $1, redis-cli's output in $2): how it ended and its last message.
stream_failure() {
  if [ "$1" = 124 ]; then _why="timed out after 1800 s"; elif [ "$1" -gt 128 ]; then _why="killed by signal $(($1 - 128))"; else _why="exited $1"; fi
  _line="$(grep -vE "^(sending|SYNC sent)" "$2" 2> /dev/null | tail -n 1)"
  printf "%s%s%s" "$_why" "${_line:+: $_line}" "$(full_note "$_line")"
}

# ls names the reason: no such directory, or one this user may not reach.
[ -d "$BACKUP_DIR" ] || { err="$(ls -d "$BACKUP_DIR" 2>&1 > /dev/null)"; err="${err:-not a directory}"; fail "backup directory $BACKUP_DIR: ${err##*: }"; }
probe="$BACKUP_DIR/.write-test.$$"
( : > "$probe" ) 2>/dev/null || fail "backup directory $BACKUP_DIR is not writable"
rm -f "$probe"
# One run at a time: a lock directory holding the run's host and pid. A lock older than the
# longest run, or whose process is gone on this host, was left by a run that was killed.
stale=35
if ! mkdir "$LOCK" 2> /dev/null; then
  holder="$(cat "$LOCK/owner" 2> /dev/null)"
  if [ -n "$(find "$LOCK" -maxdepth 0 -mmin +"$stale" 2> /dev/null)" ] ||
    { [ "${holder% *}" = "$(hostname)" ] && ! kill -0 "${holder#* }" 2> /dev/null; }; then
    rm -rf "$LOCK"; mkdir "$LOCK" 2> /dev/null || fail "another backup took the lock $LOCK"
  else
    fail "another backup is running (${holder:-unknown}; lock $LOCK)"
  fi
fi
locked=1
{ echo "$(hostname) $$" > "$LOCK/owner"; } 2> /dev/null || fail "cannot write $LOCK/owner$(full_note "")"
# Holding the lock, every partial file is a killed run's.
rm -f "$BACKUP_DIR"/.*.partial "$BACKUP_DIR"/.*.partial.* "$STATUS".tmp.*
# redis-cli's messages and the checksum are kept off the backup volume: when it is full they
# still have room, and they are the reason the run reports.
work="$(mktemp -d 2>&1)" || { err="$work"; work=""; fail "cannot create a temporary directory: $err"; }

master="$(find_master)"
[ -n "$master" ] || fail "no master found (asked: ${SENTINELS:-$NODES})"
host="${master% *}"; port="${master#* }"
name="$STACK-$(date -u +%Y%m%dT%H%M%SZ).rdb"
[ -e "$BACKUP_DIR/$name" ] && fail "$name exists already (one backup per second)"
partial="$BACKUP_DIR/.$name.$$.partial"
# In the background, so that a signal stops the run at once (sh runs a trap between commands).
REDISCLI_AUTH="$(cat "$HERE/backup.pass")" timeout 1800 redis-cli --no-auth-warning --user default \
  -h "$host" -p "$port" --rdb "$partial" > "$work/redis-cli.log" 2>&1 &
cli=$!
wait "$cli"; code=$?; cli=""
[ "$code" = 0 ] || fail "redis-cli --rdb from $host:$port $(stream_failure "$code" "$work/redis-cli.log")"
[ -s "$partial" ] || fail "redis-cli --rdb from $host:$port wrote nothing$(full_note "")"
# The checksum and the check read the file side by side.
(sha256_of < "$partial" > "$work/sum") &
summing=$!
if ! check="$(redis-check-rdb "$partial" 2>&1)" || ! printf "%s\n" "$check" | grep -q "RDB looks OK"; then
  wait "$summing"; fail "redis-check-rdb refused the RDB from $host:$port: $(rdb_error "$check")"
fi
sum=""
if wait "$summing"; then sum="$(cat "$work/sum")"; fi
[ -n "$sum" ] || fail "cannot compute the checksum of $name"
size="$(wc -c < "$partial" | tr -d " ")"
printf "%s  %s\n" "$sum" "$name" > "$work/sha256" || fail "cannot write the checksum of $name into $work"
# Copied rather than written by the shell: cp names the reason of a failure, a shell may not.
err="$(cp "$work/sha256" "$partial.sha256" 2>&1)" || fail "cannot write the checksum of $name: $err$(full_note "$err")"
sync
# The checksum first: a visible backup always has one.
err="$(mv -f "$partial.sha256" "$BACKUP_DIR/$name.sha256" 2>&1 && mv -f "$partial" "$BACKUP_DIR/$name" 2>&1)" ||
  fail "cannot move $name into $BACKUP_DIR: $err$(full_note "$err")"
partial=""
sync
# Retention: this backup and the newest RETENTION - 1 older ones stay. Only a regular file named
# exactly like a backup is counted or removed: the glob admits no other name (a planted name
# with a newline, a space or anything else never matches) and a link is skipped. Names dated
# later than this one (a clock set back, files copied in) are neither counted nor removed.
backups() {
  for _f in "$BACKUP_DIR"/dev-[0123456789][0123456789][0123456789][0123456789][0123456789][0123456789][0123456789][0123456789]T[0123456789][0123456789][0123456789][0123456789][0123456789][0123456789]Z.rdb; do
    [ -f "$_f" ] && [ ! -L "$_f" ] && printf "%s\n" "${_f##*/}"
  done | awk -v this="$name" '$0 <= this' | sort -r
}
backups | tail -n +"$((RETENTION + 1))" | while read -r old; do
  rm -f "$BACKUP_DIR/$old" "$BACKUP_DIR/$old.sha256"
done
kept="$(backups | wc -l | tr -d " ")"
rm -rf "$work"; work=""
write_status ok "$name" "$size" "from $host:$port; $kept backup(s) kept (retention $RETENTION)" "$kept"
unlock
echo "$STACK backup ok: $BACKUP_DIR/$name ($size bytes, sha256 $sum) from $host:$port in $(($(date +%s) - started)) s"
