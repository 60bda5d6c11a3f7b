import { strict as assert } from "node:assert";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { ConnectionInfo } from "../../render/connection";
import { freeBasePort } from "../helpers/ports";
import {
  isRunning,
  killRunningIn,
  procStat,
  runSandboxCommand,
  runningIn,
} from "../helpers/processes";
import { waitFor } from "../helpers/wait";

const ROOT = path.resolve(__dirname, "..", "..");
/** SIGTERM, SIGKILL after 10 s for whatever ignores it, and time to spare on a loaded machine. */
const GONE_WITHIN_MS = 15_000;

/** The pids processes.json names: each leads the process group it runs in. */
function recordedGroups(dir: string): number[] {
  try {
    const file = JSON.parse(fs.readFileSync(path.join(dir, "processes.json"), "utf8")) as {
      processes: Array<{ pid: number }>;
      started?: Array<{ pid: number }>;
    };
    return [...file.processes, ...(file.started ?? [])].map((p) => p.pid);
  } catch {
    return [];
  }
}

/** Waits until nothing of the sandbox runs: its own process, and everything it started. */
async function allGone(dir: string, sandboxPid: number, groups: number[]): Promise<number> {
  const began = Date.now();
  try {
    await waitFor(
      "every process of the sandbox to end",
      () => (!isRunning(sandboxPid) && runningIn(dir, groups).length === 0 ? true : undefined),
      GONE_WITHIN_MS,
    );
  } catch (err) {
    const left = [
      isRunning(sandboxPid) ? `${sandboxPid} (the sandbox)` : "",
      ...runningIn(dir, groups),
    ];
    throw new Error(`${(err as Error).message}; still running: ${left.filter(Boolean).join("; ")}`);
  }
  return Date.now() - began;
}

/** A program run to its end (within 60 s): exit code and output. */
async function runToEnd(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 60_000);
  const code = await new Promise<number | null>((r) => child.once("close", r));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Every file and directory under `dir`: kind, mode, size, modification time, content's hash. */
function snapshot(dir: string): string[] {
  const entries: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const hash = st.isFile() ? createHash("sha256").update(fs.readFileSync(p)).digest("hex") : "";
      entries.push(
        `${path.relative(dir, p)} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${hash}`,
      );
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return entries;
}

/** A pid that was a process and is not any more. */
const deadPid = () => spawnSync("sh", ["-c", "exit 0"]).pid!;

const bootId = () => fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();

