import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { freeBasePort } from "../helpers/ports";
import { redisProcessesOn } from "../helpers/processes";
import { waitFor } from "../helpers/wait";

const ROOT = path.resolve(__dirname, "..", "..");
const SENTINEL_OFFSET = 20000;
/** How long `npm run sandbox` may take to start its first process: ts-node compiles it first. */
const START_WAIT_MS = 30_000;
const INSTALL_HINT =
  "the sandbox needs Redis 7 (on Debian/Ubuntu: apt-get install -y redis-server redis-sentinel redis-tools).";

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Exit code, once the process has exited and its output is complete. */
  readonly done: Promise<number | null>;
}

/** `npm run sandbox` in its own process group, so that cleanup reaches every descendant. */
function sandbox(args: string[], env: NodeJS.ProcessEnv = process.env): Run {
  const child = spawn("npm", ["run", "--silent", "sandbox", "--", ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const run: Run = {
    child,
    stdout: "",
    stderr: "",
    done: new Promise((resolve) => child.once("close", (code) => resolve(code))),
  };
  child.stdout!.on("data", (d) => (run.stdout += d));
  child.stderr!.on("data", (d) => (run.stderr += d));
  return run;
}

/** Its exit code, within `ms`. */
async function exitCode(run: Run, ms = 60_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run.done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`still running after ${ms} ms:\n${run.stdout}${run.stderr}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the command said on stderr, without the config warnings every command prints. */
function errorLines(run: Run): string[] {
  return run.stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("warning: "));
}

/**
 * Processes still running in the run's process group (the sandbox, its shells and Redis
 * processes). Zombies have ended: they only wait for init to collect their exit status.
 */
function groupMembers(run: Run): string[] {
  const ps = execFileSync("ps", ["-eo", "pid=,pgid=,stat=,args="], { encoding: "utf8" });
  return ps
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && Number(f[1]) === run.child.pid && !f[2].startsWith("Z"))
    .map((f) => f.join(" "));
}

function assertNothingLeft(run: Run, ports: number[]): void {
  assert.deepEqual(groupMembers(run), [], "no process of the sandbox's group is left");
  assert.deepEqual(redisProcessesOn(ports), [], "no Redis process is left on its ports");
}

function kill(run: Run | undefined): void {
  if (!run?.child.pid) return;
  try {
    process.kill(-run.child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * Listens on 127.0.0.1:port, as another program holding the port would. It closes each connection
 * at once: the group's start scripts ask every sentinel port, and a silent listener would hold
 * each of them for its 3 s timeout.
 */
function occupy(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

const portsOf = (base: number, count: number) =>
  Array.from({ length: count }, (_, i) => [base + i, base + SENTINEL_OFFSET + i]).flat();

/** A directory nobody may write, not even root (immutable); undefined when it cannot be made. */
function readOnlyDir(parent: string): { dir: string; undo: () => void } | undefined {
  const dir = path.join(parent, "read-only");
  fs.mkdirSync(dir);
  let undo: () => void;
  if (process.getuid?.() === 0) {
    if (spawnSync("chattr", ["+i", dir]).status !== 0) return undefined;
    undo = () => spawnSync("chattr", ["-i", dir]);
  } else {
    fs.chmodSync(dir, 0o500);
    undo = () => fs.chmodSync(dir, 0o700);
  }
  try {
    fs.writeFileSync(path.join(dir, "probe"), "");
    undo();
    return undefined;
  } catch {
    return { dir, undo };
  }
}

/** A PATH directory with node, npm and sh, plus the given programs: the rest of PATH is left out. */
function binDir(parent: string, programs: Record<string, string>): string {
  const bin = path.join(parent, "bin");
  fs.mkdirSync(bin);
  const which = (name: string) =>
    execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
  fs.symlinkSync(process.execPath, path.join(bin, "node"));
  for (const name of ["npm", "sh"]) fs.symlinkSync(which(name), path.join(bin, name));
  for (const [name, target] of Object.entries(programs)) {
    if (target.startsWith("#!")) fs.writeFileSync(path.join(bin, name), target, { mode: 0o755 });
    else fs.symlinkSync(which(target), path.join(bin, name));
  }
  return bin;
}

describe("npm run sandbox fails clearly: exit 1, one line naming the cause, nothing left running, no restart loop", () => {
  let tmp: string;
  let runs: Run[];
  let servers: net.Server[];
  let undo: (() => void) | undefined;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-sandbox-failures-"));
    runs = [];
    servers = [];
    undo = undefined;
  });
  afterEach(async () => {
    runs.forEach(kill);
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    undo?.();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const start = (args: string[], env?: NodeJS.ProcessEnv) => {
    const run = sandbox(args, env);
    runs.push(run);
    return run;
  };

  it("a --base-port in use: found before anything starts", async () => {
    const base = await freeBasePort(1);
    servers.push(await occupy(base));
    const dir = path.join(tmp, "sandbox");
    const run = start(["--stack", "dev", "--dir", dir, "--base-port", String(base)]);
    assert.equal(await exitCode(run), 1, run.stdout);
    assert.deepEqual(errorLines(run), [
      `Port ${base} (redis-0) is already in use on 127.0.0.1: stop what listens there or choose another --base-port (this topology needs ${base}).`,
    ]);
    assert.equal(fs.existsSync(path.join(dir, "logs")), false, "no process was started");
    assert.equal(fs.existsSync(path.join(dir, "sandbox.pid")), false, "the lock is released");
    assertNothingLeft(run, [base]);
  });

  it("a sentinel port (base + 20000) in use: found before anything starts", async () => {
    const base = await freeBasePort(3);
    servers.push(await occupy(base + SENTINEL_OFFSET + 1));
    const dir = path.join(tmp, "sandbox");
    const run = start(["--stack", "prod", "--dir", dir, "--base-port", String(base)]);
    assert.equal(await exitCode(run), 1, run.stdout);
    assert.deepEqual(errorLines(run), [
      `Port ${base + SENTINEL_OFFSET + 1} (sentinel-1) is already in use on 127.0.0.1: stop what listens there or choose another --base-port (this topology needs ${base}-${base + 2} and ${base + SENTINEL_OFFSET}-${base + SENTINEL_OFFSET + 2}).`,
    ]);
    assert.equal(fs.existsSync(path.join(dir, "logs")), false, "no process was started");
    assertNothingLeft(run, portsOf(base, 3));
  });

  it("Redis Commander's port (commanderPort shifted with the base port) in use: found before anything starts", async () => {
    const base = await freeBasePort(1);
    const commanderPort = 8081 + (base - 7001);
    servers.push(await occupy(commanderPort));
    const dir = path.join(tmp, "sandbox");
    const run = start(["--stack", "dev", "--dir", dir, "--base-port", String(base)]);
    assert.equal(await exitCode(run), 1, run.stdout);
    assert.deepEqual(errorLines(run), [
      `Port ${commanderPort} (Redis Commander) is already in use on 127.0.0.1: stop what listens there, or choose another --base-port (Commander listens on commanderPort shifted as far as the base port is from 7001).`,
    ]);
    assert.equal(fs.existsSync(path.join(dir, "logs")), false, "no process was started");
    assertNothingLeft(run, [base]);
  });

  it("a port taken after the check: the process that cannot bind ends the start, not restarted", async () => {
    const base = await freeBasePort(3);
    const dir = path.join(tmp, "sandbox");
    const run = start(["--stack", "prod", "--dir", dir, "--base-port", String(base)]);
    // The sentinels start once the three nodes are ready: take sentinel-0's port before that.
    await waitFor(
      "redis-0 started",
      () => (/redis-0 started/.test(run.stdout) ? true : undefined),
      START_WAIT_MS,
    );
    servers.push(await occupy(base + SENTINEL_OFFSET));
    assert.equal(await exitCode(run), 1, run.stdout);
    const log = path.join(dir, "logs", "sentinel-0.log");
    assert.deepEqual(errorLines(run), [
      `Port ${base + SENTINEL_OFFSET} is already in use: sentinel-0 could not listen on it (log: ${log}).`,
    ]);
    assert.match(fs.readFileSync(log, "utf8"), /Address already in use/);
    assert.equal(run.stdout.match(/sentinel-0 started/g)?.length, 1, "sentinel-0 is not restarted");
    assert.match(run.stdout, /sentinel-0 exited during start-up \(code 1\); not restarting/);
    assert.equal(fs.existsSync(path.join(dir, "sandbox.pid")), false, "the lock is released");
    assert.equal(fs.existsSync(path.join(dir, "processes.json")), false);
    assertNothingLeft(run, portsOf(base, 3));
  });

  it("a process that exits while starting: not restarted, the start fails with its log's last line", async () => {
    const base = await freeBasePort(1);
    const dir = path.join(tmp, "sandbox");
    // A redis-server that reports Redis 7 but fails to start, as a bad build or config would.
    const real = execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim();
    const bin = binDir(tmp, {
      "redis-server": [
        "#!/bin/sh",
        `case "$*" in *--version*) exec "${real}" --version ;; esac`,
        'echo "simulated: cannot start"',
        'echo ""',
        "exit 3",
        "",
      ].join("\n"),
    });
    const run = start(["--stack", "dev", "--dir", dir, "--base-port", String(base)], {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(await exitCode(run), 1, run.stdout);
    const log = path.join(dir, "logs", "redis-0.log");
    assert.deepEqual(errorLines(run), [
      `redis-0 exited while starting (code 3): simulated: cannot start (log: ${log}).`,
    ]);
    assert.equal(run.stdout.match(/redis-0 started/g)?.length, 1, "redis-0 is not restarted");
    assertNothingLeft(run, [base]);
  });

  it("SIGTERM while starting: what was started is stopped, the lock released", async () => {
    const base = await freeBasePort(3);
    const dir = path.join(tmp, "sandbox");
    const run = start(["--stack", "prod", "--dir", dir, "--base-port", String(base)]);
    await waitFor(
      "redis-1 started",
      () => (/redis-1 started/.test(run.stdout) ? true : undefined),
      START_WAIT_MS,
    );
    process.kill(Number(fs.readFileSync(path.join(dir, "sandbox.pid"), "utf8")), "SIGTERM");
    assert.equal(await exitCode(run), 1, run.stdout);
    assert.deepEqual(errorLines(run), ["interrupted (SIGTERM) while starting"]);
    assert.equal(fs.existsSync(path.join(dir, "sandbox.pid")), false);
    assertNothingLeft(run, portsOf(base, 3));
  });

  it("a read-only --dir, or one inside a read-only directory", async function () {
    const ro = readOnlyDir(tmp);
    if (!ro) this.skip();
    undo = ro!.undo;
    const base = await freeBasePort(1);
    for (const dir of [ro!.dir, path.join(ro!.dir, "sandbox")]) {
      const run = start(["--stack", "dev", "--dir", dir, "--base-port", String(base)]);
      assert.equal(await exitCode(run), 1, run.stdout);
      const lines = errorLines(run);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.ok(
        lines[0].startsWith(`--dir ${dir} is not a writable directory (`),
        lines[0] + " names the dir",
      );
      assert.match(lines[0], /\((EACCES|EPERM|EROFS): [^)]*\)\.$/);
      assertNothingLeft(run, [base]);
    }
    assert.deepEqual(fs.readdirSync(ro!.dir), []);
  });

  it("a --dir used by a running sandbox: DIR/sandbox.pid holds its pid, a second sandbox exits 1, the lock goes on stop", async () => {
    const [base, other] = [await freeBasePort(1), await freeBasePort(1)];
    const dir = path.join(tmp, "sandbox");
    const lock = path.join(dir, "sandbox.pid");
    const first = start(["--stack", "dev", "--dir", dir, "--base-port", String(base)]);
    await waitFor(
      "connection.json",
      () => (fs.existsSync(path.join(dir, "connection.json")) ? true : undefined),
      30_000,
    );
    const pid = Number(fs.readFileSync(lock, "utf8").trim());
    assert.equal((fs.statSync(lock).mode & 0o777).toString(8), "600");
    const command = execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" });
    assert.match(command, /scripts\/sandbox\.ts/, "the lock holds the sandbox's own pid");

    const second = start(["--stack", "dev", "--dir", dir, "--base-port", String(other)]);
    assert.equal(await exitCode(second), 1, second.stdout);
    assert.deepEqual(errorLines(second), [
      `--dir ${dir} is in use by a running sandbox (pid ${pid}, lock ${lock}).`,
    ]);
    assertNothingLeft(second, [other]);
    assert.equal(
      fs.readFileSync(lock, "utf8").trim(),
      String(pid),
      "the lock is still the first's",
    );
    assert.equal(redisProcessesOn([base]).length, 1, "the first sandbox still runs");

    first.child.kill("SIGTERM");
    assert.equal(await exitCode(first), 0, first.stdout + first.stderr);
    assert.equal(fs.existsSync(lock), false, "the lock is removed on stop");
    assertNothingLeft(first, [base]);
  });

  it("a stale lock (its pid is not alive) is taken over", async () => {
    const base = await freeBasePort(1);
    const dir = path.join(tmp, "sandbox");
    const lock = path.join(dir, "sandbox.pid");
    const dead = spawnSync("sh", ["-c", "exit 0"]).pid!;
    fs.mkdirSync(dir);
    fs.writeFileSync(lock, `${dead}\n`);
    const run = start(["--stack", "dev", "--dir", dir, "--base-port", String(base)]);
    await waitFor(
      "connection.json",
      () => (fs.existsSync(path.join(dir, "connection.json")) ? true : undefined),
      30_000,
    );
    const holder = Number(fs.readFileSync(lock, "utf8").trim());
    assert.notEqual(holder, dead);
    assert.doesNotThrow(() => process.kill(holder, 0), "the new holder is alive");
    run.child.kill("SIGTERM");
    assert.equal(await exitCode(run), 0, run.stdout + run.stderr);
    assert.equal(fs.existsSync(lock), false);
    assertNothingLeft(run, [base]);
  });

  it("redis-server missing from PATH: found before anything starts", async () => {
    const base = await freeBasePort(1);
    const dir = path.join(tmp, "sandbox");
    const run = start(["--stack", "dev", "--dir", dir, "--base-port", String(base)], {
      ...process.env,
      PATH: binDir(tmp, {}),
    });
    assert.equal(await exitCode(run), 1, run.stdout);
    assert.deepEqual(errorLines(run), [`redis-server not found in PATH: ${INSTALL_HINT}`]);
    assert.equal(fs.existsSync(dir), false, "nothing was written");
    assertNothingLeft(run, [base]);
  });

  it("setpriv missing from PATH (every process is started through it): found before anything starts", async () => {
    const base = await freeBasePort(1);
    const dir = path.join(tmp, "sandbox");
    const bin = binDir(tmp, { "redis-server": "redis-server", "redis-cli": "redis-cli" });
    const run = start(["--stack", "dev", "--dir", dir, "--base-port", String(base)], {
      ...process.env,
      PATH: bin,
    });
    assert.equal(await exitCode(run), 1, run.stdout);
    assert.deepEqual(errorLines(run), [
      "setpriv not found in PATH: the sandbox starts every process through it so that none outlives the sandbox (on Debian/Ubuntu: apt-get install -y util-linux).",
    ]);
    assert.equal(fs.existsSync(dir), false, "nothing was written");
    assertNothingLeft(run, [base]);
  });

  it("redis-sentinel missing from PATH for a sentinel group: found before anything starts", async () => {
    const base = await freeBasePort(3);
    const dir = path.join(tmp, "sandbox");
    const bin = binDir(tmp, { "redis-server": "redis-server", "redis-cli": "redis-cli" });
    const run = start(["--stack", "prod", "--dir", dir, "--base-port", String(base)], {
      ...process.env,
      PATH: bin,
    });
    assert.equal(await exitCode(run), 1, run.stdout);
    assert.deepEqual(errorLines(run), [`redis-sentinel not found in PATH: ${INSTALL_HINT}`]);
    assert.equal(fs.existsSync(dir), false, "nothing was written");
    assertNothingLeft(run, portsOf(base, 3));
  });
});
