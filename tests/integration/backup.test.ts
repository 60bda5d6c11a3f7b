import { strict as assert } from "node:assert";
import { execFile, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import S3rver from "s3rver";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { collectReport, formatReport } from "../../ops/monitor";
import { directClient } from "../../lib/redis-clients";
import { PROD, PROD_STANDALONE, resolve } from "../helpers/config";
import { backupPlainFiles, renderOffsiteScript } from "../../render/backup";
import { SeededKey, assertSameData, readKeys, seedPlatformData } from "../helpers/dataset";
import { platformClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import {
  BARE_ENV,
  backupListing,
  copyConfDir,
  nextSecond,
  rdbLooksOk,
  readStatus,
  runBackupScript,
  setEnvLine,
  sha256File,
} from "../helpers/backup";

describe("backup.sh and restore.sh on the production sandbox (sentinel group)", function () {
  this.timeout(240_000);
  const cfg = resolve(PROD, "prod");
  const dirs: string[] = [];
  const tmp = (prefix = "lowcode-backup-") => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  let source: Sandbox;
  let keys: SeededKey[];
  let expected0: Awaited<ReturnType<typeof readKeys>>;
  let readAt: number;
  let backupFile: string;
  let backupSum: string;

  before(async () => {
    source = await startSandbox(cfg, { dir: tmp(), basePort: await freeBasePort(3) });
    keys = await seedPlatformData(source.connection);
  });
  after(async () => {
    await source?.stop();
    dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
  });

  it("takes a verified backup while a writer runs: `sh <backup.script>`, no arguments, no environment", async () => {
    const { script, dir } = source.connection.backup!;
    const writer = platformClient(source.connection, "app", cfg.databaseIndex.flowCache);
    await writer.connect();
    let writing = true;
    let written = 0;
    const load = (async () => {
      while (writing) {
        await writer.set(`flow:result:load-${written}`, "x".repeat(512), "EX", 3600);
        written++;
      }
    })();
    try {
      // Wait until the writer is under way, then back up while it writes.
      while (written < 200) await new Promise((r) => setImmediate(r));
      readAt = Date.now();
      expected0 = await readKeys(source.connection, keys);
      const run = await runBackupScript(script);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^prod backup ok: /m);
    } finally {
      writing = false;
      await load;
      writer.disconnect();
    }
    const files = fs.readdirSync(dir).filter((f) => f.endsWith(".rdb"));
    assert.equal(files.length, 1);
    assert.match(files[0], /^prod-\d{8}T\d{6}Z\.rdb$/);
    backupFile = path.join(dir, files[0]);
    backupSum = sha256File(backupFile);
    assert.ok(rdbLooksOk(backupFile), "redis-check-rdb accepts the backup");
    assert.equal(
      fs.readFileSync(`${backupFile}.sha256`, "utf8"),
      `${backupSum}  ${files[0]}\n`,
      "the .sha256 names the file in sha256sum -c format",
    );
    execFileSync("sha256sum", ["-c", `${files[0]}.sha256`], { cwd: dir });
    const status = readStatus(dir);
    assert.equal(status.result, "ok");
    assert.equal(status.last_good_file, files[0]);
    assert.equal(Number(status.size), fs.statSync(backupFile).size);
    assert.ok(written > 200, "the writer went on during the backup");
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith(".")),
      [],
      "no partial file is left",
    );
    for (const f of fs.readdirSync(dir))
      assert.equal(fs.statSync(path.join(dir, f)).mode & 0o077, 0, `${f} is owner-only`);
  });

  it("the monitor shows the latest good backup and its age", async () => {
    const report = formatReport(await collectReport(source.connection));
    assert.match(
      report,
      new RegExp(
        `^backups in ${source.connection.backup!.dir}: latest good backup \\d+ s old: ${path.basename(backupFile)} `,
        "m",
      ),
    );
  });

  it("restores it into a fresh production group: every key of the six databases with its value and TTL, on every node; the backup is unchanged; a restart keeps the data", async () => {
    assert.ok(backupFile, "needs the backup of the test before");
    const dir = tmp();
    const basePort = await freeBasePort(3);
    let restored = await startSandbox(cfg, { dir, basePort, restoreFrom: backupFile });
    try {
      assertSameData(expected0, await readKeys(restored.connection, keys), Date.now() - readAt);
      // Replicas resynced from the seeded master: each node holds every key.
      const expected = keys.length;
      const admin = restored.connection.users.admin;
      for (const node of restored.nodes) {
        const client = directClient("127.0.0.1", node.port, { ...admin });
        try {
          await client.connect();
          let held = 0;
          for (const db of new Set(keys.map((k) => k.db))) {
            await client.select(db);
            const want = keys.filter((k) => k.db === db).map((k) => k.key);
            held += (await client.exists(...want)) as number;
          }
          assert.equal(held, expected, `${node.name} holds every restored key`);
        } finally {
          client.disconnect();
        }
      }
      assert.equal(sha256File(backupFile), backupSum, "the backup file is unchanged");
      assert.ok(fs.existsSync(path.join(restored.nodes[0].dataDir, "appendonlydir")));

      // Stopped and started again on the same dir, without a restore: AOF on, data kept.
      await restored.stop();
      restored = await startSandbox(cfg, { dir, basePort });
      assertSameData(expected0, await readKeys(restored.connection, keys), Date.now() - readAt);
    } finally {
      await restored.stop();
    }
  });

  it("a node seeded again after its volume was lost does not win over the group's newer data", async () => {
    assert.ok(backupFile);
    const dir = tmp();
    const basePort = await freeBasePort(3);
    let group = await startSandbox(cfg, { dir, basePort, restoreFrom: backupFile });
    try {
      assert.ok(
        !fs.existsSync(path.join(group.nodes[0].dataDir, "restored-from")),
        "the mark is gone once the node has started",
      );
      const app = platformClient(group.connection, "app", 0);
      await app.connect();
      await app.set("newer:data", "written after the restore");
      await app.call("WAIT", "2", "5000");
      app.disconnect();
      // The whole group stops; node 0 (the master the sentinels remember) loses its volume, and
      // the restore seeds it again from the old backup.
      await group.stop();
      fs.rmSync(group.nodes[0].dataDir, { recursive: true, force: true });
      group = await startSandbox(cfg, { dir, basePort, restoreFrom: backupFile });
      const check = platformClient(group.connection, "app", 0);
      try {
        await check.connect();
        assert.equal(await check.get("newer:data"), "written after the restore");
      } finally {
        check.disconnect();
      }
    } finally {
      await group.stop();
    }
  });

  it("seeds only an empty data dir, and refuses a backup whose checksum does not match, without touching it", async () => {
    assert.ok(backupFile);
    const { confDir } = { confDir: path.dirname(source.connection.backup!.script) };
    const restore = path.join(confDir, "restore.sh");
    const copy = path.join(tmp(), path.basename(backupFile));
    fs.copyFileSync(backupFile, copy);
    fs.writeFileSync(`${copy}.sha256`, `${"0".repeat(64)}  ${path.basename(copy)}\n`);
    const empty = tmp();
    const bad = await runBackupScript(restore, {
      env: { ...BARE_ENV, DATA_DIR: empty, RESTORE_SOURCE: copy },
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /does not match its checksum/);
    assert.deepEqual(fs.readdirSync(empty), [], "nothing written");
    assert.equal(sha256File(copy), backupSum);

    fs.copyFileSync(`${backupFile}.sha256`, `${copy}.sha256`);
    const holding = tmp();
    fs.writeFileSync(path.join(holding, "dump.rdb"), "existing");
    const skipped = await runBackupScript(restore, {
      env: { ...BARE_ENV, DATA_DIR: holding, RESTORE_SOURCE: copy },
    });
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stdout, /holds data already; nothing restored/);
    assert.equal(fs.readFileSync(path.join(holding, "dump.rdb"), "utf8"), "existing");

    const missing = await runBackupScript(restore, {
      env: { ...BARE_ENV, DATA_DIR: tmp(), RESTORE_SOURCE: `${copy}.gone` },
    });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no backup/);
  });

  it("restore.sh refuses a link (the backup or its .sha256), a non-regular or empty file and an RDB redis-check-rdb rejects, under busybox sh and dash: one line, exit 1, nothing seeded", async () => {
    assert.ok(backupFile);
    const restore = path.join(path.dirname(source.connection.backup!.script), "restore.sh");
    const src = tmp();
    const at = (day: number) =>
      path.join(src, `prod-202001${String(day).padStart(2, "0")}T000000Z.rdb`);
    const sumOf = (file: string, digest: string) =>
      fs.writeFileSync(`${file}.sha256`, `${digest}  ${path.basename(file)}\n`);
    const withSum = (file: string) => sumOf(file, sha256File(file));
    const good = at(1);
    fs.copyFileSync(backupFile, good);
    withSum(good);
    const cases: Array<[string, () => string, RegExp]> = [
      [
        "a link to /etc/passwd, with a matching checksum",
        () => (
          fs.symlinkSync("/etc/passwd", at(2)),
          sumOf(at(2), sha256File("/etc/passwd")),
          at(2)
        ),
        /backup \S+ is a symbolic link \(to \/etc\/passwd\); name the file itself/,
      ],
      [
        "a link to a good backup",
        () => (
          fs.symlinkSync(good, at(3)),
          fs.copyFileSync(`${good}.sha256`, `${at(3)}.sha256`),
          at(3)
        ),
        /backup \S+ is a symbolic link/,
      ],
      [
        "a good backup whose .sha256 is a link",
        () => (
          fs.copyFileSync(good, at(4)),
          fs.symlinkSync(`${good}.sha256`, `${at(4)}.sha256`),
          at(4)
        ),
        /checksum \S+\.sha256 is a symbolic link/,
      ],
      [
        "a good backup whose .sha256 holds no digest",
        () => (
          fs.copyFileSync(good, at(10)),
          fs.writeFileSync(`${at(10)}.sha256`, "planted\n"),
          at(10)
        ),
        /checksum \S+\.sha256 holds no SHA-256 digest/,
      ],
      [
        "a directory",
        () => (fs.mkdirSync(at(5)), sumOf(at(5), "0".repeat(64)), at(5)),
        /backup \S+ is not a regular file/,
      ],
      [
        "a FIFO",
        () => (execFileSync("mkfifo", [at(6)]), sumOf(at(6), "0".repeat(64)), at(6)),
        /backup \S+ is not a regular file/,
      ],
      [
        "an empty file, with a matching checksum",
        () => (fs.writeFileSync(at(7), ""), withSum(at(7)), at(7)),
        /backup \S+ is empty/,
      ],
      [
        "a transfer cut short, with a matching checksum",
        () => (
          fs.writeFileSync(at(8), fs.readFileSync(backupFile).subarray(0, 100)),
          withSum(at(8)),
          at(8)
        ),
        /redis-check-rdb refused \S+: \[offset \d+\] Unexpected EOF reading RDB file/,
      ],
      [
        "a file that is no RDB, with a matching checksum",
        () => (fs.copyFileSync("/etc/passwd", at(9)), withSum(at(9)), at(9)),
        /redis-check-rdb refused \S+: \[offset \d+\] Wrong signature/,
      ],
    ];
    const planted = cases.map(([what, plant, reason]) => ({ what, file: plant(), reason }));
    for (const shell of [["busybox", "sh"], ["dash"]]) {
      for (const { what, file, reason } of planted) {
        const data = tmp();
        const run = await runBackupScript(restore, {
          shell,
          env: { ...BARE_ENV, DATA_DIR: data, RESTORE_SOURCE: file },
        });
        const label = `${shell.join(" ")}, ${what}`;
        assert.notEqual(run.code, 0, `${label}: ${run.stdout}`);
        assert.equal(run.stdout, "", label);
        const lines = run.stderr.trim().split("\n");
        assert.equal(lines.length, 1, `${label}: one line: ${run.stderr}`);
        assert.match(lines[0], /^restore failed: /, label);
        assert.match(lines[0], reason, label);
        assert.deepEqual(fs.readdirSync(data), [], `${label}: nothing seeded`);
      }
      // The good backup still seeds.
      const data = tmp();
      const run = await runBackupScript(restore, {
        shell,
        env: { ...BARE_ENV, DATA_DIR: data, RESTORE_SOURCE: good },
      });
      assert.equal(run.code, 0, `${shell.join(" ")}: ${run.stderr}`);
      assert.match(run.stdout, /seeded from prod-20200101T000000Z\.rdb/);
      assert.equal(sha256File(path.join(data, "dump.rdb")), backupSum);
    }
    assert.equal(sha256File(good), backupSum, "the sources are only read");
  });

  it("the sandbox's --restore-from runs the same checks: a link is refused before any process starts", async () => {
    assert.ok(backupFile);
    const link = path.join(tmp(), path.basename(backupFile));
    fs.symlinkSync(backupFile, link);
    fs.copyFileSync(`${backupFile}.sha256`, `${link}.sha256`);
    const dir = tmp();
    const outcome = await startSandbox(cfg, {
      dir,
      basePort: await freeBasePort(3),
      restoreFrom: link,
    }).then(
      (started) => started,
      (err: Error) => err,
    );
    if (!(outcome instanceof Error)) {
      await outcome.stop();
      assert.fail("the sandbox started from a link");
    }
    assert.match(outcome.message, /^restore failed: backup \S+ is a symbolic link \(to /);
    const seeded = fs
      .readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => /(^|\/)(dump\.rdb|appendonlydir)$/.test(f));
    assert.deepEqual(seeded, [], "nothing seeded");
  });

  describe("failures: exit non-zero with one line, every earlier backup intact, the last good one still recorded", () => {
    let confDir: string;
    let backupDir: string;
    let earlier: Record<string, string>;

    before(() => {
      confDir = path.dirname(source.connection.backup!.script);
      backupDir = source.connection.backup!.dir;
      earlier = backupListing(backupDir);
      assert.ok(Object.keys(earlier).length >= 2, "needs the backup of the first test");
    });

    const expectFailure = async (
      run: Promise<{ code: number; stdout: string; stderr: string }>,
      reason: RegExp,
    ) => {
      const result = await run;
      assert.notEqual(result.code, 0, result.stdout);
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line: ${result.stderr}`);
      assert.match(lines[0], /^prod backup failed: /);
      assert.match(lines[0], reason);
      assert.deepEqual(backupListing(backupDir), earlier, "earlier backups unchanged");
      assert.deepEqual(
        fs.readdirSync(backupDir).filter((f) => f.startsWith(".")),
        [],
        "no partial file left",
      );
      const status = readStatus(backupDir);
      assert.equal(status.result, "failed");
      assert.ok(status.last_good_file && earlier[status.last_good_file], "last good backup kept");
    };

    it("master unreachable (no sentinel answers)", async () => {
      const conf = copyConfDir(confDir, tmp());
      setEnvLine(conf, "SENTINELS", "127.0.0.1:1 127.0.0.1:2");
      await expectFailure(runBackupScript(path.join(conf, "backup.sh")), /no master found/);
    });

    it("wrong password", async () => {
      const conf = copyConfDir(confDir, tmp());
      fs.writeFileSync(path.join(conf, "backup.pass"), "not-the-password-0123456789");
      await expectFailure(runBackupScript(path.join(conf, "backup.sh")), /WRONGPASS|AUTH/i);
    });

    it("unwritable target", async () => {
      // The copy in a folder of its own that others may enter (never chmod a shared /tmp).
      const base = tmp();
      const conf = copyConfDir(confDir, path.join(base, "conf"));
      const locked = tmp();
      setEnvLine(conf, "BACKUP_DIR", backupDir);
      if (process.getuid?.() === 0) {
        // root writes anywhere: run as nobody, whose backup dir (root's, 0700) is not writable.
        for (const f of fs.readdirSync(conf)) fs.chownSync(path.join(conf, f), 65534, 65534);
        fs.chownSync(conf, 65534, 65534);
        fs.chmodSync(base, 0o755);
        const run = runBackupScript(path.join(conf, "backup.sh"), {
          shell: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh"],
        });
        const result = await run;
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /is not writable|Permission denied/);
        assert.deepEqual(backupListing(backupDir), earlier);
      } else {
        fs.chmodSync(locked, 0o500);
        setEnvLine(conf, "BACKUP_DIR", locked);
        const result = await runBackupScript(path.join(conf, "backup.sh"));
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /is not writable/);
      }
    });

    it("disk full (a file size limit below the RDB's size)", async () => {
      await expectFailure(
        runBackupScript(source.connection.backup!.script, {
          shell: ["sh", "-c", 'ulimit -f 4; exec sh "$0"'],
        }),
        /redis-cli --rdb|wrote nothing|checksum|move/,
      );
    });

    it("corrupt RDB (a transfer cut short is refused by redis-check-rdb)", async () => {
      // A redis-cli that delivers the first 100 bytes of a real RDB and reports success.
      const bin = tmp();
      const realCli = execFileSync("sh", ["-c", "command -v redis-cli"], {
        encoding: "utf8",
      }).trim();
      const sample = Object.keys(earlier).find((f) => f.endsWith(".rdb"))!;
      fs.writeFileSync(
        path.join(bin, "redis-cli"),
        [
          "#!/bin/sh",
          'for a in "$@"; do if [ "$prev" = --rdb ]; then head -c 100 ' +
            `'${path.join(backupDir, sample)}' > "$a"; exit 0; fi; prev=$a; done`,
          `exec '${realCli}' "$@"`,
        ].join("\n"),
        { mode: 0o755 },
      );
      await expectFailure(
        runBackupScript(source.connection.backup!.script, {
          env: { PATH: `${bin}:${BARE_ENV.PATH}` },
        }),
        /redis-check-rdb refused/,
      );
    });

    it("one run at a time: a live run's lock refuses a second; a dead run's lock is taken over", async () => {
      const lock = path.join(backupDir, ".backup.lock");
      const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
      try {
        fs.mkdirSync(lock);
        fs.writeFileSync(path.join(lock, "owner"), `${os.hostname()} ${sleeper.pid}\n`);
        const busy = await runBackupScript(source.connection.backup!.script);
        assert.notEqual(busy.code, 0);
        assert.match(busy.stderr, /another backup is running \(\S+ \d+; lock /);
        assert.ok(fs.existsSync(lock), "the other run's lock stays");
        assert.deepEqual(backupListing(backupDir), earlier);
      } finally {
        sleeper.kill("SIGKILL");
        await new Promise((r) => sleeper.once("exit", r));
      }
      // Its process is gone now: the next run takes the lock over, and removes the lock when done.
      await nextSecond();
      const run = await runBackupScript(source.connection.backup!.script);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(!fs.existsSync(lock));
      earlier = backupListing(backupDir);
    });

    it("retention neither counts nor removes backups dated later than the new one, and keeps the new one", async () => {
      const future = Array.from({ length: 7 }, (_, i) => `prod-2099010${i + 1}T000000Z.rdb`);
      for (const f of future) {
        fs.writeFileSync(path.join(backupDir, f), "future");
        fs.writeFileSync(path.join(backupDir, `${f}.sha256`), "future");
      }
      fs.mkdirSync(path.join(backupDir, "prod-20000101T000000Z.rdb"));
      try {
        await nextSecond();
        const run = await runBackupScript(source.connection.backup!.script);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stderr, "", "nothing to complain about");
        const name = readStatus(backupDir).last_good_file;
        assert.ok(fs.existsSync(path.join(backupDir, name)), "the new backup is kept");
        for (const f of future) assert.ok(fs.existsSync(path.join(backupDir, f)), f);
      } finally {
        for (const f of future) {
          fs.rmSync(path.join(backupDir, f));
          fs.rmSync(path.join(backupDir, `${f}.sha256`));
        }
        fs.rmdirSync(path.join(backupDir, "prod-20000101T000000Z.rdb"));
      }
      earlier = backupListing(backupDir);
    });

    it("runs the same under busybox sh and dash, and retention keeps the newest", async () => {
      for (const shell of [["busybox", "sh"], ["dash"]]) {
        await nextSecond();
        const run = await runBackupScript(source.connection.backup!.script, { shell });
        assert.equal(run.code, 0, `${shell.join(" ")}: ${run.stderr}`);
      }
      const listing = Object.keys(backupListing(backupDir)).filter((f) => f.endsWith(".rdb"));
      assert.equal(listing.length, Object.keys(earlier).length / 2 + 2);
      earlier = backupListing(backupDir);
    });
  });

  it("the backup user may stream an RDB and nothing else: GET, SET, KEYS, CONFIG (renamed or not), SELECT, INFO, SUBSCRIBE are refused", async () => {
    const master = source.connection.redis.find((r) => r.role === "master")!;
    const password = source.secrets.backupPassword!;
    const client: Redis = directClient("127.0.0.1", master.port, {
      username: "backup",
      password,
    });
    try {
      await client.connect();
      const refused = async (args: string[], error = /NOPERM/) => {
        await assert.rejects(client.call(args[0], ...args.slice(1)), error, args.join(" "));
      };
      await refused(["GET", keys[0].key]);
      await refused(["SET", "backup:probe", "x"]);
      await refused(["KEYS", "*"]);
      // CONFIG is renamed in production: by its own name it does not exist.
      await refused(["CONFIG", "GET", "dir"], /unknown command/);
      await refused([source.secrets.configCommand!, "GET", "dir"]);
      await refused(["SELECT", "1"]);
      await refused(["INFO"]);
      await refused(["SCAN", "0"]);
      await refused(["DUMP", keys[0].key]);
      await refused(["PSYNC", "?", "-1"]);
      // Only the REPLCONF that redis-cli --rdb sends: no announced address (the sentinels would
      // connect to it with their password, and could promote it), no ACK (it would count for
      // min-replicas-to-write and WAIT without holding the writes).
      await refused(["REPLCONF", "listening-port", "7999"]);
      await refused(["REPLCONF", "ip-address", "10.0.0.66"]);
      await refused(["REPLCONF", "ACK", "1000000000"]);
      await refused(["REPLCONF", "GETACK", "*"]);
      assert.equal(await client.call("REPLCONF", "capa", "eof"), "OK");
      await refused(["SUBSCRIBE", "flow:1:cursors"]);
    } finally {
      client.disconnect();
    }
  });

  describe("hostile names and a full disk, each in a backup dir of its own", () => {
    const mounted: string[] = [];
    /** A copy of the source's conf dir whose backup.sh writes into `dir`. */
    const confFor = (dir: string) => {
      const conf = copyConfDir(path.dirname(source.connection.backup!.script), tmp());
      setEnvLine(conf, "BACKUP_DIR", dir);
      return path.join(conf, "backup.sh");
    };
    after(() => {
      for (const dir of mounted.splice(0)) execFileSync("umount", [dir]);
    });

    it("retention counts and removes only real backups: names planted with newlines, spaces or a path, a directory and links named like backups are neither counted nor removed (busybox sh and dash)", async () => {
      const dir = tmp();
      const script = confFor(dir);
      const exists = (f: string) => {
        try {
          fs.lstatSync(path.join(dir, f));
          return true;
        } catch {
          return false;
        }
      };
      // Nine real older backups, each with its checksum.
      const real = Array.from({ length: 9 }, (_, i) => `prod-2020010${i + 1}T000000Z.rdb`);
      for (const f of real) {
        fs.writeFileSync(path.join(dir, f), `old ${f}`);
        fs.writeFileSync(path.join(dir, `${f}.sha256`), `old ${f}`);
      }
      // Six names with a newline, each with a line that reads like a backup newer than the real ones.
      const withNewline = [
        ...Array.from({ length: 5 }, (_, i) => `planted-${i}\nprod-2025010${i + 1}T000000Z.rdb`),
        "prod-20250106T000000Z.rdb\n",
      ];
      const otherNames = [
        "prod-20250107T000000Z.rdb ",
        " prod-20250107T000000Z.rdb",
        "prod 20250107T000000Z.rdb",
        "..\\prod-20250108T000000Z.rdb",
        "prod-2025010xT000000Z.rdb",
      ];
      for (const f of [...withNewline, ...otherNames]) {
        fs.writeFileSync(path.join(dir, f), "planted");
        fs.writeFileSync(path.join(dir, `${f}.sha256`), "planted");
      }
      // A directory named like a backup, holding one: "prod-…rdb/prod-…rdb".
      fs.mkdirSync(path.join(dir, "prod-20250109T000000Z.rdb"));
      fs.writeFileSync(
        path.join(dir, "prod-20250109T000000Z.rdb", "prod-20250109T000000Z.rdb"),
        "planted",
      );
      // Links named like backups: to a file elsewhere, and to a real backup.
      const victim = path.join(tmp(), "not-a-backup");
      fs.writeFileSync(victim, "someone else's file");
      fs.symlinkSync(victim, path.join(dir, "prod-20250110T000000Z.rdb"));
      fs.symlinkSync(victim, path.join(dir, "prod-20250110T000000Z.rdb.sha256"));
      fs.symlinkSync(path.join(dir, real[0]), path.join(dir, "prod-20250111T000000Z.rdb"));
      const planted = [
        ...withNewline,
        ...otherNames,
        ...[...withNewline, ...otherNames].map((f) => `${f}.sha256`),
        "prod-20250109T000000Z.rdb",
        "prod-20250110T000000Z.rdb",
        "prod-20250110T000000Z.rdb.sha256",
        "prod-20250111T000000Z.rdb",
      ];

      const taken: string[] = [];
      for (const shell of [["dash"], ["busybox", "sh"]]) {
        await nextSecond();
        const run = await runBackupScript(script, { shell });
        const label = shell.join(" ");
        assert.equal(run.code, 0, `${label}: ${run.stderr}`);
        assert.equal(run.stderr, "", label);
        const status = readStatus(dir);
        taken.push(status.last_good_file);
        // The newest 7 real backups stay, each with its checksum; the older ones go with theirs.
        const all = [...real, ...taken].sort().reverse();
        const keep = all.slice(0, cfg.backup.retention);
        for (const f of keep)
          assert.ok(exists(f) && exists(`${f}.sha256`), `${label}: ${f} is kept`);
        for (const f of all.slice(cfg.backup.retention))
          assert.ok(!exists(f) && !exists(`${f}.sha256`), `${label}: ${f} is removed`);
        for (const f of planted) assert.ok(exists(f), `${label}: ${JSON.stringify(f)} stays`);
        assert.equal(status.result, "ok", label);
        assert.equal(status.kept, String(cfg.backup.retention), label);
        assert.match(status.message, /; 7 backup\(s\) kept \(retention 7\)$/, label);
      }
      assert.equal(fs.readFileSync(victim, "utf8"), "someone else's file");
      assert.equal(taken.length, 2);
    });

    it("a full disk: the reason (No space left on device) in backup.status and the log line, the partial file gone", async function () {
      if (process.getuid?.() !== 0) this.skip(); // mounting a small tmpfs needs root
      // An incompressible value makes the RDB larger than the disk.
      const app = platformClient(source.connection, "app", cfg.databaseIndex.flowCache);
      await app.connect();
      try {
        await app.set(
          "flow:result:disk-filler",
          randomBytes(64 * 1024).toString("base64"),
          "EX",
          600,
        );
        const dir = tmp();
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs", dir]);
        mounted.push(dir);
        const run = await runBackupScript(confFor(dir));
        assert.notEqual(run.code, 0, run.stdout);
        const lines = run.stderr.trim().split("\n");
        assert.equal(lines.length, 1, `one line: ${run.stderr}`);
        assert.match(
          lines[0],
          // "short write" when the disk fills up within a write: the script says why.
          /^prod backup failed: redis-cli --rdb from \S+ exited 1: Error writing data to file: (No space left on device|short write; No space left on device in \/)/,
        );
        const status = readStatus(dir);
        assert.equal(status.result, "failed");
        assert.equal(`prod backup failed: ${status.message}`, lines[0], "the same reason in both");
        assert.deepEqual(fs.readdirSync(dir), ["backup.status"], "no partial file, no lock left");
      } finally {
        await app.del("flow:result:disk-filler");
        app.disconnect();
      }
    });

    it("a disk already full of backups: the reason in backup.status (rewritten in place) and the log line, the last good backup still recorded", async function () {
      if (process.getuid?.() !== 0) this.skip(); // mounting a small tmpfs needs root
      const dir = tmp();
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs", dir]);
      mounted.push(dir);
      const script = confFor(dir);
      // A good run's record, then an older backup that fills every byte left.
      fs.writeFileSync(
        path.join(dir, "backup.status"),
        "result=ok\ntime=1\nlast_good_time=1\nlast_good_file=prod-20200101T000000Z.rdb\nlast_good_size=28000\n",
      );
      const filler = fs.openSync(path.join(dir, "prod-20200101T000000Z.rdb"), "w");
      try {
        for (;;) fs.writeSync(filler, Buffer.alloc(1024));
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, "ENOSPC");
      } finally {
        fs.closeSync(filler);
      }
      const run = await runBackupScript(script);
      assert.notEqual(run.code, 0, run.stdout);
      const lines = run.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line: ${run.stderr}`);
      assert.match(lines[0], /^prod backup failed: .*No space left on device in /);
      const status = readStatus(dir);
      assert.equal(status.result, "failed");
      assert.equal(`prod backup failed: ${status.message}`, lines[0], "the same reason in both");
      assert.equal(status.last_good_file, "prod-20200101T000000Z.rdb");
      assert.deepEqual(fs.readdirSync(dir).sort(), ["backup.status", "prod-20200101T000000Z.rdb"]);
    });
  });
});

