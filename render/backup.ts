import { ResolvedConfig } from "../config/resolve";
import { Files } from "./files";
import { SecretValues, header, need, userFor } from "./redis-conf";

/**
 * The backup and restore scripts. They are POSIX sh for the Redis image's busybox `sh` and dash,
 * the same bytes on every target and in the sandbox; what differs per target (where the backups
 * go, the addresses of the nodes and sentinels, whether the off-site copy runs inline) is in
 * `backup.env` beside them, so `sh backup.sh` needs no argument and no environment.
 */

/** Backups of a stack are `<stack>-<UTC timestamp>.rdb`, each with `<file>.sha256` beside it. */
export const BACKUP_NAME_PATTERN = (stack: string) =>
  `^${stack.replace(/\./g, "\\.")}-[0-9]{8}T[0-9]{6}Z\\.rdb$`;

const DIGIT = "[0123456789]";

/**
 * The same names as a glob, for sh and for rclone's filters: each digit one of 0-9 and every other
 * character literal (a stack name is letters, digits, '_', '.' and '-'), so no name with a
 * newline, a space, a '/' or anything else matches.
 */
export const backupNameGlob = (stack: string) =>
  `${stack}-${DIGIT.repeat(8)}T${DIGIT.repeat(6)}Z.rdb`;

/** A seeded node's mark, in its data dir until its start script has chosen its role once. */
export const RESTORED_MARKER = "restored-from";

/** The status file a backup run leaves in the backup directory (key=value lines). */
export const BACKUP_STATUS_FILE = "backup.status";

/** Seconds a backup may stream before it is abandoned (the CronJob's deadline is above it). */
export const BACKUP_STREAM_TIMEOUT_SECONDS = 1800;

/** Where a target keeps the backups and how it reaches the group. */
export interface BackupSite {
  /** The backup directory: a volume on Docker and Kubernetes, DIR/backups in the sandbox. */
  readonly backupDir: string;
  /** "host:port ..." of the Redis nodes (standalone: the one node). */
  readonly nodes: string;
  /** "host:port ..." of the sentinels (sentinel topology). */
  readonly sentinels: string;
  /**
   * `inline`: backup.sh runs offsite.sh itself (the sandbox, where rclone is installed);
   * `separate`: a second step in the rclone image does (Kubernetes, Docker).
   */
  readonly offsiteStep: "inline" | "separate";
}

const q = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** backup.env: the target's side of the backup scripts. */
export function renderBackupEnv(cfg: ResolvedConfig, site: BackupSite): string {
  return [
    ...header(cfg, "backup.env"),
    `BACKUP_DIR=${q(site.backupDir)}`,
    `NODES=${q(site.nodes)}`,
    `SENTINELS=${q(site.sentinels)}`,
    `OFFSITE_STEP=${site.offsiteStep}`,
    "",
  ].join("\n");
}

/**
 * SHA-256 of stdin as hex: openssl's where the image has it (it uses the CPU's SHA instructions),
 * else sha256sum (busybox's or coreutils'); the same digest either way.
 */
const SHA256_FUNCTION =
  'sha256_of() { if command -v openssl > /dev/null 2>&1; then openssl dgst -sha256 -r | cut -d " " -f 1; else sha256sum | cut -d " " -f 1; fi; }';

/**
 * redis-check-rdb's reason for refusing a file (argument 1, its output): the line after its
 * "RDB ERROR DETECTED" banner (e.g. "Wrong signature trying to load DB from file"), else its last.
 */
const RDB_ERROR_FUNCTION = `rdb_error() { printf "%s\\n" "$1" | awk '/RDB ERROR DETECTED/ { getline; print; found = 1; exit } { last = $0 } END { if (!found) print last }'; }`;

