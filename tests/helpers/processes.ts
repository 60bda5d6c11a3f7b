import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConnectionInfo } from "../../render/connection";
import { waitFor } from "./wait";

const ROOT = path.resolve(__dirname, "..", "..");

/** Redis processes listening on one of `ports` (redis-server titles itself "… 127.0.0.1:PORT"). */
export function redisProcessesOn(ports: number[]): string[] {
  const ps = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return ps
    .split("\n")
    .filter(
      (line) =>
        /redis-(server|sentinel)/.test(line) &&
        ports.some((port) => line.includes(`127.0.0.1:${port}`)),
    );
}

/** Kills every Redis process still on `ports` (cleanup after a failed test). */
export function killRedisOn(ports: number[]): void {
  for (const line of redisProcessesOn(ports)) {
    try {
      process.kill(Number(line.trim().split(" ")[0]), "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** `npm run sandbox` as a user runs it, in its own process group, until connection.json exists. */
export async function runSandboxCommand(args: string[], dir: string, timeoutMs: number) {
  // Its own process group, so that cleanup after a failure reaches every descendant.
  const child: ChildProcess = spawn("npm", ["run", "sandbox", "--", ...args, "--dir", dir], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const file = path.join(dir, "connection.json");
  const started = {
    child,
    exited,
    file,
    output: () => output,
    /** Kills the whole process group if the sandbox still runs. */
    kill: () => {
      if (child.pid && child.exitCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    },
  };
  try {
    const connection = await waitFor(
      "connection.json",
      () =>
        fs.existsSync(file)
          ? (JSON.parse(fs.readFileSync(file, "utf8")) as ConnectionInfo)
          : undefined,
      timeoutMs,
    );
    return { ...started, connection };
  } catch (err) {
    started.kill();
    throw new Error(`${(err as Error).message}\n${output}`);
  }
}

/** SIGKILL to a Redis Commander a sandbox in `dir` started (left behind when the sandbox was killed). */
export function killCommanderIn(dir: string): void {
  spawnSync("pkill", ["-KILL", "-f", `${dir}/commander/start-commander.js`]);
}

/** A process as /proc/<pid>/stat shows it (state "Z": a zombie, which has ended). */
export function procStat(
  pid: number,
): { comm: string; state: string; pgid: number; startTime: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    return {
      comm: stat.slice(stat.indexOf("(") + 1, close),
      state: fields[0],
      pgid: Number(fields[2]),
      startTime: Number(fields[19]),
    };
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs (exists and is not a zombie). */
export function isRunning(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/**
 * Processes still running that a sandbox on `dir` started, as "pid comm cwd command line": every
 * process working inside `dir` (Redis and Sentinel in their data dirs, start scripts, stand-in
 * servers) or naming a file in it (Commander's launcher), or in the process group of one of
 * `groups` (the pids its processes.json named).
 */
export function runningIn(dir: string, groups: Iterable<number> = []): string[] {
  const leaders = new Set(groups);
  return fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .flatMap((entry) => {
      const pid = Number(entry);
      const stat = procStat(pid);
      if (!stat || stat.state === "Z") return [];
      let cwd = "";
      try {
        cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // gone meanwhile
      }
      let command = "";
      try {
        command = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      } catch {
        // gone meanwhile
      }
      const inDir =
        cwd === dir || cwd.startsWith(dir + path.sep) || command.includes(dir + path.sep);
      return inDir || leaders.has(stat.pgid) ? [`${pid} ${stat.comm} ${cwd} ${command}`] : [];
    });
}

/** SIGKILL to every process `runningIn` finds (cleanup after a failed test). */
export function killRunningIn(dir: string, groups: Iterable<number> = []): void {
  for (const line of runningIn(dir, groups)) {
    try {
      process.kill(Number(line.split(" ")[0]), "SIGKILL");
    } catch {
      // already gone
    }
  }
}
