import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import IORedis from "ioredis";
import { ioredisOptions } from "../../render/client-options";
import {
  BALLAST_FILE,
  DiskFullRefused,
  MAX_FILL_BYTES,
  describeDiskFull,
  diskFullDrill,
  fillWithBallast,
  fillableFilesystem,
  sandboxDiskFullTarget,
  settledGroup,
  startWriter,
} from "../../sandbox/drills/disk-full";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { PROD, resolve } from "../helpers/config";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

/**
 * The data volume fills up under a sentinel group and frees again: the disk-full drill on a
 * sandbox whose dir is a small tmpfs of its own. Mounting needs root: for other users the drill's
 * test is reported as pending, with the reason.
 */
const notRoot = process.getuid?.() !== 0 ? "needs root to mount a tmpfs" : undefined;

/** Unmounts `dir`, waiting for the last process that still has it open to go. */
async function unmount(dir: string): Promise<void> {
  try {
    await waitFor(
      `unmounting ${dir}`,
      () => spawnSync("umount", [dir]).status === 0 || undefined,
      15_000,
      200,
    );
  } catch {
    // Lazily, then: the tmpfs goes with the last open file.
    spawnSync("umount", ["-l", dir]);
  }
}

describe("sentinel group: a full data volume loses no acknowledged write, and no node crashes", function () {
  this.timeout(180_000);
  let dir: string | undefined;
  let mounted = false;
  let sandbox: Sandbox | undefined;

  before(async function () {
    if (notRoot) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-disk-full-"));
    // 32 MiB: room for the group's files and a few seconds of writes before it is full.
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", dir]);
    mounted = true;
    sandbox = await startSandbox(resolve(PROD, "prod"), { dir, basePort: await freeBasePort(3) });
  });

  after(async () => {
    await sandbox?.stop();
    if (dir && mounted) await unmount(dir);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("disk-full drill: the volume fills while a client writes with WAIT 1, is held full past a failover's time, and frees; every acknowledged write is on every node", async function () {
    if (notRoot) {
      this.test!.title += ` (skipped: ${notRoot})`;
      this.skip();
    }
    const lines: string[] = [];
    const r = await diskFullDrill(sandboxDiskFullTarget(sandbox!), {
      log: (line) => lines.push(line),
    });
    const summary = `${lines.join("\n")}\n${describeDiskFull(r)}`;
    // The volume was really full: the master refused writes it could not write to its AOF.
    assert.ok(r.refusedWith.includes("MISCONF"), summary);
    assert.ok(r.writes.acknowledged >= 20, summary);
    assert.deepEqual(r.crashed, [], summary);
    assert.equal(r.acknowledgedLost, 0, summary);
    for (const node of r.nodes) assert.equal(node.missingAcknowledged, 0, summary);
    // Writes are acknowledged again once there is room.
    assert.ok(r.recoveredMs < 30_000, summary);
  });

  it("refuses a filesystem larger than it may fill, before writing anything; the command exits 2 saying so", () => {
    const big = os.tmpdir();
    assert.ok(fs.statfsSync(big).blocks * fs.statfsSync(big).bsize > MAX_FILL_BYTES);
    assert.throws(
      () => fillableFilesystem(big, []),
      (err: Error) =>
        err instanceof DiskFullRefused &&
        err.message.includes(`--dir ${big} is on a filesystem of`) &&
        err.message.includes("mount -t tmpfs"),
    );
    const cli = spawnSync(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "scripts/drill.ts", "disk-full", "--dir", big],
      { cwd: path.resolve(__dirname, "..", ".."), encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(cli.status, 2, cli.stderr);
    assert.match(cli.stderr, /the disk-full drill fills the whole filesystem/);
    assert.ok(!fs.existsSync(path.join(big, "disk-full.ballast")));
  });
});

describe("sentinel group, each node's data on a volume of its own: the sentinels fail a full master over, and its clients follow before it takes writes again", function () {
  this.timeout(180_000);
  let dir: string | undefined;
  const mounts: string[] = [];
  let sandbox: Sandbox | undefined;

  before(async function () {
    if (notRoot) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-volumes-"));
    // As in Kubernetes, a claim per node: 8 MiB each.
    for (const i of [0, 1, 2]) {
      const data = path.join(dir, `redis-${i}`, "data");
      fs.mkdirSync(data, { recursive: true, mode: 0o700 });
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", data]);
      mounts.push(data);
    }
    sandbox = await startSandbox(resolve(PROD, "prod"), { dir, basePort: await freeBasePort(3) });
  });

  after(async () => {
    await sandbox?.stop();
    for (const data of mounts) await unmount(data);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the master's and a replica's volumes fill, the other replica is promoted; once they have room again, no acknowledged write is lost", async function () {
    if (notRoot) {
      this.test!.title += ` (skipped: ${notRoot})`;
      this.skip();
    }
    const target = sandboxDiskFullTarget(sandbox!);
    const connection = sandbox!.connection;
    const oldMaster = await settledGroup(target);
    const full = [oldMaster, target.nodes.find((n) => n !== oldMaster)!];
    const ballasts = full.map((n) =>
      path.join(sandbox!.nodes.find((p) => p.name === n.name)!.dataDir, BALLAST_FILE),
    );
    const writer = startWriter(connection, `volumes:${Date.now()}`, 500);
    try {
      await waitFor(
        "20 acknowledged writes",
        () => writer.records.filter((r) => r.outcome === "acknowledged").length >= 20 || undefined,
        20_000,
      );
      await writer.between(() => ballasts.forEach(fillWithBallast));
      // The full master answers MISCONF, so does the full replica: the sentinels promote the other.
      await waitFor(
        "a failover away from the full master",
        async () => ((await target.master()) !== oldMaster.name ? true : undefined),
        30_000,
        200,
      );
      // The clients meet MISCONF on the old master and look it up again meanwhile.
      await new Promise((r) => setTimeout(r, 2000));
      for (const ballast of ballasts) fs.rmSync(ballast, { force: true });
      const freedAt = Date.now();
      await waitFor(
        "an acknowledged write after the space came back",
        () =>
          writer.records.some((r) => r.outcome === "acknowledged" && r.sentAt >= freedAt) ||
          undefined,
        30_000,
      );
      await waitFor("a settled group", () => settledGroup(target), 30_000, 200);
    } finally {
      await writer.stop();
      for (const ballast of ballasts) fs.rmSync(ballast, { force: true });
    }
    const acknowledged = writer.records
      .filter((r) => r.outcome === "acknowledged")
      .map((r) => r.key);
    const client = new IORedis(ioredisOptions(connection, "admin", connection.databases.flowCache));
    client.on("error", () => undefined);
    try {
      await client.connect();
      const values = await client.mget(...acknowledged);
      const lost = values.filter((v) => v === null).length;
      assert.equal(lost, 0, `${lost} of ${acknowledged.length} acknowledged writes lost`);
    } finally {
      client.disconnect();
    }
  });
});
