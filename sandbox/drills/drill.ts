import { spawn } from "node:child_process";
import type Redis from "ioredis";
import * as fs from "node:fs";
import * as path from "node:path";
import { PRE_STOP_SECONDS, terminationGraceSeconds } from "../../render/sentinel";
import { currentMaster } from "./failover";
import { ConnectionInfo } from "../../render/connection";
import IORedis from "ioredis";
import { ioredisOptions } from "../../render/client-options";
import { sentinelClient } from "../../lib/redis-clients";
import { Sandbox } from "../sandbox";
import { SandboxProcessEntry, isAlive, readProcesses } from "../contract";
import { nodeAt } from "../process-list";

/** A command run in a node's container (a probe, a hook): argv and environment. */
export interface ContainerCommand {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/** A Redis node of a running group, as a drill sees it. */
export interface DrillNode {
  readonly name: string;
  readonly port: number;
  /** Where this host reaches it, and the name the group knows it by. */
  readonly host: string;
  readonly announced: string;
  /** The rendered pre-stop hook (none on a standalone server) and readiness probe, as the pod runs them. */
  readonly preStop?: ContainerCommand;
  readonly readiness: ContainerCommand;
}

/** What a drill acts on: the nodes in ordinal order and their current process ids. */
export interface DrillTarget {
  readonly nodes: readonly DrillNode[];
  /** Every process of the deployment by name: the nodes, then the sentinels. */
  readonly processes: readonly string[];
  pid(name: string): number | undefined;
  /** Name of the node the sentinels name master, or undefined when none answers. */
  master(): Promise<string | undefined>;
}

/**
 * A node's hook and probe: in pods mode the manifest's exec commands inside its container; in
 * loopback mode the rendered scripts in its conf dir, with its start script's environment.
 */
export function nodeCommands(
  entry: Pick<SandboxProcessEntry, "confDir" | "port" | "env" | "pod">,
): Pick<DrillNode, "preStop" | "readiness"> {
  if (entry.pod) {
    const inPod = (command: readonly string[]) => ({
      argv: [...entry.pod!.exec, ...command],
      env: { PATH: process.env.PATH },
    });
    return {
      preStop: entry.pod.preStop ? inPod(entry.pod.preStop) : undefined,
      readiness: inPod(entry.pod.readiness ?? ["sh", "/conf/probe.sh"]),
    };
  }
  const env = { ...process.env, ...entry.env };
  const hook = path.join(entry.confDir, "pre-stop.sh");
  return {
    preStop: fs.existsSync(hook) ? { argv: ["sh", hook], env } : undefined,
    readiness: {
      argv: ["sh", path.join(entry.confDir, "probe.sh")],
      env: { ...env, PROBE_PORT: String(entry.port) },
    },
  };
}

/** The master the sentinels name, as one of `nodes`. */
async function masterOf(connection: ConnectionInfo, nodes: readonly DrillNode[]) {
  const at = await currentMaster(connection).catch(() => undefined);
  return at && nodeAt(nodes, at)?.name;
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

/** Runs a container command; resolves with its exit code and output, killed at `timeoutMs`. */
export function runCommand(
  command: ContainerCommand,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const [program, ...args] = command.argv;
    const child = spawn(program, args, { env: command.env, stdio: ["ignore", "pipe", "pipe"] });
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
    const wasMaster = (await target.master()) === node.name;
    const pid = target.pid(node.name);
    if (pid === undefined) throw new Error(`${node.name}: not running`);
    const started = Date.now();
    let said = "";
    // A standalone server has no hook: there is nobody to hand over to.
    if (preStop && node.preStop) {
      const hook = await runCommand(node.preStop, (PRE_STOP_SECONDS + 5) * 1000);
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
        const probe = await runCommand(node.readiness, 5000);
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
  const nodes = sandbox.nodes.map((n) => {
    const pod = sandbox.pods?.get(n.name);
    return {
      name: n.name,
      port: n.port,
      host: n.host,
      announced: n.announced,
      ...nodeCommands({
        confDir: n.confDir,
        port: n.port,
        env: (sandbox.supervisor.spec(n.name).env ?? {}) as Record<string, string>,
        pod: pod && {
          ip: pod.pod.ip,
          netns: pod.pod.netns,
          exec: pod.exec.prefix,
          readiness: pod.readiness,
          preStop: pod.preStop,
        },
      }),
    };
  });
  return {
    nodes,
    processes: [...sandbox.nodes, ...sandbox.sentinels].map((p) => p.name),
    pid: (name) => sandbox.supervisor.pid(name),
    master: () => masterOf(sandbox.connection, nodes),
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
      host: p.host,
      announced: p.announced,
      ...nodeCommands(p),
    }));
  return {
    nodes,
    processes: readProcesses(dir).processes.map((p) => p.name),
    pid: (name) => readProcesses(dir).processes.find((p) => p.name === name)?.pid,
    master: () =>
      connection.topology === "sentinel"
        ? masterOf(connection, nodes)
        : Promise.resolve(nodes[0]?.name),
  };
}

/**
 * Writes continuously through `client`, each write acknowledged by a replica (WAIT 1); records the
 * acknowledged keys and the longest pause between two acknowledgements.
 */
/**
 * MGET of any number of keys, in chunks: a minute of writes is over 100,000 keys, more arguments
 * than one call can spread.
 */
export async function mgetAll(client: Redis, keys: readonly string[]): Promise<(string | null)[]> {
  const values: (string | null)[] = [];
  for (let i = 0; i < keys.length; i += 10_000)
    values.push(...(await client.mget(...keys.slice(i, i + 10_000))));
  return values;
}

export function startAcknowledgedWriter(client: Redis, prefix: string) {
  const acknowledged: string[] = [];
  /** When each acknowledgement arrived (Date.now()), in the order of `acknowledged`. */
  const acknowledgedAt: number[] = [];
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
          acknowledgedAt.push(now);
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
    acknowledgedAt,
    longestPauseMs: () => longestPauseMs,
    /**
     * Stops writing once one more write is acknowledged (bounded by `settleMs`), so that an outage
     * at the very end is measured too; resolves with how many acknowledged writes are missing now.
     */
    stop: async (settleMs = 30_000): Promise<number> => {
      const count = acknowledged.length;
      const deadline = Date.now() + settleMs;
      while (running && acknowledged.length === count && Date.now() < deadline) await sleep(20);
      running = false;
      await done;
      if (acknowledged.length === 0) return 0;
      const values = await mgetAll(client, acknowledged);
      return values.filter((v) => v === null).length;
    },
  };
}

