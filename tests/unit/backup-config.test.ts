import { strict as assert } from "node:assert";
import { CronExpressionParser } from "cron-parser";
import fc from "fast-check";
import { shortestInterval } from "../../config/backup";
import { DEV, PROD, PROD_STANDALONE, problemsOf, resolve } from "../helpers/config";
import { grammarSchedules } from "../helpers/cron";

/** Every problem `values` get, or [] when they resolve. */
const problems = (values: Record<string, unknown>, secretKeys: string[] = []) =>
  problemsOf(values, secretKeys, "prod");
const S3_KEYS = {
  backupS3AccessKeyId: { secure: "v1:a" },
  backupS3SecretAccessKey: { secure: "v1:b" },
};
const S3_SECRET = ["backupS3AccessKeyId", "backupS3SecretAccessKey"];

describe("backup config: schedules, retention, storage, off-site and restore keys", () => {
  it("the shortest interval of a schedule, within an hour, across an hour and across midnight", () => {
    assert.equal(shortestInterval("0 2 * * *").minutes, 1440);
    assert.equal(shortestInterval("*/5 * * * *").minutes, 5);
    assert.equal(shortestInterval("0,3 * * * *").minutes, 3);
    assert.equal(shortestInterval("58 1,2 * * *").minutes, 60);
    assert.equal(shortestInterval("0,58 1,2 * * *").minutes, 2);
    assert.equal(shortestInterval("0,58 0,23 * * *").minutes, 2, "23:58, then 00:00");
    // 23:58 on the 28th, 00:00 on the 1st: consecutive only from February to March.
    const rare = shortestInterval("0,58 0,23 1,28 2,3 *");
    assert.equal(rare.minutes, 2);
    assert.match(rare.where, /-02-28/);
    assert.equal(shortestInterval("0,58 0,23 1,28 * *").minutes, 2, "28 February, then 1 March");
    assert.equal(shortestInterval("0,58 0,23 1,15 * *").minutes, 58, "never on consecutive days");
  });

  it("never finds runs further apart than cron-parser's own closest runs (300 runs from 2024)", () => {
    fc.assert(
      fc.property(grammarSchedules, (expression) => {
        let runs;
        try {
          runs = CronExpressionParser.parse(expression, {
            tz: "UTC",
            currentDate: new Date("2023-12-31T23:59:00Z"),
            endDate: new Date("2028-01-01T00:00:00Z"),
          });
        } catch {
          return; // not a valid expression: refused before any interval is looked for
        }
        let previous: number | undefined;
        let closest = Infinity;
        for (let i = 0; i < 300 && runs.hasNext(); i++) {
          const t = runs.next().toDate().getTime();
          if (previous !== undefined) closest = Math.min(closest, (t - previous) / 60_000);
          previous = t;
        }
        assert.ok(
          shortestInterval(expression).minutes <= closest,
          `${expression}: ${shortestInterval(expression).minutes} > ${closest}`,
        );
      }),
      { numRuns: 150, seed: 1126 },
    );
  });

  it("refuses schedules other schedulers read otherwise, or more often than every 5 minutes, naming key, value and what is allowed", () => {
    const cases: Array<[string, RegExp]> = [
      ["*/2 * * * *", /at most every 5 minutes.*2 minute\(s\) apart/],
      ["0 0 L * *", /five fields.*day of month field "L"/],
      ["@daily", /five fields.*\(it has 1 fields\)/],
      ["0 0 2 * * *", /\(it has 6 fields\)/],
      ["0 0 * * 7", /day of week 7 is outside 0-6/],
      ["0 0 */2 * *", /write "\*\/2" in the day-of-month field as "1-31\/2"/],
      ["0 24 * * *", /hour 24 is outside 0-23/],
      ["0 0 31 feb *", /Invalid explicit day of month/],
      ["0 0 ? * *", /day of month field "\?"/],
    ];
    for (const [schedule, allowed] of cases) {
      const found = problems({ ...PROD, backupSchedule: schedule });
      assert.equal(found.length, 1, `${schedule}: ${found.join("\n")}`);
      assert.ok(
        found[0].startsWith(`Invalid lowcode-redis:backupSchedule ${JSON.stringify(schedule)}: `),
        found[0],
      );
      assert.match(found[0], allowed, schedule);
    }
    assert.deepEqual(problems({ ...PROD, backupSchedule: "  30   4 * * mon-fri " }), []);
    assert.equal(
      resolve({ ...PROD, backupSchedule: "  30   4 * * mon-fri " }).backup.schedule,
      "30 4 * * mon-fri",
    );
  });

  it("retention 1 to 365; storage derived from retention and maxmemory, at least twice maxmemory on Kubernetes", () => {
    for (const retention of [0, 366, 2.5, "seven"]) {
      const [problem] = problems({ ...PROD, backupRetention: retention });
      assert.match(
        problem,
        new RegExp(
          `^Invalid lowcode-redis:backupRetention ${JSON.stringify(retention).replace(/[.]/g, "\\.")}: must be a whole number from 1 to 365\\.$`,
        ),
      );
    }
    assert.equal(
      resolve({ ...PROD, backupRetention: 2, maxmemory: "1gb", memoryLimit: "3Gi" }).backup
        .storageSize,
      "3072Mi",
    );
    assert.match(
      problems({ ...PROD, backupStorageSize: "512Mi" })[0],
      /^Invalid lowcode-redis:backupStorageSize "512Mi": must be at least twice lowcode-redis:maxmemory "384mb" \(768Mi\)/,
    );
    assert.match(
      resolve({ ...PROD, backupStorageSize: "1Gi" }).warnings.join("\n"),
      /backupStorageSize "1Gi" holds fewer than backupRetention \+ 1 \(8\) backups/,
    );
  });

  it("off-site: bucket, prefix, endpoint and region checked; both keys needed as secrets, and only with a bucket", () => {
    assert.match(
      problems({ ...PROD, backupS3Bucket: "Bad_Bucket", ...S3_KEYS }, S3_SECRET)[0],
      /^Invalid lowcode-redis:backupS3Bucket "Bad_Bucket": must be "" \(no off-site copy\) or an S3 bucket name/,
    );
    assert.match(
      problems({ ...PROD, backupS3Prefix: "/abs/../x" })[0],
      /^Invalid lowcode-redis:backupS3Prefix "\/abs\/\.\.\/x": must be "" \(the bucket's top\) or "\/"-separated path segments/,
    );
    assert.match(
      problems({ ...PROD, backupS3Endpoint: "https://key:secret@s3.example.com" })[0],
      /^Invalid lowcode-redis:backupS3Endpoint "https:\/\/key:secret@s3\.example\.com": must not hold credentials/,
    );
    assert.match(
      problems({ ...PROD, backupS3Endpoint: "ftp://s3.example.com" })[0],
      /must be "" \(Amazon S3\) or an http:\/\/ or https:\/\/ URL/,
    );
    assert.match(
      problems({ ...PROD, backupS3Region: "US East" })[0],
      /^Invalid lowcode-redis:backupS3Region "US East": must be a region name/,
    );
    assert.deepEqual(problems({ ...PROD, backupS3Bucket: "lowcode-backups" }), [
      'Missing lowcode-redis:backupS3AccessKeyId: off-site copies to bucket "lowcode-backups" need it; set it with "pulumi config set --secret lowcode-redis:backupS3AccessKeyId <value>".',
      'Missing lowcode-redis:backupS3SecretAccessKey: off-site copies to bucket "lowcode-backups" need it; set it with "pulumi config set --secret lowcode-redis:backupS3SecretAccessKey <value>".',
    ]);
    const plain = problems(
      {
        ...PROD,
        backupS3Bucket: "lowcode-backups",
        backupS3AccessKeyId: "AKIAPLAINTEXT123",
        backupS3SecretAccessKey: { secure: "x" },
      },
      ["backupS3SecretAccessKey"],
    );
    assert.ok(
      plain.some((p) => p.startsWith("Invalid lowcode-redis:backupS3AccessKeyId (plain text):")),
      plain.join("\n"),
    );
    assert.ok(!plain.join("\n").includes("AKIAPLAINTEXT123"), "the value is never shown");
    assert.match(
      problems({ ...PROD, ...S3_KEYS }, S3_SECRET).join("\n"),
      /Invalid lowcode-redis:backupS3AccessKeyId \(secret value not shown\): used only for off-site copies, and lowcode-redis:backupS3Bucket is ""/,
    );
    const cfg = resolve(
      { ...PROD, backupS3Bucket: "lowcode-backups", backupS3Prefix: "redis/prod", ...S3_KEYS },
      "prod",
      S3_SECRET,
    );
    assert.deepEqual(cfg.backup.offsite, {
      endpoint: "",
      bucket: "lowcode-backups",
      prefix: "redis/prod",
      region: "us-east-1",
    });
    assert.deepEqual(cfg.suppliedSecrets, S3_SECRET);
  });

  it("restoreFrom: a backup file name, or s3:// in the configured bucket (Kubernetes); a host folder only on Docker", () => {
    assert.deepEqual(
      resolve({ ...PROD, restoreFrom: "prod-20260101T020000Z.rdb" }).backup.restore,
      {
        kind: "local",
        file: "prod-20260101T020000Z.rdb",
      },
    );
    for (const bad of ["../etc/passwd", "/abs/file.rdb", "dump.aof", "s3://lowcode-backups/x.txt"])
      assert.match(
        problems({ ...PROD, restoreFrom: bad })[0],
        new RegExp(
          `^Invalid lowcode-redis:restoreFrom ${JSON.stringify(bad).replace(/[.*/?]/g, "\\$&")}: must be "" \\(no restore\\), a backup file name`,
        ),
        bad,
      );
    assert.match(
      problems({ ...PROD, restoreFrom: "s3://lowcode-backups/prod.rdb" })[0],
      /names an off-site backup, but lowcode-redis:backupS3Bucket is "" \(no off-site storage is configured\)/,
    );
    assert.match(
      problems(
        {
          ...PROD,
          backupS3Bucket: "lowcode-backups",
          ...S3_KEYS,
          restoreFrom: "s3://other-bucket/prod.rdb",
        },
        S3_SECRET,
      )[0],
      /must name an object of lowcode-redis:backupS3Bucket "lowcode-backups"/,
    );
    assert.match(
      problems(
        {
          ...DEV,
          backupS3Bucket: "lowcode-backups",
          ...S3_KEYS,
          restoreFrom: "s3://lowcode-backups/dev.rdb",
        },
        S3_SECRET,
      )[0],
      /on the Docker target must be a file of the backup volume/,
    );
    assert.match(
      problems({ ...PROD_STANDALONE, backupHostDir: "/srv/backups" })[0],
      /^Invalid lowcode-redis:backupHostDir "\/srv\/backups": is for the Docker target only/,
    );
    assert.match(
      problems({ ...DEV, backupHostDir: "relative/dir" })[0],
      /^Invalid lowcode-redis:backupHostDir "relative\/dir": must be "" \(a Docker named volume\) or an absolute host path/,
    );
    assert.equal(
      resolve({ ...DEV, backupHostDir: "/srv/redis-backups" }).backup.hostDir,
      "/srv/redis-backups",
    );
  });
});