/** backup.sh's reasons for a failed write into the backup directory. */
function diskFailureFunctions(): string[] {
  return [
    '# "; No space left on device in DIR" when the backup volume is full and $1 does not say so:',
    '# redis-cli reports a file cut short by a full disk only as a "short write".',
    "full_note() {",
    '  case $1 in *"No space left"*) return 0 ;; esac',
    '  [ "$(df -Pk "$BACKUP_DIR" 2> /dev/null | awk \'NR == 2 { print $4 }\')" = 0 ] && printf "; No space left on device in %s" "$BACKUP_DIR"',
    "  return 0",
    "}",
    "# Why the stream failed (exit code $1, redis-cli's output in $2): how it ended and its last message.",
    "stream_failure() {",
    `  if [ "$1" = 124 ]; then _why="timed out after ${BACKUP_STREAM_TIMEOUT_SECONDS} s"; elif [ "$1" -gt 128 ]; then _why="killed by signal $(($1 - 128))"; else _why="exited $1"; fi`,
    '  _line="$(grep -vE "^(sending|SYNC sent)" "$2" 2> /dev/null | tail -n 1)"',
    '  printf "%s%s%s" "$_why" "${_line:+: $_line}" "$(full_note "$_line")"',
    "}",
  ];
}

/** Lines every script starts with: its directory, its settings, owner-only files. */
function prologue(cfg: ResolvedConfig, file: string, what: string, readsConfDir = true): string[] {
  return [
    "#!/bin/sh",
    ...header(cfg, file).slice(0, 2),
    `# ${what}`,
    "set -u",
    "umask 077",
    ...(readsConfDir ? ['HERE="$(cd "$(dirname "$0")" && pwd)"'] : []),
  ];
}

/** Shell functions to report one line and fail, keeping the last good backup in the status file. */
function statusFunctions(cfg: ResolvedConfig): string[] {
  return [
    `STATUS="$BACKUP_DIR/${BACKUP_STATUS_FILE}"`,
    "started=$(date +%s)",
    "# The last good backup stays in the status file when a run fails.",
    'last_good() { sed -n "s/^last_good_$1=//p" "$STATUS" 2>/dev/null | head -n 1; }',
    "write_status() {",
    "  _now=$(date +%s)",
    '  if [ "$1" = ok ]; then _good_time=$_now; _good_file=$2; _good_size=$3; else _good_time=$(last_good time); _good_file=$(last_good file); _good_size=$(last_good size); fi',
    '  _text="$(printf "result=%s\\ntime=%s\\nduration_s=%s\\nfile=%s\\nsize=%s\\nkept=%s\\nmessage=%s\\nlast_good_time=%s\\nlast_good_file=%s\\nlast_good_size=%s" \\',
    '    "$1" "$_now" "$((_now - started))" "$2" "$3" "${5:-}" "$4" "${_good_time:-}" "${_good_file:-}" "${_good_size:-}")"',
    "  # Replaced whole; on a full disk, where a new file finds no room, rewritten in place.",
    '  { printf "%s\\n" "$_text" > "$STATUS.tmp.$$" && mv -f "$STATUS.tmp.$$" "$STATUS"; } 2>/dev/null ||',
    '    { rm -f "$STATUS.tmp.$$"; printf "%s\\n" "$_text" > "$STATUS"; } 2>/dev/null',
    "}",
    "fail() {",
    '  _msg="$(printf "%s" "$*" | tr "\\n" " ")"',
    "  # The partial file first: on a full disk the log line (Docker's log is beside the backups)",
    "  # and the status need its room.",
    "  cleanup",
    `  echo "${cfg.stack} backup failed: $_msg" >&2`,
    '  write_status failed "" "" "$_msg"',
    "  unlock",
    "  exit 1",
    "}",
  ];
}

/** The master's "host port": through the sentinels (most of those answering), or the one node. */
function findMasterFunction(cfg: ResolvedConfig): string[] {
  if (cfg.topology !== "sentinel")
    return ['find_master() { set -- $NODES; echo "${1%:*} ${1##*:}"; }'];
  const client = userFor(cfg, "sentinel-client").username;
  return [
    "find_master() {",
    "  for _s in $SENTINELS; do",
    `    REDISCLI_AUTH="$(cat "$HERE/sentinel-client.pass")" timeout 5 redis-cli --no-auth-warning --user ${client} \\`,
    `      -h "\${_s%:*}" -p "\${_s##*:}" SENTINEL GET-MASTER-ADDR-BY-NAME ${cfg.sentinel.masterName} 2>/dev/null | paste -s -d ' ' -`,
    "  done | grep -E '^[^ ]+ [0-9]+$' | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2, $3 }'",
    "}",
  ];
}

