import { CronExpressionParser } from "cron-parser";
import { z } from "zod";
import { NEVER_OFFSITE, addressBits, addressText, mappedIPv4, rangeOf } from "./addresses";
import { Invalid, KeySpec, KeyValues, MI, TI, bool, checked, int, quantity } from "./schemas";
import { toMebibytes, wholeQuantity } from "./units";

/**
 * The keys of the BackupCronJob component and of restores, and what they resolve to. Schedules are
 * in UTC on every target: the Kubernetes CronJob sets `timeZone: Etc/UTC`, the Docker scheduler
 * and the sandbox run in UTC.
 */

/** Backups may not run more often than this: each one streams the whole dataset from the master. */
export const MIN_BACKUP_INTERVAL_MINUTES = 5;

const CRON_FIELDS = ["minute", "hour", "day of month", "month", "day of week"] as const;
/** One list item of a field: `*`, a value or a range, each optionally with a step. */
const CRON_ITEM = /^(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[1-9][0-9]*)?$/;
const CRON_NAMES: Partial<Record<(typeof CRON_FIELDS)[number], RegExp>> = {
  month: /^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)$/i,
  "day of week": /^(sun|mon|tue|wed|thu|fri|sat)$/i,
};
const CRON_RANGES: Record<(typeof CRON_FIELDS)[number], [number, number]> = {
  minute: [0, 59],
  hour: [0, 23],
  "day of month": [1, 31],
  month: [1, 12],
  // 0-6: 7 for Sunday is not understood by every scheduler of the targets.
  "day of week": [0, 6],
};
const SCHEDULE_ALLOWED = `must be a cron expression of five fields (minute hour day-of-month month day-of-week, in UTC) made of numbers, * , - and /, with three-letter month and weekday names, e.g. "0 2 * * *"; no seconds field, @-macros, L, W, # or ?, which the targets' schedulers do not all understand`;

/** Where a five-field expression uses syntax outside the part every scheduler shares, or undefined. */
function cronSyntaxProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return `${SCHEDULE_ALLOWED} (it has ${fields.length} fields)`;
  for (const [i, field] of fields.entries()) {
    const name = CRON_FIELDS[i];
    for (const item of field.split(",")) {
      if (!CRON_ITEM.test(item)) return `${SCHEDULE_ALLOWED} (${name} field "${field}")`;
      // busybox crond (the Docker target's scheduler) counts */N in this field from day 0: write
      // the range out, as every scheduler counts it from its first day.
      if (name === "day of month" && item.startsWith("*/"))
        return `${SCHEDULE_ALLOWED}; write "${item}" in the day-of-month field as "1-31${item.slice(1)}" (busybox crond, the Docker scheduler, counts */N there from day 0, the others from day 1)`;
      const values = item.replace(/\/.*$/, "").split("-");
      for (const value of values) {
        if (value === "*") continue;
        if (/^[0-9]+$/.test(value)) {
          const [min, max] = CRON_RANGES[name];
          if (Number(value) < min || Number(value) > max)
            return `${SCHEDULE_ALLOWED} (${name} ${value} is outside ${min}-${max})`;
        } else if (!CRON_NAMES[name]?.test(value)) {
          return `${SCHEDULE_ALLOWED} (${name} field "${field}")`;
        }
      }
    }
  }
  return undefined;
}

/**
 * The days a valid expression runs on (midnight UTC, in ms), one after the other, from a leap
 * year on for `years` years: its day-of-month, month and weekday fields repeat within four, and a
 * 29 February needs eight to run twice. Lazy: a caller that has its answer stops early.
 */
function* runDays(expression: string, years: number): Generator<number> {
  const days = CronExpressionParser.parse(
    `0 0 ${expression.trim().split(/\s+/).slice(2).join(" ")}`,
    {
      tz: "UTC",
      currentDate: new Date("2023-12-31T23:59:00Z"),
      endDate: new Date(Date.UTC(2024 + years, 0, 1)),
    },
  );
  while (days.hasNext()) yield days.next().toDate().getTime();
}

