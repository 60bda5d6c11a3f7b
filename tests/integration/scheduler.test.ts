import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { acceptedSchedules as schedules } from "../helpers/cron";
import { CronExpressionParser } from "cron-parser";
import { ResolvedConfig } from "../../config/resolve";
import { renderCrontab } from "../../render/backup";
import { BackupScheduler } from "../../sandbox/runtime/backup";
import { startSandbox } from "../../sandbox/sandbox";
import { PROD_STANDALONE, resolve } from "../helpers/config";
import { freeBasePort } from "../helpers/ports";
import { copyConfDir, readStatus, setEnvLine } from "../helpers/backup";
import { waitFor } from "../helpers/wait";

/**
 * Docker runs the backup on busybox crond (the Redis image's), Kubernetes on the CronJob
 * controller, the sandbox on cron-parser. These tests hold busybox crond to cron-parser: what it
 * parses from each schedule, and when that makes it run.
 */

function busyboxCrond(): void {
  try {
    execFileSync("busybox", ["crond", "--help"], { stdio: "pipe" });
  } catch (err) {
    const out = `${(err as { stderr?: Buffer }).stderr ?? ""}`;
    if (!/Usage: crond/.test(out))
      throw new Error(
        "busybox crond is needed: apt-get install busybox-static (Debian's busybox has no crond)",
      );
  }
}

/** Stops a process and waits for it. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

type Bitmaps = {
  minute: boolean[];
  hour: boolean[];
  day: boolean[];
  month: boolean[];
  dow: boolean[];
};

/**
 * What busybox crond parses from each line of a crontab: at log level 0 it prints, per line, the
 * bitmaps of minutes (0-59), hours (0-23), days of the month (index = day), months (0 = January)
 * and weekdays (0 = Sunday).
 */