/**
 * backup.sh: one verified backup into BACKUP_DIR. Streams an RDB from the master with
 * `redis-cli --rdb` as the `backup` user (REPLCONF and SYNC only) into a hidden partial file,
 * checks it with redis-check-rdb, writes `<file>.sha256` and then moves the RDB into place (so a
 * visible backup always has its checksum), prunes to the newest `backupRetention`, records the
 * run in `backup.status`, and copies off-site when configured. On any failure: one line on
 * stderr, exit 1, earlier backups untouched.
 */
export function renderBackupScript(cfg: ResolvedConfig): string {
  const b = cfg.backup;
  const user = userFor(cfg, "backup").username;
  return [
    ...prologue(cfg, "backup.sh", "Takes one verified backup; settings in backup.env beside it."),
    '. "$HERE/backup.env"',
    `STACK=${q(cfg.stack)}`,
    `RETENTION=${b.retention}`,
    'partial=""; cli=""; locked=""; work=""',
    'LOCK="$BACKUP_DIR/.backup.lock"',
    "# A partial file and the run's temporary directory go with its run; the lock goes last.",
    'cleanup() { [ -n "$cli" ] && kill "$cli" 2> /dev/null; cli=""; [ -n "$partial" ] && rm -f "$partial" "$partial.sha256"; partial=""; [ -n "$work" ] && rm -rf "$work"; work=""; }',
    'unlock() { [ -n "$locked" ] && rm -rf "$LOCK"; locked=""; }',
    "trap 'fail \"stopped by a signal\"' INT TERM",
    ...statusFunctions(cfg),
    ...findMasterFunction(cfg),
    SHA256_FUNCTION,
    RDB_ERROR_FUNCTION,
    ...diskFailureFunctions(),
    "",
    "# ls names the reason: no such directory, or one this user may not reach.",
    '[ -d "$BACKUP_DIR" ] || { err="$(ls -d "$BACKUP_DIR" 2>&1 > /dev/null)"; err="${err:-not a directory}"; fail "backup directory $BACKUP_DIR: ${err##*: }"; }',
    'probe="$BACKUP_DIR/.write-test.$$"',
    '( : > "$probe" ) 2>/dev/null || fail "backup directory $BACKUP_DIR is not writable"',
    'rm -f "$probe"',
    "# One run at a time: a lock directory holding the run's host and pid. A lock older than the",
    "# longest run, or whose process is gone on this host, was left by a run that was killed.",
    `stale=${Math.ceil(BACKUP_STREAM_TIMEOUT_SECONDS / 60) + 5}`,
    'if ! mkdir "$LOCK" 2> /dev/null; then',
    '  holder="$(cat "$LOCK/owner" 2> /dev/null)"',
    '  if [ -n "$(find "$LOCK" -maxdepth 0 -mmin +"$stale" 2> /dev/null)" ] ||',
    '    { [ "${holder% *}" = "$(hostname)" ] && ! kill -0 "${holder#* }" 2> /dev/null; }; then',
    '    rm -rf "$LOCK"; mkdir "$LOCK" 2> /dev/null || fail "another backup took the lock $LOCK"',
    "  else",
    '    fail "another backup is running (${holder:-unknown}; lock $LOCK)"',
    "  fi",
    "fi",
    "locked=1",
    '{ echo "$(hostname) $$" > "$LOCK/owner"; } 2> /dev/null || fail "cannot write $LOCK/owner$(full_note "")"',
    "# Holding the lock, every partial file is a killed run's.",
    'rm -f "$BACKUP_DIR"/.*.partial "$BACKUP_DIR"/.*.partial.* "$STATUS".tmp.*',
    "# redis-cli's messages and the checksum are kept off the backup volume: when it is full they",
    "# still have room, and they are the reason the run reports.",
    'work="$(mktemp -d 2>&1)" || { err="$work"; work=""; fail "cannot create a temporary directory: $err"; }',
    "",
    'master="$(find_master)"',
    '[ -n "$master" ] || fail "no master found (asked: ${SENTINELS:-$NODES})"',
    'host="${master% *}"; port="${master#* }"',
    'name="$STACK-$(date -u +%Y%m%dT%H%M%SZ).rdb"',
    '[ -e "$BACKUP_DIR/$name" ] && fail "$name exists already (one backup per second)"',
    'partial="$BACKUP_DIR/.$name.$$.partial"',
    "# In the background, so that a signal stops the run at once (sh runs a trap between commands).",
    `REDISCLI_AUTH="$(cat "$HERE/backup.pass")" timeout ${BACKUP_STREAM_TIMEOUT_SECONDS} redis-cli --no-auth-warning --user ${user} \\`,
    '  -h "$host" -p "$port" --rdb "$partial" > "$work/redis-cli.log" 2>&1 &',
    "cli=$!",
    'wait "$cli"; code=$?; cli=""',
    '[ "$code" = 0 ] || fail "redis-cli --rdb from $host:$port $(stream_failure "$code" "$work/redis-cli.log")"',
    '[ -s "$partial" ] || fail "redis-cli --rdb from $host:$port wrote nothing$(full_note "")"',
    "# The checksum and the check read the file side by side.",
    '(sha256_of < "$partial" > "$work/sum") &',
    "summing=$!",
    'check="$(redis-check-rdb "$partial" 2>&1)" && printf "%s\\n" "$check" | grep -q "RDB looks OK" ||',
    '  { wait "$summing"; fail "redis-check-rdb refused the RDB from $host:$port: $(rdb_error "$check")"; }',
    'wait "$summing" && sum="$(cat "$work/sum")" && [ -n "$sum" ] || fail "cannot compute the checksum of $name"',
    'size="$(wc -c < "$partial" | tr -d " ")"',
    'printf "%s  %s\\n" "$sum" "$name" > "$work/sha256" || fail "cannot write the checksum of $name into $work"',
    "# Copied rather than written by the shell: cp names the reason of a failure, a shell may not.",
    'err="$(cp "$work/sha256" "$partial.sha256" 2>&1)" || fail "cannot write the checksum of $name: $err$(full_note "$err")"',
    "sync",
    "# The checksum first: a visible backup always has one.",
    'err="$(mv -f "$partial.sha256" "$BACKUP_DIR/$name.sha256" 2>&1 && mv -f "$partial" "$BACKUP_DIR/$name" 2>&1)" ||',
    '  fail "cannot move $name into $BACKUP_DIR: $err$(full_note "$err")"',
    'partial=""',
    "sync",
    "# Retention: this backup and the newest RETENTION - 1 older ones stay. Only a regular file named",
    "# exactly like a backup is counted or removed: the glob admits no other name (a planted name",
    "# with a newline, a space or anything else never matches) and a link is skipped. Names dated",
    "# later than this one (a clock set back, files copied in) are neither counted nor removed.",
    "backups() {",
    `  for _f in "$BACKUP_DIR"/${backupNameGlob(cfg.stack)}; do`,
    '    [ -f "$_f" ] && [ ! -L "$_f" ] && printf "%s\\n" "${_f##*/}"',
    "  done | awk -v this=\"$name\" '$0 <= this' | sort -r",
    "}",
    'backups | tail -n +"$((RETENTION + 1))" | while read -r old; do',
    '  rm -f "$BACKUP_DIR/$old" "$BACKUP_DIR/$old.sha256"',
    "done",
    'kept="$(backups | wc -l | tr -d " ")"',
    'rm -rf "$work"; work=""',
    'write_status ok "$name" "$size" "from $host:$port; $kept backup(s) kept (retention $RETENTION)" "$kept"',
    "unlock",
    'echo "$STACK backup ok: $BACKUP_DIR/$name ($size bytes, sha256 $sum) from $host:$port in $(($(date +%s) - started)) s"',
    ...(b.offsite
      ? [
          'if [ "$OFFSITE_STEP" = inline ]; then',
          '  sh "$HERE/offsite.sh" || { write_status failed "$name" "$size" "off-site copy failed; the local backup $name is kept" "$kept"; exit 1; }',
          "fi",
        ]
      : []),
    "",
  ].join("\n");
}

