import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";
import {
  PreviousRun,
  ProcessInfo,
  findHolder,
  leftoverGroups,
  listProcesses,
} from "../../sandbox/runtime/leftovers";
import { REAPER_SCRIPT, spawnTied } from "../../sandbox/runtime/lifetime";
import { waitFor } from "../helpers/wait";

const ROOT = path.resolve(__dirname, "..", "..");
/** The --dir of the records below. */
const DIR = "/d";

/** Pids of the processes of group `pgid` that still run (a zombie has ended). */
const groupMembers = (pgid: number) =>
  listProcesses()
    .filter((p) => p.pgid === pgid && p.state !== "Z")
    .map((p) => p.pid);

/** A process group of its own: `sh -c script`, which the test ends if it is still running. */
function group(script: string, started: ChildProcess[]): number {
  const child = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
  started.push(child);
  return child.pid!;
}

function killGroups(children: ChildProcess[]): void {
  for (const c of children) {
    try {
      process.kill(-c.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

describe("lifetime: what a sandbox starts ends with it, however it ends", () => {
  const started: ChildProcess[] = [];
  afterEach(() => killGroups(started.splice(0)));

  for (const shell of [["dash"], ["busybox", "sh"]]) {
    it(`the reaper (${shell.join(" ")}): at the end of its input, SIGTERM to each group listed, SIGKILL after the grace period to a group that ignores it; a group taken off the list is spared`, async () => {
      // A forked member stays in its group, as a start script's stand-in server does.
      const plain = group("sleep 300 & exec sleep 300", started);
      const stubborn = group("trap '' TERM; sleep 300 & exec sleep 300", started);
      const removed = group("exec sleep 300", started);
      await waitFor("the forked members", () =>
        groupMembers(plain).length === 2 && groupMembers(stubborn).length === 2 ? true : undefined,
      );
      const reaper = spawn(shell[0], [...shell.slice(1), "-c", REAPER_SCRIPT, "reaper", "1"], {
        detached: true,
        stdio: ["pipe", "ignore", "inherit"],
      });
      started.push(reaper);
      const exited = new Promise((r) => reaper.once("exit", r));
      const began = Date.now();
      reaper.stdin!.end(`+${plain}\n+${stubborn}\n+${removed}\n-${removed}\nnot a group\n+\n`);
      await waitFor(
        "the plain group to end",
        () => (groupMembers(plain).length === 0 ? true : undefined),
        3000,
        20,
      );
      const plainEnded = Date.now() - began;
      await waitFor(
        "the stubborn group to end",
        () => (groupMembers(stubborn).length === 0 ? true : undefined),
        5000,
        20,
      );
      const stubbornEnded = Date.now() - began;
      await exited;
      assert.ok(plainEnded < 900, `SIGTERM ended the plain group in ${plainEnded} ms`);
      assert.ok(stubbornEnded >= 900, `SIGKILL only after the grace period (${stubbornEnded} ms)`);
      assert.equal(groupMembers(removed).length, 1, "the group taken off the list still runs");
    });
  }

  it("spawnTied: the process and what it forked end when the process that started it is SIGKILLed, also after its reaper was killed", async () => {
    const runner = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        "-e",
        `const { spawnTied } = require("./sandbox/runtime/lifetime");
         const child = spawnTied("sh", ["-c", "sleep 300 & exec sleep 301"], { stdio: "ignore" });
         console.log(child.pid);
         setInterval(() => undefined, 1000);`,
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
    );
    started.push(runner);
    const pgid = await new Promise<number>((resolve) =>
      readline.createInterface({ input: runner.stdout! }).once("line", (l) => resolve(Number(l))),
    );
    await waitFor("both members", () => (groupMembers(pgid).length === 2 ? true : undefined));
    // The reaper: the runner's shell in a session of its own. Killed, it is started again.
    const reaper = () =>
      listProcesses().find((p) => p.ppid === runner.pid && p.pgid === p.pid && p.pid !== pgid);
    const first = await waitFor("the reaper", reaper);
    process.kill(first.pid, "SIGKILL");
    await waitFor("another reaper", () => (reaper()?.pid !== first.pid ? reaper() : undefined));
    runner.kill("SIGKILL");
    await waitFor(
      "the group to end",
      () => (groupMembers(pgid).length === 0 ? true : undefined),
      5000,
    );
  });
});

describe("spawnTied while its starter runs", () => {
  it("a process that exits takes what it left in its group with it, as a container's processes end with its main process", async () => {
    const child = spawnTied("sh", ["-c", "sleep 300 & sleep 0.5"], { stdio: "ignore" });
    const pgid = child.pid!;
    await waitFor("the forked sleep", () => (groupMembers(pgid).length >= 2 ? true : undefined));
    await new Promise((r) => child.once("exit", r));
    await waitFor(
      "the group to end",
      () => (groupMembers(pgid).length === 0 ? true : undefined),
      2000,
    );
  });
});

describe("leftovers: a process of an ended sandbox is recognised by its pid, start time and boot", () => {
  const boot = "boot-1";
  const proc = (pid: number, pgid: number, startTime: number, state = "S"): ProcessInfo => ({
    pid,
    comm: "redis-server",
    state,
    ppid: 1,
    pgid,
    startTime,
  });
  const previous = (started: PreviousRun["started"], bootId = boot): PreviousRun => ({
    sandboxPid: 100,
    bootId,
    started,
    processes: [],
  });

  it("a leader with the recorded start time: its whole group, the members it forked included", () => {
    const live = [proc(200, 200, 5000), proc(201, 200, 5100), proc(300, 300, 7000)];
    assert.deepEqual(
      leftoverGroups(previous([{ name: "redis-0", pid: 200, startTime: 5000 }]), live, boot, DIR),
      [{ name: "redis-0", pgid: 200, pids: [200, 201] }],
    );
  });

  it("a pid now used by another process (another start time), or a record of another boot: not ours", () => {
    const live = [proc(200, 200, 9999), proc(201, 201, 5000)];
    assert.deepEqual(
      leftoverGroups(previous([{ name: "redis-0", pid: 200, startTime: 5000 }]), live, boot, DIR),
      [],
    );
    assert.deepEqual(
      leftoverGroups(
        previous([{ name: "redis-1", pid: 201, startTime: 5000 }], "boot-0"),
        live,
        boot,
        DIR,
      ),
      [],
    );
  });

  it("a leader that ended: the members it left in its group (a stand-in) still are; zombies are not", () => {
    const live = [proc(200, 200, 5000, "Z"), proc(201, 200, 5100), proc(202, 200, 5200, "Z")];
    assert.deepEqual(
      leftoverGroups(previous([{ name: "redis-0", pid: 200, startTime: 5000 }]), live, boot, DIR),
      [{ name: "redis-0", pgid: 200, pids: [201] }],
    );
  });

  it("a processes.json of an earlier release (no start times, no Commander): a leader running in its recorded data dir, and the process running the dir's Commander launcher", () => {
    const old: PreviousRun = {
      sandboxPid: 100,
      processes: [
        { name: "redis-0", pid: 200, dataDir: "/d/redis-0/data" },
        { name: "redis-1", pid: 300, dataDir: "/d/redis-1/data" },
      ],
    };
    const live = [
      proc(200, 200, 5000),
      proc(300, 300, 5000),
      proc(400, 400, 5000),
      proc(401, 401, 1),
    ];
    const probe = {
      cwd: (pid: number) => (pid === 200 ? "/d/redis-0/data" : "/home/someone"),
      command: (pid: number) =>
        pid === 400
          ? "/usr/bin/node /d/commander/start-commander.js"
          : pid === 401
            ? "node /other/commander/start-commander.js"
            : "",
    };
    assert.deepEqual(leftoverGroups(old, live, boot, "/d", probe), [
      { name: "redis-0", pgid: 200, pids: [200] },
      { name: "commander", pgid: 400, pids: [400] },
    ]);
  });

  it("findHolder: the first other process whose cwd or open file is in a process dir", () => {
    const dirs = ["/d/redis-0", "/d/commander"];
    const live = [proc(process.pid, 1, 1), proc(10, 10, 1), proc(11, 11, 1), proc(12, 12, 1)];
    const held: Record<number, string[]> = {
      [process.pid]: ["/d/redis-0/data"],
      10: ["/d/redis-0-old", "/d/logs/redis-0.log", "/d"],
      11: ["/tmp", "/d/redis-0/data/appendonlydir/appendonly.aof.1.incr.aof"],
      12: ["/d/commander"],
    };
    const find = (except: number[]) =>
      findHolder(dirs, live, new Set(except), (pid) => held[pid] ?? []);
    assert.deepEqual(find([]), { pid: 11, comm: "redis-server", dir: "/d/redis-0" });
    assert.deepEqual(find([11]), { pid: 12, comm: "redis-server", dir: "/d/commander" });
    assert.equal(find([11, 12]), undefined);
  });
});
