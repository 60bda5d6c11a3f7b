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

/** Lines every script starts with: its directory, its settings, owner-only files. */
function prologue(cfg: ResolvedConfig, file: string, what: string): string[] {
  return [
    "#!/bin/sh",
    ...header(cfg, file).slice(0, 2),
    `# ${what}`,
    "set -u",
    "umask 077",
    'HERE="$(cd "$(dirname "$0")" && pwd)"',
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
    '  printf "result=%s\\ntime=%s\\nduration_s=%s\\nfile=%s\\nsize=%s\\nmessage=%s\\nlast_good_time=%s\\nlast_good_file=%s\\nlast_good_size=%s\\n" \\',
    '    "$1" "$_now" "$((_now - started))" "$2" "$3" "$4" "${_good_time:-}" "${_good_file:-}" "${_good_size:-}" > "$STATUS.tmp.$$" 2>/dev/null &&',
    '    mv -f "$STATUS.tmp.$$" "$STATUS" 2>/dev/null',
    "}",
    "fail() {",
    '  _msg="$(printf "%s" "$*" | tr "\\n" " ")"',
    `  echo "${cfg.stack} backup failed: $_msg" >&2`,
    "  # The partial file first: on a full disk the status needs its room.",
    "  cleanup",
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
    'partial=""; cli=""; locked=""',
    'LOCK="$BACKUP_DIR/.backup.lock"',
    "# A partial file goes with its run; the lock goes last.",
    'cleanup() { [ -n "$cli" ] && kill "$cli" 2> /dev/null; cli=""; [ -n "$partial" ] && rm -f "$partial" "$partial.log" "$partial.sha256" "$partial.sum"; partial=""; }',
    'unlock() { [ -n "$locked" ] && rm -rf "$LOCK"; locked=""; }',
    "trap 'fail \"stopped by a signal\"' INT TERM",
    ...statusFunctions(cfg),
    ...findMasterFunction(cfg),
    SHA256_FUNCTION,
    "",
    '[ -d "$BACKUP_DIR" ] || fail "backup directory $BACKUP_DIR does not exist"',
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
    'locked=1; echo "$(hostname) $$" > "$LOCK/owner"',
    "# Holding the lock, every partial file is a killed run's.",
    'rm -f "$BACKUP_DIR"/.*.partial "$BACKUP_DIR"/.*.partial.* "$STATUS".tmp.*',
    "",
    'master="$(find_master)"',
    '[ -n "$master" ] || fail "no master found (asked: ${SENTINELS:-$NODES})"',
    'host="${master% *}"; port="${master#* }"',
    'name="$STACK-$(date -u +%Y%m%dT%H%M%SZ).rdb"',
    '[ -e "$BACKUP_DIR/$name" ] && fail "$name exists already (one backup per second)"',
    'partial="$BACKUP_DIR/.$name.$$.partial"',
    "# In the background, so that a signal stops the run at once (sh runs a trap between commands).",
    `REDISCLI_AUTH="$(cat "$HERE/backup.pass")" timeout ${BACKUP_STREAM_TIMEOUT_SECONDS} redis-cli --no-auth-warning --user ${user} \\`,
    '  -h "$host" -p "$port" --rdb "$partial" > "$partial.log" 2>&1 &',
    "cli=$!",
    'wait "$cli" || { cli=""; fail "redis-cli --rdb from $host:$port: $(grep -vE "^(sending|SYNC sent)" "$partial.log" | tail -n 1)"; }',
    'cli=""',
    '[ -s "$partial" ] || fail "redis-cli --rdb from $host:$port wrote nothing"',
    "# The checksum and the check read the file side by side.",
    '(sha256_of < "$partial" > "$partial.sum") &',
    "summing=$!",
    'check="$(redis-check-rdb "$partial" 2>&1)" && printf "%s\\n" "$check" | grep -q "RDB looks OK" ||',
    '  { wait "$summing"; fail "redis-check-rdb refused the RDB from $host:$port: $(printf "%s\\n" "$check" | grep -v "^\\[info\\]" | tail -n 1)"; }',
    'wait "$summing" && sum="$(cat "$partial.sum")" && [ -n "$sum" ] || fail "cannot compute the checksum of $name"',
    'size="$(wc -c < "$partial" | tr -d " ")"',
    'printf "%s  %s\\n" "$sum" "$name" > "$partial.sha256" || fail "cannot write the checksum of $name"',
    "sync",
    "# The checksum first: a visible backup always has one.",
    'mv -f "$partial.sha256" "$BACKUP_DIR/$name.sha256" && mv -f "$partial" "$BACKUP_DIR/$name" ||',
    '  fail "cannot move $name into $BACKUP_DIR"',
    'rm -f "$partial.log" "$partial.sum"; partial=""',
    "sync",
    "# Retention: this backup and the newest RETENTION - 1 older ones stay. Names dated later than",
    "# this one (a clock set back, files copied in) are neither counted nor removed; nor is anything",
    "# but a regular file.",
    `ls -1 "$BACKUP_DIR" | grep -E '${BACKUP_NAME_PATTERN(cfg.stack)}' | awk -v this="$name" '$0 < this' | sort -r |`,
    '  tail -n +"$RETENTION" | while read -r old; do',
    '    [ -f "$BACKUP_DIR/$old" ] && rm -f "$BACKUP_DIR/$old" "$BACKUP_DIR/$old.sha256"',
    "  done",
    'write_status ok "$name" "$size" "from $host:$port"',
    "unlock",
    'echo "$STACK backup ok: $BACKUP_DIR/$name ($size bytes, sha256 $sum) from $host:$port in $(($(date +%s) - started)) s"',
    ...(b.offsite
      ? [
          'if [ "$OFFSITE_STEP" = inline ]; then',
          '  sh "$HERE/offsite.sh" || { write_status failed "$name" "$size" "off-site copy failed; the local backup $name is kept"; exit 1; }',
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
    `pattern='${BACKUP_NAME_PATTERN(cfg.stack)}'`,
    'rclone copy --include "$STACK-*.rdb" "$BACKUP_DIR" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"',
    'rclone copy --include "$STACK-*.rdb.sha256" "$BACKUP_DIR" "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"',
    'rclone lsf --files-only "$REMOTE" > "$log" 2>&1 || fail "$(tail -n 1 "$log")"',
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
 * restore.sh: seeds a node's empty data directory from a backup, before Redis starts. Checks the
 * `.sha256` first and never writes to the source. With appendonly yes, Redis loads only the AOF
 * (a lone dump.rdb is ignored and a shutdown would overwrite it), so the backup becomes the base
 * of a new AOF (`appendonlydir`, the RDB as `<appendfilename>.1.base.rdb` and a manifest naming
 * it); dump.rdb is the same file, the node's record of its data when nodes choose a master.
 * Environment: DATA_DIR, RESTORE_SOURCE (the backup file).
 */
export function renderRestoreScript(cfg: ResolvedConfig): string {
  return [
    ...prologue(cfg, "restore.sh", "Seeds an empty data directory from a verified backup."),
    'fail() { echo "restore failed: $*" >&2; rm -rf "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp"; exit 1; }',
    SHA256_FUNCTION,
    ': "${DATA_DIR:?}" "${RESTORE_SOURCE:?}"',
    'if [ -e "$DATA_DIR/dump.rdb" ] || [ -e "$DATA_DIR/appendonlydir" ]; then',
    '  echo "restore: $DATA_DIR holds data already; nothing restored from ${RESTORE_SOURCE##*/}"',
    "  exit 0",
    "fi",
    '[ -f "$RESTORE_SOURCE" ] || fail "no backup $RESTORE_SOURCE"',
    '[ -f "$RESTORE_SOURCE.sha256" ] || fail "no checksum $RESTORE_SOURCE.sha256 beside the backup"',
    'expected="$(cut -d " " -f 1 < "$RESTORE_SOURCE.sha256")"',
    'rm -rf "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp"',
    "# The source is only read. Its copy, which Redis loads, must match the checksum before any use:",
    "# it is then the file redis-check-rdb accepted when the backup was taken, and Redis checks the",
    "# RDB's own CRC64 as it loads.",
    'cp "$RESTORE_SOURCE" "$DATA_DIR/.restore.tmp" || fail "cannot copy $RESTORE_SOURCE into $DATA_DIR"',
    '[ "$(sha256_of < "$DATA_DIR/.restore.tmp")" = "$expected" ] || fail "$RESTORE_SOURCE does not match its checksum"',
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