/** rclone's settings for the off-site remote, from the environment: no config file, no secret argument. */
function rcloneEnv(cfg: ResolvedConfig): string[] {
  const o = cfg.backup.offsite!;
  return [
    // No config file: the remote comes from these variables. rclone cannot use the AWS SDK's
    // custom CA variable (it fails on any S3 remote while it is set): its own --ca-cert would.
    "export RCLONE_CONFIG=/dev/null",
    "unset AWS_CA_BUNDLE",
    "export RCLONE_CONFIG_OFFSITE_TYPE=s3",
    `export RCLONE_CONFIG_OFFSITE_PROVIDER=${o.endpoint === "" ? "AWS" : "Other"}`,
    ...(o.endpoint === "" ? [] : [`export RCLONE_CONFIG_OFFSITE_ENDPOINT=${q(o.endpoint)}`]),
    `export RCLONE_CONFIG_OFFSITE_REGION=${q(o.region)}`,
    'RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID="$(cat "$HERE/s3-access-key-id")"',
    'RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY="$(cat "$HERE/s3-secret-access-key")"',
    "export RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY",
    // Fail within a minute on an unreachable endpoint or a refused key, instead of retrying for long.
    "export RCLONE_RETRIES=1 RCLONE_LOW_LEVEL_RETRIES=2 RCLONE_CONTIMEOUT=10s RCLONE_TIMEOUT=60s",
    `REMOTE=${q(`offsite:${o.bucket}${o.prefix ? `/${o.prefix}` : ""}`)}`,
  ];
}