describe("sandbox processes never outlive the sandbox: whatever ends it, what it started ends too; a sandbox on a dir the ended one used stops its leftovers first, and never touches a dir a foreign process holds", () => {
  let tmp: string;
  let children: ChildProcess[];
  let cleanups: Array<() => void>;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-lifetime-"));
    children = [];
    cleanups = [];
  });
  afterEach(() => {
    for (const c of children) {
      try {
        process.kill(-c.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
    cleanups.forEach((c) => c());
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  /** At the end of the test, whatever still runs in `dir` or in the recorded groups is killed. */
  const cleanUpAfter = (dir: string) => {
    const groups = new Set<number>();
    cleanups.push(() => {
      recordedGroups(dir).forEach((g) => groups.add(g));
      killRunningIn(dir, groups);
    });
    return groups;
  };

  it("kill -9 of `npm run sandbox` (dev stack): the sandbox stops, and Redis and Commander with it", async () => {
    const base = await freeBasePort(1);
    const dir = path.join(tmp, "sandbox");
    const groups = cleanUpAfter(dir);
    const run = await runSandboxCommand(
      ["--stack", "dev", "--base-port", String(base)],
      dir,
      60_000,
    );
    cleanups.push(run.kill);
    const sandboxPid = Number(fs.readFileSync(path.join(dir, "sandbox.pid"), "utf8"));
    recordedGroups(dir).forEach((g) => groups.add(g));
    const started = runningIn(dir, groups);
    assert.ok(
      started.some((p) => / redis-server /.test(p)),
      started.join("\n"),
    );
    assert.ok(
      started.some((p) => p.includes(path.join(dir, "commander", "start-commander.js"))),
      started.join("\n"),
    );

    process.kill(run.child.pid!, "SIGKILL");
    await allGone(dir, sandboxPid, [...groups]);
  });

  it("kill -9 of the sandbox process (sentinel stack), its seven processes just started: all of them end, stand-in servers and helpers included", async () => {
    const base = await freeBasePort(3);
    const dir = path.join(tmp, "sandbox");
    const groups = cleanUpAfter(dir);
    const run = spawn(
      "npm",
      [
        "run",
        "--silent",
        "sandbox",
        "--",
        "--stack",
        "prod",
        "--dir",
        dir,
        "--base-port",
        String(base),
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    children.push(run);
    let output = "";
    run.stdout!.on("data", (d) => (output += d));
    run.stderr!.on("data", (d) => (output += d));
    await waitFor(
      "three nodes, three sentinels and Commander started",
      () =>
        /commander started/.test(output) && recordedGroups(dir).length >= 6 ? true : undefined,
      60_000,
    ).catch((err: Error) => assert.fail(`${err.message}\n${output}`));
    const sandboxPid = Number(fs.readFileSync(path.join(dir, "sandbox.pid"), "utf8"));
    recordedGroups(dir).forEach((g) => groups.add(g));
    assert.ok(runningIn(dir, groups).length >= 7, runningIn(dir, groups).join("\n"));

    process.kill(sandboxPid, "SIGKILL");
    await allGone(dir, sandboxPid, [...groups]);
  });

  it("a test runner running a sentinel group in-process (startSandbox), SIGKILLed while two nodes wait for the third with their stand-ins up: nothing of it is left", async () => {
    const base = await freeBasePort(3);
    const dir = path.join(tmp, "sandbox");
    const groups = cleanUpAfter(dir);
    // redis-2 starts two minutes later: until then redis-0 and redis-1 wait, each with a stand-in.
    const options = {
      dir,
      basePort: base,
      startOrder: [["redis-0", "redis-1", "sentinel-0", "sentinel-1", "sentinel-2"]],
      startGapMs: 120_000,
    };
    const runner = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        "-e",
        `const { startSandbox } = require("./sandbox/sandbox");
         const { PROD, resolve } = require("./tests/helpers/config");
         startSandbox(resolve(PROD), ${JSON.stringify(options)}).catch((err) => {
           console.error(err.message);
           process.exit(1);
         });`,
      ],
      { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], detached: true },
    );
    children.push(runner);
    const standIns = () =>
      runningIn(dir).filter((p) => / redis-server \S*\/conf\/standin /.test(p)).length;
    await waitFor(
      "the stand-ins of redis-0 and redis-1",
      () => (standIns() === 2 ? true : undefined),
      60_000,
    );
    recordedGroups(dir).forEach((g) => groups.add(g));
    const before = runningIn(dir, groups);
    assert.ok(before.length >= 8, before.join("\n"));

    runner.kill("SIGKILL");
    await allGone(dir, runner.pid!, [...groups]);
  });

  it("a dead lock with processes of the ended sandbox still running: the new sandbox stops them (SIGTERM, a clean stop) before it starts anything, and their data is intact; a pid since reused is spared", async () => {
    const base = await freeBasePort(1);
    const dir = path.join(tmp, "sandbox");
    cleanUpAfter(dir);
    const data = path.join(dir, "redis-0", "data");
    fs.mkdirSync(data, { recursive: true, mode: 0o700 });
    // What a sandbox that died leaves: redis-0 still serving from its data dir (AOF on), in a
    // process group of its own…
    const orphanLog = path.join(tmp, "orphan.log");
    const orphan = spawn(
      "redis-server",
      [
        "--port",
        String(base),
        "--bind",
        "127.0.0.1",
        "--dir",
        data,
        "--logfile",
        orphanLog,
        "--appendonly",
        "yes",
        "--appenddirname",
        "appendonlydir",
        "--appendfilename",
        "appendonly.aof",
        "--save",
        "",
      ],
      { detached: true, stdio: "ignore" },
    );
    children.push(orphan);
    const cli = (...args: string[]) =>
      spawnSync("redis-cli", ["-p", String(base), ...args], { encoding: "utf8" }).stdout.trim();
    await waitFor("the orphan to serve", () => (cli("ping") === "PONG" ? true : undefined), 10_000);
    for (let i = 0; i < 50; i++) assert.equal(cli("set", `lifetime:${i}`, `value ${i}`), "OK");
    // …a process that now has the pid of another it recorded (another start time)…
    const reused = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
    children.push(reused);
    await waitFor("sleep", () => (procStat(reused.pid!)?.comm === "sleep" ? true : undefined));
    // …its lock and its processes.json.
    const dead = deadPid();
    fs.writeFileSync(path.join(dir, "sandbox.pid"), `${dead}\n`, { mode: 0o600 });
    const entry = {
      name: "redis-0",
      kind: "redis",
      port: base,
      pid: orphan.pid,
      confDir: path.join(dir, "redis-0", "conf"),
      dataDir: data,
      logFile: path.join(dir, "logs", "redis-0.log"),
      env: {},
      host: "127.0.0.1",
      announced: "localhost",
    };
    fs.writeFileSync(
      path.join(dir, "processes.json"),
      JSON.stringify({
        sandboxPid: dead,
        processes: [entry],
        bootId: bootId(),
        sandboxStartTime: 1,
        started: [
          { name: "redis-0", pid: orphan.pid, startTime: procStat(orphan.pid!)!.startTime },
          { name: "commander", pid: reused.pid, startTime: procStat(reused.pid!)!.startTime - 1 },
        ],
      }),
      { mode: 0o600 },
    );

    const run = await runSandboxCommand(
      ["--stack", "dev", "--base-port", String(base)],
      dir,
      60_000,
    );
    cleanups.push(run.kill);
    const stopping = run
      .output()
      .indexOf(
        `stopping redis-0 (pid ${orphan.pid}), left running by the sandbox that ended (pid ${dead})`,
      );
    assert.ok(stopping >= 0, run.output());
    assert.ok(
      stopping < run.output().indexOf("redis-0 started"),
      "stopped before anything started",
    );
    assert.equal(isRunning(orphan.pid!), false, "the orphan has ended");
    assert.match(fs.readFileSync(orphanLog, "utf8"), /Redis is now ready to exit, bye bye/);
    assert.equal(isRunning(reused.pid!), true, "the process with a reused pid is spared");

    const admin = (run.connection as ConnectionInfo).users.admin;
    const reader = new Redis({ host: "127.0.0.1", port: base, ...admin });
    try {
      const values = await reader.mget(Array.from({ length: 50 }, (_, i) => `lifetime:${i}`));
      assert.deepEqual(
        values,
        Array.from({ length: 50 }, (_, i) => `value ${i}`),
      );
    } finally {
      reader.disconnect();
    }
    run.child.kill("SIGTERM");
    assert.equal(await run.exited, 0, run.output());
  });

  it("a data dir held by a process no sandbox on the dir started: exit 1, one line naming the pid and the dir, nothing changed", async () => {
    const base = await freeBasePort(1);
    const dir = path.join(tmp, "sandbox");
    cleanUpAfter(dir);
    const data = path.join(dir, "redis-0", "data");
    fs.mkdirSync(path.join(data, "appendonlydir"), { recursive: true, mode: 0o700 });
    fs.writeFileSync(
      path.join(data, "appendonlydir", "appendonly.aof.1.incr.aof"),
      "*1\r\n$4\r\nPING\r\n",
    );
    const dead = deadPid();
    fs.writeFileSync(path.join(dir, "sandbox.pid"), `${dead}\n`, { mode: 0o600 });
    fs.writeFileSync(
      path.join(dir, "processes.json"),
      JSON.stringify({ sandboxPid: dead, processes: [], bootId: bootId(), started: [] }),
      { mode: 0o600 },
    );
    const foreign = spawn("sleep", ["300"], { cwd: data, detached: true, stdio: "ignore" });
    children.push(foreign);
    await waitFor("sleep", () => (procStat(foreign.pid!)?.comm === "sleep" ? true : undefined));
    const before = snapshot(dir);

    const run = await runToEnd("npm", [
      "run",
      "--silent",
      "sandbox",
      "--",
      "--stack",
      "dev",
      "--dir",
      dir,
      "--base-port",
      String(base),
    ]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.deepEqual(
      run.stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("warning: ")),
      [
        `--dir ${dir}: process ${foreign.pid} (sleep) holds ${path.join(dir, "redis-0")}, and no sandbox that used this dir started it: stop it, or choose another --dir.`,
      ],
    );
    assert.deepEqual(snapshot(dir), before, "nothing in the dir changed");
    assert.equal(isRunning(foreign.pid!), true, "the process is left alone");
  });
});