/**
 * The shortest time between two runs of a valid expression, in minutes, and where it falls. The
 * library parses the fields; the runs of a day are every allowed hour x every allowed minute, so
 * two runs are closest within an hour (adjacent minutes), across an hour (the last minute of an
 * hour, the first of the next allowed one), or across midnight (the day's last run and the next
 * day's first): only that last case depends on the days, and only when it is the closest do
 * consecutive days have to be looked up (eight years of runs at midnight, from a leap year).
 */
export function shortestInterval(expression: string): { minutes: number; where: string } {
  const fields = CronExpressionParser.parse(expression, { tz: "UTC" }).fields;
  const minutes: number[] = [...fields.minute.values];
  const hours: number[] = [...fields.hour.values];
  const two = (n: number) => String(n).padStart(2, "0");
  let best = { minutes: Infinity, where: "" };
  for (let i = 1; i < minutes.length; i++)
    if (minutes[i] - minutes[i - 1] < best.minutes)
      best = {
        minutes: minutes[i] - minutes[i - 1],
        where: `at minutes ${minutes[i - 1]} and ${minutes[i]} of an hour`,
      };
  const first = minutes[0];
  const last = minutes[minutes.length - 1];
  const nextHour = hours.find((h) => hours.includes(h + 1));
  if (nextHour !== undefined && 60 - last + first < best.minutes)
    best = {
      minutes: 60 - last + first,
      where: `at ${two(nextHour)}:${two(last)} and ${two(nextHour + 1)}:${two(first)}`,
    };
  const dayEnd = hours[hours.length - 1] * 60 + last;
  const dayStart = hours[0] * 60 + first;
  if (1440 - dayEnd + dayStart < best.minutes) {
    let previous: number | undefined;
    for (const day of runDays(expression, 4)) {
      if (previous !== undefined && day - previous === 86_400_000) {
        best = {
          minutes: 1440 - dayEnd + dayStart,
          where: `at ${two(hours[hours.length - 1])}:${two(last)} and ${two(hours[0])}:${two(first)} the next day, e.g. ${new Date(previous).toISOString().slice(0, 10)}`,
        };
        break;
      }
      previous = day;
    }
  }
  return best;
}

/**
 * The longest time between two runs of a valid expression, in minutes: within a day (consecutive
 * runs of the hours x minutes), or from a run day's last run to the next run day's first.
 */
export function longestIntervalMinutes(expression: string): number {
  const fields = CronExpressionParser.parse(expression, { tz: "UTC" }).fields;
  const minutes: number[] = [...fields.minute.values];
  const hours: number[] = [...fields.hour.values];
  const runs = hours.flatMap((h) => minutes.map((m) => h * 60 + m));
  let longest = 0;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i] - runs[i - 1]);
  const overnight = (apartMinutes: number) => apartMinutes - runs[runs.length - 1] + runs[0];
  const [, , dayOfMonth, month, weekday] = expression.trim().split(/\s+/);
  // Every day: the night between two days is the only gap across days.
  if (dayOfMonth === "*" && month === "*" && weekday === "*")
    return Math.max(longest, overnight(1440));
  // Two years hold every gap of weekday and monthly patterns (across a year's end too); a
  // 29 February runs once in them, and twice in eight.
  for (const years of [2, 8]) {
    const days = [...runDays(expression, years)];
    if (days.length < 2) continue;
    for (let i = 1; i < days.length; i++)
      longest = Math.max(longest, overnight(Math.round((days[i] - days[i - 1]) / 60_000)));
    return longest;
  }
  return longest;
  return longest;
}

/** Why a backup schedule is refused, or undefined. */
export function scheduleProblem(expression: string): string | undefined {
  const syntax = cronSyntaxProblem(expression);
  if (syntax) return syntax;
  try {
    CronExpressionParser.parse(expression, { tz: "UTC" });
  } catch (err) {
    return `${SCHEDULE_ALLOWED} (${err instanceof Error ? err.message : String(err)})`;
  }
  const closest = shortestInterval(expression);
  if (closest.minutes < MIN_BACKUP_INTERVAL_MINUTES)
    return `must run at most every ${MIN_BACKUP_INTERVAL_MINUTES} minutes (each backup streams the whole dataset from the master); it runs ${closest.minutes} minute(s) apart, ${closest.where} (UTC)`;
  return undefined;
}