/**
 * offsite.sh: copies the local backups the remote lacks (each RDB before its checksum, so a
 * checksum there means a whole file), then prunes the remote to the newest `backupRetention`.
 * `--wait SECONDS`: first wait until a backup newer than the start is recorded (Docker's upload
 * step runs on the same schedule as the backup).
 */
export function renderOffsiteScript(cfg: ResolvedConfig): string {
  return [
    ...prologue(cfg, "offsite.sh", "Copies the backups to S3-compatible storage with rclone."),
    '. "$HERE/backup.env"',
    `STACK=${q(cfg.stack)}`,
    `RETENTION=${cfg.backup.retention}`,
    `STATUS="$BACKUP_DIR/${BACKUP_STATUS_FILE}"`,
    ...rcloneEnv(cfg),
    'fail() { echo "$STACK off-site copy to $REMOTE failed: $(printf "%s" "$*" | tr "\\n" " ")" >&2; exit 1; }',
    'if [ "${1:-}" = --wait ]; then',
    "  since=$(date +%s); until_t=$((since + ${2:-600}))",
    '  until [ "$(sed -n "s/^last_good_time=//p" "$STATUS" 2>/dev/null)" -ge "$since" ] 2>/dev/null; do',
    '    [ "$(date +%s)" -lt "$until_t" ] || fail "no new backup within ${2:-600} s"',
    "    sleep 5",
    "  done",
    "fi",
    'log="$(mktemp)"',
    "trap 'rm -f \"$log\"' EXIT",
    "# Only names exactly like a backup's, each RDB before its checksum; rclone skips links. Listed",
    "# through the same filter (and rclone's messages left out), the remote's names are all backups:",
    "# a planted one (a newline in it, or any other character) is neither counted nor removed.",
    `backups='/${backupNameGlob(cfg.stack)}'`,
    `pattern='${BACKUP_NAME_PATTERN(cfg.stack)}'`,
    'rclone copy --include "$backups" "$BACKUP_DIR" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"',
    'rclone copy --include "$backups.sha256" "$BACKUP_DIR" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"',
    'rclone lsf --files-only --include "$backups" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"',
    'grep -E "$pattern" "$log" | sort -r | tail -n +$((RETENTION + 1)) | while read -r old; do',
    '  rclone deletefile "$REMOTE/$old.sha256" 2>/dev/null',
    '  rclone deletefile "$REMOTE/$old" || exit 1',
    'done || fail "pruning the oldest backups"',
    'echo "$STACK off-site copy ok: $REMOTE holds the newest $(grep -cE "$pattern" "$log") backup(s) before pruning to $RETENTION"',
    "",
  ].join("\n");
}

/**
 * fetch.sh (rclone image or the sandbox): downloads `restoreFrom`'s s3:// object and its checksum
 * into a staging directory (argument 1) for restore.sh.
 */