export interface GroupRestart {
  /** The node the sentinels named master before the stop, and after the restart. */
  readonly masterBefore: string | undefined;
  readonly masterAfter: string | undefined;
  /** The sentinels' config epoch of the master before and after: equal means no failover. */
  readonly epochBefore: number;
  readonly epochAfter: number;
  /** From every process stopped to every process running again. */
  readonly downMs: number;
  /** From every process running again to the first write a replica acknowledged (WAIT 1). */
  readonly firstWriteMs: number;
  readonly acknowledged: number;
  readonly lost: number;
}

/** The highest config epoch any sentinel reports for the master (SENTINEL MASTER). */
export async function masterEpoch(connection: ConnectionInfo): Promise<number> {
  let epoch = -1;
  for (const s of connection.sentinels) {
    const client = sentinelClient(connection, s);
    try {
      await client.connect();
      const fields = (await client.call("SENTINEL", "MASTER", connection.masterName)) as string[];
      const at = fields.indexOf("config-epoch");
      if (at >= 0) epoch = Math.max(epoch, Number(fields[at + 1]));
    } catch {
      // a sentinel that does not answer has no say
    } finally {
      client.disconnect();
    }
  }
  return epoch;
}

/**
 * Stops every Redis node and every sentinel at once with SIGTERM (SIGKILL after the grace
 * period), as a whole-cluster restart does, while a client writes through the sentinels with
 * `WAIT 1`; the restart policy starts them all again. Measures the time from every process
 * running to the first acknowledged write, then watches for `settleMs` that no failover follows,
 * and reads every acknowledged write back.
 */
export async function restartGroup(
  target: DrillTarget,
  connection: ConnectionInfo,
  options: { settleMs?: number; timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<GroupRestart> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 120_000;
  const masterBefore = await target.master();
  const epochBefore = await masterEpoch(connection);
  const client = new IORedis(ioredisOptions(connection, "app", connection.databases.flowCache));
  client.on("error", () => undefined);
  try {
    await client.connect();
    const writer = startAcknowledgedWriter(client, `drill:restart-all:${Date.now()}`);
    await until("a first acknowledged write", 10_000, async () =>
      writer.acknowledged.length > 0 ? true : undefined,
    );
    const pids = new Map(target.processes.map((name) => [name, target.pid(name)]));
    const stopping = Date.now();
    for (const pid of pids.values()) if (pid !== undefined) process.kill(pid, "SIGTERM");
    await Promise.all(
      [...pids].map(async ([name, pid]) => {
        if (pid === undefined) return;
        const gone = async () => (isAlive(pid) ? undefined : true);
        try {
          await until(`${name} exiting`, terminationGraceSeconds() * 1000, gone);
        } catch {
          process.kill(pid, "SIGKILL");
          await until(`${name} exiting after SIGKILL`, 5000, gone);
        }
      }),
    );
    log(`every process stopped in ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
    const stopped = Date.now();
    await until("every process running again", timeoutMs, async () =>
      [...pids].every(([name, old]) => {
        const now = target.pid(name);
        return now !== undefined && now !== old;
      })
        ? true
        : undefined,
    );
    const up = Date.now();
    const before = writer.acknowledged.length;
    await until("an acknowledged write after the restart", timeoutMs, async () =>
      writer.acknowledged.length > before ? true : undefined,
    );
    const firstWriteMs = writer.acknowledgedAt[before] - up;
    log(`first acknowledged write ${(firstWriteMs / 1000).toFixed(1)} s after every process ran`);
    // A failover the restart provoked would come within down-after plus an election.
    await sleep(options.settleMs ?? 2 * 5000 + 5000);
    const lost = await writer.stop();
    return {
      masterBefore,
      masterAfter: await target.master(),
      epochBefore,
      epochAfter: await masterEpoch(connection),
      downMs: up - stopped,
      firstWriteMs,
      acknowledged: writer.acknowledged.length,
      lost,
    };
  } finally {
    client.disconnect();
  }
}

/** The drill's summary line. */
export function describeGroupRestart(r: GroupRestart): string {
  const same = r.masterAfter === r.masterBefore ? "the same master" : "ANOTHER master";
  const failovers = r.epochAfter === r.epochBefore ? "no failover" : "A FAILOVER";
  return (
    `restart-all: first acknowledged write ${(r.firstWriteMs / 1000).toFixed(1)} s after every process ran; ` +
    `${same} (${r.masterAfter}), ${failovers} (config epoch ${r.epochBefore} -> ${r.epochAfter}), ` +
    `${r.lost} of ${r.acknowledged} acknowledged writes lost`
  );
}
