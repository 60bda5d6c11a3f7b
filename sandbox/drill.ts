import { spawn } from "node:child_process";
import type Redis from "ioredis";
import * as fs from "node:fs";
import * as path from "node:path";
import { PRE_STOP_SECONDS, terminationGraceSeconds } from "../render/sentinel";
import { currentMasterPort } from "./failover";
import { ConnectionInfo } from "../render/connection";
import { Sandbox, isAlive, readProcesses } from "./sandbox";

/** A Redis node of a running group, as a drill sees it. */
export interface DrillNode {
  readonly name: string;
  readonly port: number;
  readonly confDir: string;
  /** The environment its start script runs with: the hook and the probe get the same. */
  readonly env: NodeJS.ProcessEnv;
}

/** What a drill acts on: the nodes in ordinal order and their current process ids. */
export interface DrillTarget {
  readonly nodes: readonly DrillNode[];
  pid(name: string): number | undefined;
  /** Port of the node the sentinels name master, or undefined when none answers. */
  masterPort(): Promise<number | undefined>;
}

export interface NodeRestart {
  readonly name: string;
  readonly wasMaster: boolean;
  /** The hook's last line, or "" without hook. */
  readonly preStop: string;
  readonly preStopMs: number;
  readonly stopMs: number;
  /** From the start of the new process to the readiness probe passing. */
  readonly readyMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `sh script [args]` with `env`; resolves with its exit code and output, killed at `timeoutMs`. */
export function runScript(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("sh", [script, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s`);
}

/**
 * Restarts every Redis node as a StatefulSet rolling update does: highest ordinal first; for each,
 * the rendered pre-stop hook (unless `preStop` is false: the baseline of a pod without it),
 * SIGTERM, exit within the grace period (SIGKILL after it), a new process (the restart policy of
 * the sandbox or the container runtime starts it), and the rendered readiness probe passing.
 */
export async function rollingRestart(
  target: DrillTarget,
  options: { preStop?: boolean; log?: (line: string) => void; readyTimeoutMs?: number } = {},
): Promise<NodeRestart[]> {
  const preStop = options.preStop ?? true;
  const log = options.log ?? (() => undefined);
  const results: NodeRestart[] = [];
  for (const node of [...target.nodes].reverse()) {
    const wasMaster = (await target.masterPort()) === node.port;
    const pid = target.pid(node.name);
    if (pid === undefined) throw new Error(`${node.name}: not running`);
    const started = Date.now();
    let said = "";
    // A standalone server has no hook: there is nobody to hand over to.
    if (preStop && fs.existsSync(path.join(node.confDir, "pre-stop.sh"))) {
      const hook = await runScript(
        path.join(node.confDir, "pre-stop.sh"),
        [],
        node.env,
        (PRE_STOP_SECONDS + 5) * 1000,
      );
      said = hook.output.trim().split("\n").join("; ");
    }
    const preStopMs = Date.now() - started;
    process.kill(pid, "SIGTERM");
    const graceMs = terminationGraceSeconds() * 1000 - preStopMs;
    const stopped = Date.now();
    const gone = async () => (isAlive(pid) ? undefined : true);
    try {
      await until(`${node.name} exiting`, graceMs, gone);
    } catch {
      // As kubelet does once the grace period is over.
      process.kill(pid, "SIGKILL");
      await until(`${node.name} exiting after SIGKILL`, 5000, gone);
    }
    const stopMs = Date.now() - stopped;
    const newPid = await until(`${node.name} started again`, 10_000, async () => {
      const now = target.pid(node.name);
      return now !== undefined && now !== pid ? now : undefined;
    });
    const restarted = Date.now();
    await until(
      `${node.name} (pid ${newPid}) ready`,
      options.readyTimeoutMs ?? 60_000,
      async () => {
        const probe = await runScript(
          path.join(node.confDir, "probe.sh"),
          [],
          { ...node.env, PROBE_PORT: String(node.port) },
          5000,
        );
        return probe.code === 0 ? true : undefined;
      },
    );
    const result: NodeRestart = {
      name: node.name,
      wasMaster,
      preStop: said,
      preStopMs,
      stopMs,
      readyMs: Date.now() - restarted,
    };
    results.push(result);
    log(describeRestart(result));
  }
  return results;
}

/** One line per node, as the drill command prints it. */
export function describeRestart(r: NodeRestart): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const hook = r.preStop
    ? `pre-stop ${s(r.preStopMs)} (${r.preStop.replace(/^pre-stop: /, "")}), `
    : "";
  return `${r.name} (${r.wasMaster ? "master" : "replica"}): ${hook}stopped in ${s(r.stopMs)}, ready ${s(r.readyMs)} after its restart`;
}

/** A sandbox started in this process, as a drill target: its supervisor restarts what stops. */
export function sandboxDrillTarget(sandbox: Sandbox): DrillTarget {
  return {
    nodes: sandbox.nodes.map((n) => ({
      name: n.name,
      port: n.port,
      confDir: n.confDir,
      env: sandbox.supervisor.spec(n.name).env ?? process.env,
    })),
    pid: (name) => sandbox.supervisor.pid(name),
    masterPort: () => currentMasterPort(sandbox.connection).catch(() => undefined),
  };
}

/** The sandbox running in `dir` (another process), through its processes.json and connection.json. */
export function runningSandboxTarget(dir: string): DrillTarget {
  const connection = JSON.parse(
    fs.readFileSync(path.join(dir, "connection.json"), "utf8"),
  ) as ConnectionInfo;
  const nodes = readProcesses(dir)
    .processes.filter((p) => p.kind === "redis")
    .map((p) => ({
      name: p.name,
      port: p.port,
      confDir: p.confDir,
      env: { ...process.env, ...p.env },
    }));
  return {
    nodes,
    pid: (name) => readProcesses(dir).processes.find((p) => p.name === name)?.pid,
    masterPort: () =>
      connection.topology === "sentinel"
        ? currentMasterPort(connection).catch(() => undefined)
        : Promise.resolve(nodes[0]?.port),
  };
}

/**
 * Writes continuously through `client`, each write acknowledged by a replica (WAIT 1); records the
 * acknowledged keys and the longest pause between two acknowledgements.
 */
export function startAcknowledgedWriter(client: Redis, prefix: string) {
  const acknowledged: string[] = [];
  let longestPauseMs = 0;
  let last = Date.now();
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const key = `${prefix}:${i}`;
      try {
        await client.set(key, String(i));
        if (((await client.call("WAIT", "1", "1000")) as number) >= 1) {
          acknowledged.push(key);
          const now = Date.now();
          longestPauseMs = Math.max(longestPauseMs, now - last);
          last = now;
        }
      } catch {
        await sleep(20);
      }
    }
  })();
  return {
    acknowledged,
    longestPauseMs: () => longestPauseMs,
    /** Stops writing; resolves with how many acknowledged writes are missing now. */
    stop: async (): Promise<number> => {
      running = false;
      await done;
      if (acknowledged.length === 0) return 0;
      const values = await client.mget(...acknowledged);
      return values.filter((v) => v === null).length;
    },
  };
}