export function renderFetchScript(cfg: ResolvedConfig): string {
  const restore = cfg.backup.restore;
  const key = restore?.kind === "s3" ? restore.key : "";
  const o = cfg.backup.offsite;
  return [
    ...prologue(cfg, "fetch.sh", "Downloads the off-site backup to restore, with its checksum."),
    ...(o ? rcloneEnv(cfg) : []),
    `REMOTE=${q(o ? `offsite:${o.bucket}` : "")}`,
    `KEY=${q(key)}`,
    'STAGING="${1:?usage: fetch.sh STAGING_DIR}"',
    'log="$(mktemp)"',
    "trap 'rm -f \"$log\"' EXIT",
    'for f in "$KEY.sha256" "$KEY"; do',
    '  rclone copyto "$REMOTE/$f" "$STAGING/${f##*/}" > "$log" 2>&1 ||',
    '    { echo "fetch of $REMOTE/$f failed: $(tail -n 1 "$log")" >&2; exit 1; }',
    "done",
    'echo "fetched $REMOTE/$KEY"',
    "",
  ].join("\n");
}

/**
 * restore.sh: seeds a node's empty data directory from a backup, before Redis starts. Refuses a
 * link, anything but a regular non-empty file (the backup and its `.sha256`), a copy that does
 * not match the checksum, and one redis-check-rdb rejects, each with one line and exit 1, nothing
 * seeded; never writes to the source. With appendonly yes, Redis loads only the AOF
 * (a lone dump.rdb is ignored and a shutdown would overwrite it), so the backup becomes the base
 * of a new AOF (`appendonlydir`, the RDB as `<appendfilename>.1.base.rdb` and a manifest naming
 * it); dump.rdb is the same file, the node's record of its data when nodes choose a master.
 * Environment: DATA_DIR, RESTORE_SOURCE (the backup file).
 */
export function renderRestoreScript(cfg: ResolvedConfig): string {
  return [
    ...prologue(cfg, "restore.sh", "Seeds an empty data directory from a verified backup.", false),
    'fail() { echo "restore failed: $(printf "%s" "$*" | tr "\\n" " ")" >&2; rm -rf "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp"; exit 1; }',
    SHA256_FUNCTION,
    RDB_ERROR_FUNCTION,
    "# Only a regular, non-empty file, named itself: a link may point anywhere (another stack's",
    "# backup, /etc/passwd), and a checksum written beside it proves nothing about what it holds.",
    "refuse_unless_file() {",
    '  if [ -L "$2" ]; then fail "$1 $2 is a symbolic link (to $(readlink "$2")); name the file itself"',
    '  elif [ ! -e "$2" ]; then fail "no $1 $2"',
    '  elif [ ! -f "$2" ]; then fail "$1 $2 is not a regular file"',
    '  elif [ ! -s "$2" ]; then fail "$1 $2 is empty"',
    "  fi",
    "}",
    ': "${DATA_DIR:?}" "${RESTORE_SOURCE:?}"',
    'if [ -e "$DATA_DIR/dump.rdb" ] || [ -e "$DATA_DIR/appendonlydir" ]; then',
    '  echo "restore: $DATA_DIR holds data already; nothing restored from ${RESTORE_SOURCE##*/}"',
    "  exit 0",
    "fi",
    'refuse_unless_file backup "$RESTORE_SOURCE"',
    'refuse_unless_file checksum "$RESTORE_SOURCE.sha256"',
    'expected="$(cut -d " " -f 1 < "$RESTORE_SOURCE.sha256")"',
    'printf "%s\\n" "$expected" | grep -qE "^[0-9a-f]{64}$" || fail "checksum $RESTORE_SOURCE.sha256 holds no SHA-256 digest"',
    'command -v redis-check-rdb > /dev/null || fail "redis-check-rdb not found: $RESTORE_SOURCE cannot be checked"',
    'rm -rf "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp"',
    "# The source is only read. Its copy, which Redis loads, must match the checksum and pass",
    "# redis-check-rdb before any use (a matching checksum says only that the file is the one it was",
    "# written for); Redis checks the RDB's own CRC64 again as it loads.",
    'err="$(cp "$RESTORE_SOURCE" "$DATA_DIR/.restore.tmp" 2>&1)" || fail "cannot copy $RESTORE_SOURCE into $DATA_DIR: $err"',
    '[ "$(sha256_of < "$DATA_DIR/.restore.tmp")" = "$expected" ] || fail "$RESTORE_SOURCE does not match its checksum"',
    'check="$(redis-check-rdb "$DATA_DIR/.restore.tmp" 2>&1)" && printf "%s\\n" "$check" | grep -q "RDB looks OK" ||',
    '  fail "redis-check-rdb refused $RESTORE_SOURCE: $(rdb_error "$check")"',
    'sync "$DATA_DIR/.restore.tmp"',
    ...(cfg.topology === "sentinel"
      ? [
          "# The node's start script counts a seeded node as one without data whenever a record or",
          "# another node holds data: a node seeded again after its volume was lost never wins over them.",
          `printf "%s\\n" "\${RESTORE_SOURCE##*/}" > "$DATA_DIR/${RESTORED_MARKER}" || fail "cannot write $DATA_DIR/${RESTORED_MARKER}"`,
        ]
      : []),
    ...(cfg.redis.appendonly
      ? [
          'mkdir "$DATA_DIR/.appendonlydir.tmp" &&',
          "  # One file, two names: Redis replaces both by new files, never writes into them.",
          '  ln "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp/appendonly.aof.1.base.rdb" &&',
          '  printf "file appendonly.aof.1.base.rdb seq 1 type b\\n" > "$DATA_DIR/.appendonlydir.tmp/appendonly.aof.manifest" &&',
          '  sync "$DATA_DIR/.appendonlydir.tmp/appendonly.aof.manifest" "$DATA_DIR/.appendonlydir.tmp" &&',
          "  # The commit point: the AOF directory appears whole.",
          '  mv "$DATA_DIR/.appendonlydir.tmp" "$DATA_DIR/appendonlydir" || fail "cannot write the AOF in $DATA_DIR"',
        ]
      : []),
    'mv "$DATA_DIR/.restore.tmp" "$DATA_DIR/dump.rdb" || fail "cannot write $DATA_DIR/dump.rdb"',
    'sync "$DATA_DIR"',
    'echo "restore: $DATA_DIR seeded from ${RESTORE_SOURCE##*/} ($(wc -c < "$DATA_DIR/dump.rdb" | tr -d " ") bytes, sha256 $expected)"',
    "",
  ].join("\n");
}

