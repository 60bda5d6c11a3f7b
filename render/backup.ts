import type { OffsiteConfig } from "../config/backup";
import { ResolvedConfig } from "../config/resolve";
import { Files } from "./files";
import { SecretValues, header, need, scriptHeader, userFor } from "./redis-conf";
import { fillTemplate, scriptTemplate } from "./template";

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

const BACKUP_TEMPLATE = scriptTemplate("backup.sh");
const RESTORE_TEMPLATE = scriptTemplate("restore.sh");
const OFFSITE_TEMPLATE = scriptTemplate("offsite.sh");
const FETCH_TEMPLATE = scriptTemplate("fetch.sh");
/** sha256_of and rdb_error, which backup.sh and restore.sh both use. */
const CHECKSUM_FUNCTIONS = scriptTemplate("parts/checksum-functions.sh");
const FIND_MASTER_SENTINEL_PART = scriptTemplate("parts/find-master-sentinel.sh");
const FIND_MASTER_NODE_PART = scriptTemplate("parts/find-master-node.sh");
const OFFSITE_INLINE_PART = scriptTemplate("parts/backup-offsite-inline.sh");
const RESTORE_MARKER_PART = scriptTemplate("parts/restore-marker.sh");
const RESTORE_AOF_PART = scriptTemplate("parts/restore-aof.sh");
const RCLONE_ENV_PART = scriptTemplate("parts/rclone-env.sh");

/** The master's "host port": through the sentinels (most of those answering), or the one node. */
function findMasterFunction(cfg: ResolvedConfig): string {
  if (cfg.topology !== "sentinel") return fillTemplate(FIND_MASTER_NODE_PART, {});
  return fillTemplate(FIND_MASTER_SENTINEL_PART, {
    SENTINEL_CLIENT_USER: userFor(cfg, "sentinel-client").username,
    MASTER_NAME: cfg.sentinel.masterName,
  });
}

/**
 * backup.sh (render/scripts/backup.sh): one verified backup into BACKUP_DIR, streamed from the
 * master as the `backup` user, checked with redis-check-rdb, with its `.sha256`; prunes to the
 * newest `backupRetention`, records the run in `backup.status`, and copies off-site when
 * configured. On any failure: one line on stderr, exit 1, earlier backups untouched.
 */
export function renderBackupScript(cfg: ResolvedConfig): string {
  return fillTemplate(BACKUP_TEMPLATE, {
    HEADER: scriptHeader(cfg, "backup.sh"),
    // A stack name is letters, digits, '_', '.' and '-' (config/resolve.ts): it needs no quoting.
    STACK: cfg.stack,
    RETENTION: String(cfg.backup.retention),
    STATUS_FILE: BACKUP_STATUS_FILE,
    FIND_MASTER: findMasterFunction(cfg),
    CHECKSUM_FUNCTIONS,
    STREAM_TIMEOUT_SECONDS: String(BACKUP_STREAM_TIMEOUT_SECONDS),
    STALE_LOCK_MINUTES: String(Math.ceil(BACKUP_STREAM_TIMEOUT_SECONDS / 60) + 5),
    BACKUP_USER: userFor(cfg, "backup").username,
    BACKUP_GLOB: backupNameGlob(cfg.stack),
    OFFSITE_INLINE: cfg.backup.offsite ? fillTemplate(OFFSITE_INLINE_PART, {}) : "",
  });
}

/** rclone's settings for the off-site remote, from the environment: no config file, no secret argument. */
function rcloneEnv(o: OffsiteConfig): string {
  return fillTemplate(RCLONE_ENV_PART, {
    PROVIDER: o.endpoint === "" ? "AWS" : "Other",
    ENDPOINT: o.endpoint === "" ? "" : `export RCLONE_CONFIG_OFFSITE_ENDPOINT=${q(o.endpoint)}`,
    REGION: q(o.region),
    REMOTE: q(`offsite:${o.bucket}${o.prefix ? `/${o.prefix}` : ""}`),
  });
}

/**
 * offsite.sh (render/scripts/offsite.sh): copies the local backups the remote lacks, then prunes
 * the remote to the newest `backupRetention`; `--wait SECONDS` first waits for a new backup.
 */
export function renderOffsiteScript(cfg: ResolvedConfig): string {
  return fillTemplate(OFFSITE_TEMPLATE, {
    HEADER: scriptHeader(cfg, "offsite.sh"),
    STACK: cfg.stack,
    RETENTION: String(cfg.backup.retention),
    STATUS_FILE: BACKUP_STATUS_FILE,
    RCLONE_ENV: rcloneEnv(cfg.backup.offsite!),
    BACKUP_GLOB: backupNameGlob(cfg.stack),
    BACKUP_PATTERN: BACKUP_NAME_PATTERN(cfg.stack),
  });
}

/**
 * fetch.sh (render/scripts/fetch.sh, rclone image or the sandbox): downloads `restoreFrom`'s
 * s3:// object and its checksum into a staging directory (argument 1) for restore.sh.
 */
export function renderFetchScript(cfg: ResolvedConfig): string {
  const restore = cfg.backup.restore;
  const o = cfg.backup.offsite;
  return fillTemplate(FETCH_TEMPLATE, {
    HEADER: scriptHeader(cfg, "fetch.sh"),
    RCLONE_ENV: o ? rcloneEnv(o) : "",
    BUCKET_REMOTE: q(o ? `offsite:${o.bucket}` : ""),
    KEY: q(restore?.kind === "s3" ? restore.key : ""),
  });
}

/**
 * restore.sh (render/scripts/restore.sh): seeds a node's empty data directory from a verified
 * backup before Redis starts (as the base of a new AOF with appendonly yes), and marks a group's
 * node as seeded. Environment: DATA_DIR, RESTORE_SOURCE (the backup file).
 */
export function renderRestoreScript(cfg: ResolvedConfig): string {
  return fillTemplate(RESTORE_TEMPLATE, {
    HEADER: scriptHeader(cfg, "restore.sh"),
    CHECKSUM_FUNCTIONS,
    SEEDED_MARKER:
      cfg.topology === "sentinel" ? fillTemplate(RESTORE_MARKER_PART, { RESTORED_MARKER }) : "",
    AOF_BASE: cfg.redis.appendonly ? fillTemplate(RESTORE_AOF_PART, {}) : "",
  });
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