/** The next `count` runs of a schedule after `from`, in UTC: what the sandbox's scheduler follows. */
export function nextRuns(expression: string, from: Date, count: number): Date[] {
  const runs = CronExpressionParser.parse(expression, { tz: "UTC", currentDate: from });
  return Array.from({ length: count }, () => runs.next().toDate());
}

const S3_BUCKET = /^(?=.{3,63}$)[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const S3_BUCKET_ALLOWED =
  '"" (no off-site copy) or an S3 bucket name: 3 to 63 lowercase letters, digits, "." and "-", starting and ending with a letter or digit, without "..", not an IP address, without a prefix or suffix S3 reserves (xn--, sthree-, amzn-s3-demo-; -s3alias, --ol-s3, .mrap, --x-s3, --table-s3)';
/** S3's bucket naming rules beyond the characters: names S3 refuses, or keeps for its own uses. */
const S3_RESERVED_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const S3_RESERVED_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
const S3_PREFIX = /^([A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+$/;
const S3_PREFIX_ALLOWED =
  '"" (the bucket\'s top) or "/"-separated path segments of letters, digits, ".", "_" and "-", without a leading or trailing "/", "." or ".." segments, at most 200 characters';
const BACKUP_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.rdb$/;
const RESTORE_ALLOWED =
  '"" (no restore), a backup file name in the backup storage such as "prod-20260101T020000Z.rdb", or "s3://<backupS3Bucket>/<key>.rdb" when off-site copies are configured';
const HOST_DIR_ALLOWED =
  'must be "" (a Docker named volume) or an absolute host path of letters, digits, ".", "_", "-" and "/", without empty, "." or ".." segments, not "/"';

const s3Key = z
  .string({ error: "must be a string" })
  .min(1, { error: "must not be empty" })
  .max(256, { error: "must be at most 256 characters" })
  .regex(/^[!-~]+$/, { error: "may hold printable ASCII only, without blanks" });

const dotSegments = (path: string) => path.split("/").some((s) => s === "." || s === "..");

/** Why S3 would refuse a bucket name, or undefined. */
export function bucketProblem(name: string): string | undefined {
  const refused = (reason?: string) =>
    `must be ${S3_BUCKET_ALLOWED}${reason ? `; ${JSON.stringify(name)} ${reason}` : ""}`;
  if (!S3_BUCKET.test(name)) return refused();
  if (name.includes("..")) return refused("has two adjacent periods");
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return refused("is formatted as an IP address");
  const prefix = S3_RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return refused(`starts with ${JSON.stringify(prefix)}, which S3 reserves`);
  const suffix = S3_RESERVED_SUFFIXES.find((p) => name.endsWith(p));
  if (suffix) return refused(`ends with ${JSON.stringify(suffix)}, which S3 reserves`);
  return undefined;
}

/**
 * Host folders the backup container must not be given: it mounts backupHostDir writable and runs
 * crond as root, so a system folder, a credentials folder or a socket would hand it the host.
 */
const SYSTEM_DIRS = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/snap",
  "/sys",
  "/usr",
  "/var/lib/containerd",
  "/var/lib/docker",
  "/var/lib/kubelet",
  "/var/run",
];
/** Folders shared by everything on the host: the backups need a folder of their own inside. */
const SHARED_DIRS = [
  "/home",
  "/media",
  "/mnt",
  "/opt",
  "/srv",
  "/tmp",
  "/var",
  "/var/lib",
  "/var/tmp",
];
const OWN_FOLDER = 'use a folder of its own, such as "/var/backups/lowcode-redis"';

/** Why a backup host folder is refused, or undefined. */
export function hostDirProblem(dir: string): string | undefined {
  if (dir === "") return undefined;
  if (
    !/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/.test(dir) ||
    /\/\//.test(dir) ||
    dotSegments(dir.slice(1))
  )
    return HOST_DIR_ALLOWED;
  const system = SYSTEM_DIRS.find((d) => dir === d || dir.startsWith(`${d}/`));
  if (system)
    return `must not be inside ${system}, a system folder of the host: the backup container mounts it writable and runs as root; ${OWN_FOLDER}`;
  const segment = dir.split("/").find((s) => s.startsWith(".") || /\.sock(et)?$/.test(s));
  if (segment)
    return `must not be or be inside ${JSON.stringify(segment)}, ${segment.startsWith(".") ? "a hidden folder (credentials and settings such as .ssh, .docker, .kube live in those)" : "a socket (a daemon's control socket gives whoever writes to it that daemon)"}; ${OWN_FOLDER}`;
  if (SHARED_DIRS.includes(dir))
    return `must not be ${dir} itself, which the whole host shares (backups are pruned there); ${OWN_FOLDER}`;
  return undefined;
}

const ENDPOINT_FORMAT =
  'must be "" (Amazon S3) or an http:// or https:// URL such as "https://s3.example.com"';
/** Host names of cloud instance metadata services. */
const METADATA_HOSTS = ["metadata.google.internal", "metadata.goog", "instance-data.ec2.internal"];
const NOT_OFFSITE =
  "off-site copies go to a server outside the cluster and its nodes, and the backup is let through to the endpoint's address";

/** Why an off-site endpoint is refused, or undefined. */
export function endpointProblem(v: string): string | undefined {
  if (v === "") return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return ENDPOINT_FORMAT;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return ENDPOINT_FORMAT;
  if (url.username || url.password)
    return "must not hold credentials: set backupS3AccessKeyId and backupS3SecretAccessKey with --secret";
  if (url.search || url.hash || (url.pathname !== "/" && url.pathname !== ""))
    return "must be the endpoint only (scheme, host, port), without a path, query or fragment: the bucket is backupS3Bucket and the path backupS3Prefix";
  // The WHATWG parser reads every spelling of an address (0x7f.1, 2130706433, 0177.0.0.1): judge
  // the address it decodes to, as the NetworkPolicy gets it.
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const address = addressBits(host);
  if (address) {
    const block = { ...address, prefix: address.family === 4 ? 32 : 128 };
    const never = rangeOf(block, NEVER_OFFSITE);
    const mapped = mappedIPv4(block);
    const shown = mapped ? `${addressText(4, mapped.bits)} (as ${host})` : host;
    if (never) return `names ${shown}, ${never.what}: ${NOT_OFFSITE}`;
  }
  const name = host.replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost"))
    return `names ${name}, a loopback address: ${NOT_OFFSITE}`;
  if (METADATA_HOSTS.includes(name))
    return `names ${name}, the cloud instance metadata service: ${NOT_OFFSITE}`;
  if (/^kubernetes(\.default(\.svc(\..+)?)?)?$/.test(name))
    return `names ${name}, the Service of the Kubernetes API server: ${NOT_OFFSITE}`;
  // rclone is given the text, the NetworkPolicy the decoded address: one spelling for both.
  if (v !== url.origin && v !== `${url.origin}/`)
    return `must be written as ${JSON.stringify(url.origin)}: rclone is given the endpoint as written and the NetworkPolicy the address it stands for, so they must be one spelling`;
  return undefined;
}

export const BACKUP_KEYS = {
  backupEnabled: {
    type: "boolean",
    description: "Scheduled, verified backups of the master's data (BackupCronJob).",
    default: true,
    schema: bool,
  },
  backupSchedule: {
    type: "string",
    description: `When backups run: a five-field cron expression in UTC, at most every ${MIN_BACKUP_INTERVAL_MINUTES} minutes.`,
    default: "0 2 * * *",
    schema: checked(SCHEDULE_ALLOWED, scheduleProblem),
  },
  backupRetention: {
    type: "integer",
    description: "How many backups to keep, locally and off-site (the oldest are pruned).",
    default: 7,
    schema: int(1, 365),
  },
  backupStorageSize: {
    type: "string",
    description:
      'Size of the backup volume (Kubernetes PersistentVolumeClaim); "" = (backupRetention + 1) x maxmemory.',
    default: "",
    schema: z.union([
      z.literal(""),
      quantity("4Gi", {
        min: MI,
        max: 64n * TI,
        allowed: 'must be "" (derived) or whole bytes from 1Mi to 64Ti, such as "4Gi"',
      }),
    ]),
  },
  backupHostDir: {
    type: "string",
    description:
      'Docker: a host folder for the backups instead of a named volume; "" = named volume.',
    default: "",
    schema: checked(HOST_DIR_ALLOWED, hostDirProblem),
  },
  backupS3Endpoint: {
    type: "string",
    description:
      'Off-site copies: the S3-compatible endpoint URL; "" = Amazon S3 of backupS3Region.',
    default: "",
    schema: checked('must be "" or an http(s) URL', endpointProblem),
  },
  backupS3Bucket: {
    type: "string",
    description: 'Off-site copies: the bucket; "" = no off-site copy.',
    default: "",
    schema: checked(`must be ${S3_BUCKET_ALLOWED}`, (v) =>
      v === "" ? undefined : bucketProblem(v),
    ),
  },
  backupS3Prefix: {
    type: "string",
    description: 'Off-site copies: the folder in the bucket; "" = the bucket\'s top.',
    default: "",
    schema: checked(`must be ${S3_PREFIX_ALLOWED}`, (v) =>
      v === "" || (v.length <= 200 && S3_PREFIX.test(v) && !dotSegments(v))
        ? undefined
        : `must be ${S3_PREFIX_ALLOWED}`,
    ),
  },
  backupS3Region: {
    type: "string",
    description: "Off-site copies: the S3 region.",
    default: "us-east-1",
    schema: checked('must be a region name such as "us-east-1"', (v) =>
      /^[a-z0-9][a-z0-9-]{0,40}$/.test(v) ? undefined : 'must be a region name such as "us-east-1"',
    ),
  },
  backupS3AccessKeyId: {
    type: "string",
    description: "Off-site copies: the access key ID (--secret).",
    default: undefined,
    schema: s3Key,
    secret: true,
  },
  backupS3SecretAccessKey: {
    type: "string",
    description: "Off-site copies: the secret access key (--secret).",
    default: undefined,
    schema: s3Key,
    secret: true,
  },
  restoreFrom: {
    type: "string",
    description:
      'Seed a new deployment\'s first node from a backup (only when its data is empty): a file in the backup storage or "s3://<bucket>/<key>"; "" = none.',
    default: "",
    schema: checked(`must be ${RESTORE_ALLOWED}`, (v) => {
      if (v === "" || BACKUP_FILE.test(v)) return undefined;
      const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(v);
      if (
        s3 &&
        bucketProblem(s3[1]) === undefined &&
        S3_PREFIX.test(s3[2]) &&
        !dotSegments(s3[2]) &&
        s3[2].endsWith(".rdb")
      )
        return undefined;
      return `must be ${RESTORE_ALLOWED}`;
    }),
  },
} as const satisfies Record<string, KeySpec>;

export interface OffsiteConfig {
  /** "" = Amazon S3. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly region: string;
}

export type RestoreSource =
  | { readonly kind: "local"; readonly file: string }
  | { readonly kind: "s3"; readonly bucket: string; readonly key: string; readonly file: string };

/** What the BackupCronJob component and restores work from. */
export interface BackupConfig {
  readonly enabled: boolean;
  readonly schedule: string;
  readonly retention: number;
  readonly storageSize: string;
  /** Docker: "" = named volume. */
  readonly hostDir: string;
  /** Set when backupS3Bucket is. */
  readonly offsite?: OffsiteConfig;
  readonly restore?: RestoreSource;
}

/** The production profile's warning when no backup leaves the deployment's failure domain. */
export const OFFSITE_MISSING_WARNING =
  'lowcode-redis:backupS3Bucket is "" on the production profile: no off-site copy is configured, so the backups stay beside the data (a PersistentVolumeClaim of the same cluster, or the Docker host) and are lost with it; set backupS3Bucket, backupS3AccessKeyId and backupS3SecretAccessKey (docs/backups.md#off-site-copies).';

/** Warns the production profile when the backups have no copy off the cluster (or host). */
function offsiteWarnings(values: KeyValues<typeof BACKUP_KEYS>, profile: string): string[] {
  return profile === "production" && values.backupS3Bucket === "" ? [OFFSITE_MISSING_WARNING] : [];
}

/**
 * Cross-key rules of the backup keys, once each has passed its schema. `supplied` names the secret
 * keys set in the stack config.
 */
export function resolveBackup(
  values: KeyValues<typeof BACKUP_KEYS>,
  context: {
    readonly target: "docker" | "kubernetes";
    readonly profile: string;
    readonly maxmemoryBytes: number;
    readonly maxmemory: string;
    readonly supplied: ReadonlySet<string>;
  },
  invalid: Invalid,
): { backup: BackupConfig; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = offsiteWarnings(values, context.profile);
  const v = values;
  const enabled = v.backupEnabled;
  const bucket = v.backupS3Bucket;
  const retention = v.backupRetention;
  const storageSize =
    v.backupStorageSize === ""
      ? toMebibytes((retention + 1) * context.maxmemoryBytes)
      : v.backupStorageSize;

  if (bucket !== "") {
    for (const key of ["backupS3AccessKeyId", "backupS3SecretAccessKey"])
      if (!context.supplied.has(key))
        problems.push(
          `Missing lowcode-redis:${key}: off-site copies to bucket "${bucket}" need it; set it with "pulumi config set --secret lowcode-redis:${key} <value>".`,
        );
  } else {
    for (const key of ["backupS3AccessKeyId", "backupS3SecretAccessKey"])
      if (context.supplied.has(key))
        problems.push(
          `Invalid lowcode-redis:${key} (secret value not shown): used only for off-site copies, and lowcode-redis:backupS3Bucket is "".`,
        );
  }
  if (v.backupHostDir !== "" && context.target !== "docker")
    problems.push(
      invalid(
        "backupHostDir",
        v.backupHostDir,
        `is for the Docker target only; this stack's target is ${context.target} (the backups go to a PersistentVolumeClaim of backupStorageSize)`,
      ),
    );
  if (context.target === "kubernetes") {
    const bytes = Number(wholeQuantity(storageSize));
    if (bytes < 2 * context.maxmemoryBytes)
      problems.push(
        invalid(
          "backupStorageSize",
          storageSize,
          `must be at least twice lowcode-redis:maxmemory "${context.maxmemory}" (${toMebibytes(2 * context.maxmemoryBytes)}): a new backup is written beside the last one before the oldest is pruned`,
        ),
      );
    else if (
      enabled &&
      v.backupStorageSize !== "" &&
      bytes < (retention + 1) * context.maxmemoryBytes
    )
      warnings.push(
        `lowcode-redis:backupStorageSize "${storageSize}" holds fewer than backupRetention + 1 (${retention + 1}) backups of a full maxmemory "${context.maxmemory}" dataset; RDB files are compressed and usually smaller, but a backup that does not fit fails.`,
      );
  }

  let restore: RestoreSource | undefined;
  const restoreFrom = v.restoreFrom;
  if (restoreFrom.startsWith("s3://")) {
    const [, restoreBucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(restoreFrom)!;
    if (bucket === "" || restoreBucket !== bucket)
      problems.push(
        invalid(
          "restoreFrom",
          restoreFrom,
          bucket === ""
            ? 'names an off-site backup, but lowcode-redis:backupS3Bucket is "" (no off-site storage is configured)'
            : `must name an object of lowcode-redis:backupS3Bucket "${bucket}"`,
        ),
      );
    if (context.target === "docker")
      problems.push(
        invalid(
          "restoreFrom",
          restoreFrom,
          "on the Docker target must be a file of the backup volume (or backupHostDir): copy the off-site backup and its .sha256 there first (docs/operations/restore.md), then name the file",
        ),
      );
    restore = { kind: "s3", bucket: restoreBucket, key, file: key.slice(key.lastIndexOf("/") + 1) };
  } else if (restoreFrom !== "") {
    if (!enabled && context.target === "kubernetes")
      problems.push(
        invalid(
          "restoreFrom",
          restoreFrom,
          "names a file of the backup volume, which exists only while lowcode-redis:backupEnabled is true",
        ),
      );
    restore = { kind: "local", file: restoreFrom };
  }

  return {
    backup: {
      enabled,
      schedule: v.backupSchedule.trim().split(/\s+/).join(" "),
      retention,
      storageSize,
      hostDir: v.backupHostDir,
      offsite:
        bucket === ""
          ? undefined
          : {
              endpoint: v.backupS3Endpoint,
              bucket,
              prefix: v.backupS3Prefix,
              region: v.backupS3Region,
            },
      restore,
    },
    problems,
    warnings,
  };
}