/** Docker: where the backup container has the scripts, the backups, and busybox crond's crontabs. */
export const DOCKER_BACKUP = {
  confDir: "/backup-conf",
  // The Redis image's /data belongs to its redis user: a new volume mounted there does too.
  backupDir: "/data",
  crontabs: "/backup-conf/crontabs",
} as const;

/** Docker: the crontab line's command, as the redis user; its output goes to a log beside the backups. */
export const DOCKER_BACKUP_COMMAND = `sh ${DOCKER_BACKUP.confDir}/backup.sh >> ${DOCKER_BACKUP.backupDir}/backup.log 2>&1`;

/** The busybox crontab of Docker's backup scheduler: the backup runs as the redis user. */
export function renderCrontab(cfg: ResolvedConfig, command: string): string {
  return [...header(cfg, "crontab"), `${cfg.backup.schedule} ${command}`, ""].join("\n");
}

/** Plain files of the backup conf dir. */
export function backupPlainFiles(cfg: ResolvedConfig, site: BackupSite): Files {
  return {
    "backup.sh": renderBackupScript(cfg),
    "restore.sh": renderRestoreScript(cfg),
    "backup.env": renderBackupEnv(cfg, site),
    ...(cfg.backup.offsite
      ? { "offsite.sh": renderOffsiteScript(cfg), "fetch.sh": renderFetchScript(cfg) }
      : {}),
  };
}

/** Secret files of the backup conf dir: the backup user's password, the sentinel lookup, S3 keys. */
export function backupSecretFiles(cfg: ResolvedConfig, secrets: SecretValues): Files {
  const grouped = cfg.topology === "sentinel";
  return {
    ...(cfg.backup.enabled ? { "backup.pass": need(secrets, userFor(cfg, "backup").secret) } : {}),
    ...(cfg.backup.enabled && grouped
      ? { "sentinel-client.pass": need(secrets, userFor(cfg, "sentinel-client").secret) }
      : {}),
    ...(cfg.backup.offsite
      ? {
          // fetch.sh needs them for an s3:// restore even with backups off.
          "s3-access-key-id": need(secrets, "backupS3AccessKeyId"),
          "s3-secret-access-key": need(secrets, "backupS3SecretAccessKey"),
        }
      : {}),
  };
}