describe("off-site copies with rclone to an S3-compatible server on loopback (s3rver)", function () {
  this.timeout(240_000);
  const BUCKET = "lowcode-backups";
  const dirs: string[] = [];
  const tmp = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-offsite-"));
    dirs.push(dir);
    return dir;
  };
  let server: S3rver;
  let endpoint: string;
  let remoteDir: string;
  let sandbox: Sandbox | undefined;
  /**
   * The stack with its endpoint on loopback. A stack config may not name a loopback endpoint
   * (off-site copies leave the host), so the test resolves a public one and puts s3rver's there.
   */
  const offsiteConfig = ({
    backupS3Endpoint = endpoint,
    ...extra
  }: Record<string, unknown> = {}) => {
    const cfg = resolve(
      {
        ...PROD_STANDALONE,
        backupS3Endpoint: "https://s3.example.com",
        backupS3Bucket: BUCKET,
        backupS3Prefix: "redis/test",
        backupRetention: 2,
        backupS3AccessKeyId: { secure: "x" },
        backupS3SecretAccessKey: { secure: "x" },
        ...extra,
      },
      "offsite",
      ["backupS3AccessKeyId", "backupS3SecretAccessKey"],
    );
    const offsite = { ...cfg.backup.offsite!, endpoint: backupS3Endpoint as string };
    return { ...cfg, backup: { ...cfg.backup, offsite } };
  };
  /** A sandbox dir whose secrets.json holds the S3 keys, as `pulumi config set --secret` would. */
  const dirWithKeys = (accessKeyId = "S3RVER") => {
    const dir = tmp();
    fs.writeFileSync(
      path.join(dir, "secrets.json"),
      JSON.stringify({ backupS3AccessKeyId: accessKeyId, backupS3SecretAccessKey: "S3RVER" }),
      { mode: 0o600 },
    );
    return dir;
  };
  /** rclone with the server as remote `t:`, for the test's own view of the bucket. */
  const rclone = (args: string[]) => {
    const env: NodeJS.ProcessEnv = {
      ...BARE_ENV,
      RCLONE_CONFIG: "/dev/null",
      RCLONE_CONFIG_T_TYPE: "s3",
      RCLONE_CONFIG_T_PROVIDER: "Other",
      RCLONE_CONFIG_T_ENDPOINT: endpoint,
      RCLONE_CONFIG_T_ACCESS_KEY_ID: "S3RVER",
      RCLONE_CONFIG_T_SECRET_ACCESS_KEY: "S3RVER",
    };
    // Asynchronously: the server answers from this same process.
    return new Promise<Buffer>((resolve, reject) =>
      execFile(
        "rclone",
        args,
        { env, maxBuffer: 64 * 1024 ** 2, encoding: "buffer" },
        (err, stdout, stderr) =>
          err
            ? reject(new Error(`rclone ${args.join(" ")}: ${stderr.toString()}`))
            : resolve(stdout),
      ),
    );
  };
  /** The objects under the bucket's prefix, by name. */
  const remote = async () =>
    (await rclone(["lsf", "--files-only", `t:${BUCKET}/redis/test`]))
      .toString()
      .split("\n")
      .filter((f) => /\.rdb(\.sha256)?$/.test(f))
      .sort();

  before(async () => {
    remoteDir = tmp();
    const port = await freeBasePort(1);
    server = new S3rver({
      port,
      address: "127.0.0.1",
      silent: true,
      directory: remoteDir,
      configureBuckets: [{ name: BUCKET, configs: [] }],
    });
    await server.run();
    endpoint = `http://127.0.0.1:${port}`;
  });
  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
  });
  after(async () => {
    await server?.close();
    dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
  });

  it("uploads each good backup and its checksum, prunes to the newest N there as locally, and restores a new deployment from s3://", async () => {
    const cfg = offsiteConfig();
    sandbox = await startSandbox(cfg, { dir: dirWithKeys(), basePort: await freeBasePort(1) });
    const keys = await seedPlatformData(sandbox.connection, 2);
    const { script, dir } = sandbox.connection.backup!;
    const taken: string[] = [];
    for (let i = 0; i < 3; i++) {
      await nextSecond();
      const run = await runBackupScript(script);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /off-site copy ok/);
      taken.push(readStatus(dir).last_good_file);
    }
    const newest = taken.slice(1).sort();
    const expected = newest.flatMap((f) => [f, `${f}.sha256`]).sort();
    assert.deepEqual(
      Object.keys(backupListing(dir)),
      expected,
      "locally: the newest 2 with checksums",
    );
    assert.deepEqual(await remote(), expected, "off-site: the same");
    for (const f of newest)
      assert.equal(
        createHash("sha256")
          .update(await rclone(["cat", `t:${BUCKET}/redis/test/${f}`]))
          .digest("hex"),
        sha256File(path.join(dir, f)),
        `${f} arrived whole`,
      );
    const seeded = await readKeys(sandbox.connection, keys);
    const readAt = Date.now();
    await sandbox.stop();

    // A new deployment of the same stack restored from the newest off-site copy.
    const latest = newest[newest.length - 1];
    const restoreCfg = offsiteConfig({ restoreFrom: `s3://${BUCKET}/redis/test/${latest}` });
    sandbox = await startSandbox(restoreCfg, {
      dir: dirWithKeys(),
      basePort: await freeBasePort(1),
    });
    assertSameData(seeded, await readKeys(sandbox.connection, keys), Date.now() - readAt + 1000);
  });

  it("copies and prunes only real backups: names planted beside them are never uploaded, and a name planted in the bucket is neither counted nor removed", async () => {
    const prefix = "redis/planted";
    const cfg = offsiteConfig({ backupS3Prefix: prefix });
    const local = tmp();
    const conf = tmp();
    const site = { backupDir: local, nodes: "", sentinels: "", offsiteStep: "inline" } as const;
    for (const [file, text] of Object.entries(backupPlainFiles(cfg, site)))
      fs.writeFileSync(path.join(conf, file), text, { mode: 0o600 });
    fs.writeFileSync(path.join(conf, "s3-access-key-id"), "S3RVER", { mode: 0o600 });
    fs.writeFileSync(path.join(conf, "s3-secret-access-key"), "S3RVER", { mode: 0o600 });
    const real = [1, 2, 3, 4].map((d) => `offsite-2020010${d}T000000Z.rdb`);
    const planted = [
      "offsite-x\noffsite-20250101T000000Z.rdb",
      "offsite-20250102T000000Z.rdb\n.rdb",
      "offsite-20250103T000000Z.rdb.old.rdb",
      "offsite-planted.rdb",
      "offsite-20250104T000000Z.rdb ",
    ];
    for (const f of [...real, ...planted]) {
      fs.writeFileSync(path.join(local, f), `content of ${f}`);
      fs.writeFileSync(path.join(local, `${f}.sha256`), `checksum of ${f}`);
    }
    // In the bucket: a name whose second line reads like the oldest backup.
    const inBucket = "offsite-y\noffsite-20190101T000000Z.rdb";
    const seed = path.join(tmp(), "seed");
    fs.writeFileSync(seed, "planted");
    await rclone(["copyto", seed, `t:${BUCKET}/${prefix}/${inBucket}`]);

    const run = await runBackupScript(path.join(conf, "offsite.sh"));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /holds the newest 4 backup\(s\) before pruning to 2$/m);
    const listed = (await rclone(["lsf", "--files-only", `t:${BUCKET}/${prefix}`]))
      .toString()
      .split("\n")
      .filter((l) => l !== "")
      .sort();
    const kept = real.slice(2).flatMap((f) => [f, `${f}.sha256`]);
    // rclone lists a newline in a name as "␊".
    assert.deepEqual(listed, [...kept, inBucket.replace("\n", "␊")].sort());
  });

  it("a refused key or an unreachable endpoint: exit non-zero, one line, the local backup kept", async () => {
    const cfg = offsiteConfig();
    sandbox = await startSandbox(cfg, {
      dir: dirWithKeys("NOT-A-KEY"),
      basePort: await freeBasePort(1),
    });
    const { script, dir } = sandbox.connection.backup!;
    const uploadedBefore = await remote();
    const refused = await runBackupScript(script);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr.trim(),
      /^offsite off-site copy to offsite:lowcode-backups\/redis\/test failed: /,
    );
    assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
    const local = Object.keys(backupListing(dir));
    assert.equal(local.length, 2, "the new local backup and its checksum are kept");
    assert.deepEqual(await remote(), uploadedBefore, "nothing changed off-site");
    const status = readStatus(dir);
    assert.equal(status.result, "failed");
    assert.match(status.message, /off-site copy failed; the local backup .* is kept/);

    // The same stack with an endpoint where nothing listens.
    const closed = `http://127.0.0.1:${await freeBasePort(1)}`;
    const conf = path.dirname(script);
    fs.writeFileSync(
      path.join(conf, "offsite.sh"),
      renderOffsiteScript(offsiteConfig({ backupS3Endpoint: closed })),
    );
    await nextSecond();
    const unreachable = await runBackupScript(script);
    assert.notEqual(unreachable.code, 0);
    assert.match(unreachable.stderr, /connection refused/);
    assert.equal(Object.keys(backupListing(dir)).length, 4, "both local backups kept");
  });
});