async function crondBitmaps(schedules: readonly string[]): Promise<Bitmaps[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-crond-"));
  try {
    fs.mkdirSync(path.join(dir, "tabs"));
    fs.writeFileSync(
      path.join(dir, "tabs", "root"),
      schedules.map((s) => `${s} true`).join("\n") + "\n",
    );
    const log = path.join(dir, "log");
    const child = spawn(
      "busybox",
      ["crond", "-f", "-l", "0", "-L", log, "-c", path.join(dir, "tabs")],
      {
        stdio: "ignore",
      },
    );
    try {
      const rows = await waitFor(
        "crond's parse of every line",
        () => {
          const lines = fs.existsSync(log)
            ? fs
                .readFileSync(log, "utf8")
                .split("\n")
                .filter((l) => /^[01]+$/.test(l))
            : [];
          // crond prints the table twice at start (load, then the first check): the first pass.
          return lines.length >= schedules.length * 5
            ? lines.slice(0, schedules.length * 5)
            : undefined;
        },
        10_000,
      );
      const bits = (row: string) => [...row].map((c) => c === "1");
      return schedules.map((_, i) => ({
        minute: bits(rows[i * 5]),
        hour: bits(rows[i * 5 + 1]),
        day: bits(rows[i * 5 + 2]),
        month: bits(rows[i * 5 + 3]),
        dow: bits(rows[i * 5 + 4]),
      }));
    } finally {
      await stop(child);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * When busybox crond runs a line with these bitmaps (its FixDayDow and its check each minute): a
 * restricted day of month or weekday alone decides; both restricted, either matches.
 */
function crondRuns(b: Bitmaps, from: Date, until: Date): string[] {
  const daysUsed = b.day.some((x) => !x);
  const weekUsed = b.dow.some((x) => !x);
  const day = weekUsed && !daysUsed ? b.day.map(() => false) : b.day;
  const dow = daysUsed && !weekUsed ? b.dow.map(() => false) : b.dow;
  const runs: string[] = [];
  const first = Math.floor(from.getTime() / 60_000 + 1) * 60_000;
  for (
    let midnight = Math.floor(first / 86_400_000) * 86_400_000;
    midnight <= until.getTime();
    midnight += 86_400_000
  ) {
    const d = new Date(midnight);
    if (!b.month[d.getUTCMonth()] || !(day[d.getUTCDate()] || dow[d.getUTCDay()])) continue;
    for (let h = 0; h < 24; h++) {
      if (!b.hour[h]) continue;
      for (let m = 0; m < 60; m++) {
        const t = midnight + (h * 60 + m) * 60_000;
        if (b.minute[m] && t >= first && t <= until.getTime()) runs.push(new Date(t).toISOString());
      }
    }
  }
  return runs;
}

/** cron-parser's runs after `from` up to `until`, at most `max`: what the sandbox follows. */
function parserRuns(expression: string, from: Date, until: Date, max = Infinity): string[] {
  const runs = CronExpressionParser.parse(expression, {
    tz: "UTC",
    currentDate: from,
    endDate: until,
  });
  const out: string[] = [];
  while (out.length < max && runs.hasNext()) out.push(runs.next().toDate().toISOString());
  return out;
}

describe("Docker's backup scheduler (busybox crond) runs when the CronJob and the sandbox would", function () {
  this.timeout(120_000);
  before(busyboxCrond);

  it("the stacks' schedule and hand-picked ones: the same runs as cron-parser's", async () => {
    const picked = [
      "0 2 * * *",
      "*/15 1-3,22 1,15 jan,jul */2",
      "30 4 * * mon-fri",
      "0 0 1 * sun",
      "5 */6 * * 0,6",
      "0 12 29 feb *",
      "0 0 1-31 * mon",
    ];
    const parsed = await crondBitmaps(picked);
    // Four years from a leap year's start: every month, weekday and 29 February.
    const from = new Date("2028-01-01T00:00:00Z");
    const until = new Date("2031-12-31T23:59:00Z");
    picked.forEach((s, i) => {
      const expected = parserRuns(s, from, until);
      assert.ok(expected.length > 0, s);
      assert.deepEqual(crondRuns(parsed[i], from, until), expected, s);
    });
  });

  it("any accepted schedule: busybox crond and cron-parser agree on the next runs", async () => {
    const samples = fc.sample(schedules, { numRuns: 100, seed: 20261126 });
    const parsed = await crondBitmaps(samples);
    // From a leap year's start, cron-parser's first 300 runs (at most four years of them), and
    // crond's runs up to the last of those.
    const from = new Date("2028-01-01T00:00:00Z");
    samples.forEach((s, i) => {
      const expected = parserRuns(s, from, new Date("2031-12-31T23:59:00Z"), 300);
      const until = new Date(expected[expected.length - 1] ?? "2031-12-31T23:59:00Z");
      assert.deepEqual(crondRuns(parsed[i], from, until), expected, s);
    });
  });
});

describe("Docker's backup container: busybox crond as root runs the rendered crontab's backup as the unprivileged user", function () {
  this.timeout(180_000);
  before(busyboxCrond);

  it("a run within a minute of `* * * * *`: a verified backup, written by the crontab's user, under capabilities SETUID and SETGID only", async function () {
    if (process.getuid?.() !== 0) this.skip(); // crond switches users only as root
    const cfg = resolve(PROD_STANDALONE, "sched");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-crond-run-"));
    const sandbox = await startSandbox(cfg, { dir, basePort: await freeBasePort(1) });
    let crond: ChildProcess | undefined;
    try {
      // The backup user's files and backup dir, owned by the job's user as in the container.
      const conf = copyConfDir(
        path.dirname(sandbox.connection.backup!.script),
        path.join(dir, "job-conf"),
      );
      const backups = path.join(dir, "job-backups");
      fs.mkdirSync(backups, { mode: 0o700 });
      setEnvLine(conf, "BACKUP_DIR", backups);
      // A user of the machine with an existing home, as the image's redis user has (crond runs a
      // job in its home, and gives up on the job without one).
      const [uid, gid] = execFileSync("sh", ["-c", "id -u daemon; id -g daemon"], {
        encoding: "utf8",
      })
        .trim()
        .split("\n")
        .map(Number);
      for (const p of [conf, backups, ...fs.readdirSync(conf).map((f) => path.join(conf, f))])
        fs.chownSync(p, uid, gid);
      fs.chmodSync(dir, 0o755);
      // The schedule is the only change: every minute, which validation refuses for a stack.
      const everyMinute: ResolvedConfig = {
        ...cfg,
        backup: { ...cfg.backup, schedule: "* * * * *" },
      };
      const tabs = path.join(dir, "tabs");
      fs.mkdirSync(tabs);
      fs.writeFileSync(
        path.join(tabs, "daemon"),
        renderCrontab(everyMinute, `sh ${conf}/backup.sh >> ${backups}/backup.log 2>&1`),
        { mode: 0o600 },
      );
      crond = spawn(
        "setpriv",
        [
          "--bounding-set=-all,+setuid,+setgid",
          "--inh-caps=-all",
          "busybox",
          "crond",
          "-f",
          "-l",
          "5",
          "-L",
          path.join(dir, "crond.log"),
          "-c",
          tabs,
        ],
        { stdio: "ignore" },
      );
      const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "(none)");
      // backup.sh writes backup.status, then its line to the log: the run is over when both are.
      const status = await waitFor(
        "a backup run by crond, its status and its log line",
        () =>
          fs.existsSync(path.join(backups, "backup.status")) &&
          /sched backup (ok|failed)/.test(read(path.join(backups, "backup.log")))
            ? readStatus(backups)
            : undefined,
        75_000,
        500,
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}; crond's log: ${read(path.join(dir, "crond.log"))}; backup.log: ${read(path.join(backups, "backup.log"))}`,
        );
      });
      assert.equal(status.result, "ok", fs.readFileSync(path.join(backups, "backup.log"), "utf8"));
      const file = path.join(backups, status.last_good_file);
      assert.equal(fs.statSync(file).uid, uid, "written by the job's user");
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.match(fs.readFileSync(path.join(backups, "backup.log"), "utf8"), /sched backup ok/);
    } finally {
      if (crond) await stop(crond);
      await sandbox.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the sandbox's scheduler", () => {
  it("runs the script when the schedule is due, and logs its last line", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-scheduler-"));
    try {
      const script = path.join(dir, "job.sh");
      fs.writeFileSync(script, `date +%s >> ${dir}/ran\necho job done\n`);
      // A clock 100 ms before a minute starts: "* * * * *" is due in 100 ms.
      const offset = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000 - 100 - Date.now();
      const lines: string[] = [];
      const scheduler = new BackupScheduler(
        "* * * * *",
        script,
        path.join(dir, "job.log"),
        (l) => lines.push(l),
        () => Date.now() + offset,
      );
      scheduler.start();
      try {
        await waitFor(
          "the run",
          () => (fs.existsSync(path.join(dir, "ran")) ? true : undefined),
          5000,
        );
        await waitFor("its log line", () => (lines.length > 0 ? true : undefined), 5000);
      } finally {
        await scheduler.stop();
      }
      assert.equal(fs.readFileSync(path.join(dir, "ran"), "utf8").trim().split("\n").length, 1);
      assert.match(lines[0], /^backup due at \d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z: job done$/);
      assert.equal(fs.readFileSync(path.join(dir, "job.log"), "utf8"), "job done\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("arms the next run of the schedule in UTC", () => {
    const scheduler = new BackupScheduler("30 4 * * mon-fri", "/dev/null", "/dev/null", () => {});
    assert.equal(
      scheduler.next(new Date("2026-11-27T04:30:00Z")).toISOString(),
      "2026-11-30T04:30:00.000Z",
      "Friday 04:30 is past: Monday",
    );
  });
});
