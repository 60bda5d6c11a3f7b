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
