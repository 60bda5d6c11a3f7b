import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  DiskFullRefused,
  MAX_FILL_BYTES,
  describeDiskFull,
  diskFullDrill,
  fillableFilesystem,
  sandboxDiskFullTarget,
} from "../../sandbox/disk-full";
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
