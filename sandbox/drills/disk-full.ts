import * as fs from "node:fs";
import * as path from "node:path";
import IORedis from "ioredis";
import { ioredisOptions } from "../../render/client-options";
import { ConnectionInfo } from "../../render/connection";
import { parseInfo, sentinelClient, until, withAdmin } from "../../lib/redis-clients";
import {
  DrillNode,
  DrillTarget,
  masterEpoch,
  runningSandboxTarget,
  sandboxDrillTarget,
} from "./drill";
import { masterNamedBy } from "./failover";
import type { WriteOutcome, WriteRecord } from "./partition-writer";
import { Sandbox } from "../sandbox";
import { isAlive, readProcesses } from "../contract";
import { nodeAt } from "../process-list";

/**
 * The disk-full drill: the filesystem holding every node's data fills up (a ballast file) while a
 * client keeps writing through the sentinels with `WAIT 1`; the space comes back after a hold; the
 * group settles, and every write a replica acknowledged must be on every node, with no node
 * having crashed. It fills a whole filesystem, so it runs only on a small one that holds the
 * sandbox alone (a tmpfs mounted on its --dir).
 */

/** The largest filesystem the drill fills: more is a real disk, or takes too long to fill. */
export const MAX_FILL_BYTES = 256 * 1024 * 1024;
/** The ballast, in the sandbox's dir: removed when the drill ends, however it ends. */
export const BALLAST_FILE = "disk-full.ballast";
/**
 * Each value is a page: once the filesystem is full, every node's next AOF write needs a page it
 * cannot get, whatever room the last page of its file still has. So the master, which writes its
 * AOF before it sends a write to the replicas, is the first to fail, as on a volume that fills up.
 */
const VALUE_BYTES = 4096;
/** Keys with a TTL written before the fill, expiring during the hold, as the platform's sessions do. */
const SESSION_KEYS = 50;
/**
 * One write every 50 ms at most: 80 KiB/s per node, so that the writes cannot fill the volume
 * again, even in the minute the drill waits for the group to settle once the space is back.
 */
const WRITE_INTERVAL_MS = 50;
/** From the first refused write on: down-after, then the time the sentinels need to fail over. */
const FAILOVER_ALLOWANCE_MS = 5000;

/** The drill refuses to run here (exit 2 from the command): nothing was changed. */
export class DiskFullRefused extends Error {}

/** What the drill acts on: the group, the dir the ballast goes into, and each node's data dir. */
export interface DiskFullTarget extends DrillTarget {
  readonly connection: ConnectionInfo;
  readonly dir: string;
  readonly dataDirs: readonly string[];
}

export function sandboxDiskFullTarget(sandbox: Sandbox): DiskFullTarget {
  return {
    ...sandboxDrillTarget(sandbox),
    connection: sandbox.connection,
    dir: sandbox.dir,
    dataDirs: sandbox.nodes.map((n) => n.dataDir),
  };
}

/** The sandbox running in `dir` (another process). */
export function runningDiskFullTarget(dir: string): DiskFullTarget {
  // A filesystem the drill may not fill is refused before anything else.
  fillableFilesystem(dir, []);
  const connection = JSON.parse(
    fs.readFileSync(path.join(dir, "connection.json"), "utf8"),
  ) as ConnectionInfo;
  if (connection.topology !== "sentinel")
    throw new DiskFullRefused(
      "disk-full needs a sentinel group (the sandbox of a sentinel stack).",
    );
  return {
    ...runningSandboxTarget(dir),
    connection,
    dir,
    dataDirs: readProcesses(dir)
      .processes.filter((p) => p.kind === "redis")
      .map((p) => p.dataDir),
  };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * The filesystem of `dir`, when the drill may fill it: at most `maxBytes`, holding every data
 * dir. Refuses (DiskFullRefused) otherwise, before anything is written.
 */
export function fillableFilesystem(
  dir: string,
  dataDirs: readonly string[],
  maxBytes = MAX_FILL_BYTES,
): { sizeBytes: number; freeBytes: number } {
  const stats = fs.statfsSync(dir);
  const sizeBytes = stats.blocks * stats.bsize;
  if (sizeBytes > maxBytes)
    throw new DiskFullRefused(
      `--dir ${dir} is on a filesystem of ${mib(sizeBytes)}: the disk-full drill fills the whole filesystem, so it runs only on one of at most ${mib(maxBytes)} that holds nothing but the sandbox (as root, before npm run sandbox: mount -t tmpfs -o size=32m tmpfs ${dir}).`,
    );
  const device = fs.statSync(dir).dev;
  for (const data of dataDirs)
    if (fs.statSync(data).dev !== device)
      throw new DiskFullRefused(
        `${data} is not on the filesystem of --dir ${dir}: filling it would not fill that node's volume.`,
      );
  return { sizeBytes, freeBytes: stats.bfree * stats.bsize };
}

/**
 * Fills the filesystem of `file`'s directory with `file`: big chunks, then smaller ones, down to
 * a single byte, until nothing more fits. Returns the ballast's size.
 */
export function fillWithBallast(file: string): number {
  const fd = fs.openSync(file, "w", 0o600);
  let size = 0;
  try {
    for (let chunk = 1024 * 1024; chunk >= 1; chunk = Math.floor(chunk / 4)) {
      const buffer = Buffer.alloc(chunk, 0x5a);
      for (;;) {
        try {
          const written = fs.writeSync(fd, buffer);
          size += written;
          if (written < chunk) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return size;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A node as admin, one short-lived connection. */
async function onNode<T>(
  connection: ConnectionInfo,
  node: DrillNode,
  use: (c: IORedis) => Promise<T>,
  db = 0,
): Promise<T> {
  return withAdmin(connection, node, use, db);
}

const REFUSAL = /^(NOREPLICAS|READONLY|MISCONF|OOM)/;

/**
 * A client writing through the sentinels, as an application does, one write after the other:
 * `SET`, then `WAIT 1 <waitMs>`; each write recorded as acknowledged, accepted, refused or failed
 * (partition-writer.ts's classes). `between` runs between two writes, never during one.
 */
export function startWriter(connection: ConnectionInfo, prefix: string, waitMs: number) {
  const client = new IORedis(ioredisOptions(connection, "app", connection.databases.flowCache));
  client.on("error", () => undefined);
  const records: WriteRecord[] = [];
  const value = (i: number) => String(i).padEnd(VALUE_BYTES, ".");
  let between: (() => void) | undefined;
  let running = true;
  const done = (async () => {
    let next = Date.now();
    for (let i = 0; running; i++) {
      await sleep(next - Date.now());
      next = Math.max(next, Date.now()) + WRITE_INTERVAL_MS;
      between?.();
      between = undefined;
      const key = `${prefix}:${i}`;
      const sentAt = Date.now();
      const record = (outcome: WriteOutcome, error?: string) =>
        records.push({ key, outcome, sentAt, at: Date.now(), ...(error ? { error } : {}) });
      try {
        await client.set(key, value(i));
      } catch (err) {
        const message = (err as Error).message;
        record(REFUSAL.test(message) ? "refused" : "failed", message);
        continue;
      }
      try {
        const replicas = (await client.call("WAIT", "1", String(waitMs))) as number;
        record(replicas >= 1 ? "acknowledged" : "accepted");
      } catch (err) {
        record("accepted", (err as Error).message);
      }
    }
  })();
  return {
    client,
    records,
    /** Runs `action` between two writes; resolves once it ran. */
    between: (action: () => void) =>
      new Promise<void>((resolve, reject) => {
        between = () => {
          try {
            action();
            resolve();
          } catch (err) {
            reject(err as Error);
          }
        };
      }),
    stop: async () => {
      running = false;
      await done;
      client.disconnect();
    },
  };
}

/** The master every sentinel names; throws, saying why, unless they all answer and agree. */
async function agreedMaster(target: DiskFullTarget): Promise<DrillNode> {
  const named = await Promise.all(
    target.connection.sentinels.map((s) =>
      masterNamedBy(target.connection, s).then(
        (at) => nodeAt(target.nodes, at)?.name ?? `${at.host}:${at.port}`,
        () => "no answer",
      ),
    ),
  );
  const master = target.nodes.find((n) => n.name === named[0]);
  if (!master || named.some((n) => n !== named[0]))
    throw new Error(`the sentinels name ${named.join(", ")}`);
  return master;
}

/**
 * The master of a whole group: the sentinels agree on it, it serves as master, and every other
 * node is its replica with the link up. Throws, saying what is missing, otherwise.
 */
export async function settledGroup(target: DiskFullTarget): Promise<DrillNode> {
  const master = await agreedMaster(target);
  const info = parseInfo(await onNode(target.connection, master, (c) => c.info("replication")));
  if (info.role !== "master") throw new Error(`${master.name} serves as ${info.role}`);
  for (const node of target.nodes.filter((n) => n !== master)) {
    const own = parseInfo(await onNode(target.connection, node, (c) => c.info("replication")));
    const follows =
      Number(own.master_port) === master.port &&
      (own.master_host === master.announced || own.master_host === master.host);
    if (own.role !== "slave" || !follows || own.master_link_status !== "up")
      throw new Error(
        `${node.name} is ${own.role === "slave" ? `a replica of ${own.master_host}:${own.master_port}, link ${own.master_link_status}` : own.role}`,
      );
  }
  if (Number(info.connected_slaves) !== target.nodes.length - 1)
    throw new Error(`${master.name} has ${info.connected_slaves} replicas`);
  return master;
}

/** `down-after-milliseconds` as the first sentinel that answers reports it. */
async function downAfterMs(connection: ConnectionInfo): Promise<number> {
  for (const s of connection.sentinels) {
    const client = sentinelClient(connection, s, { commandTimeout: 2000 });
    try {
      await client.connect();
      const fields = (await client.call("SENTINEL", "MASTER", connection.masterName)) as string[];
      return Number(fields[fields.indexOf("down-after-milliseconds") + 1]);
    } catch {
      // the next one
    } finally {
      client.disconnect();
    }
  }
  throw new Error("no sentinel answered");
}

export interface NodeReadBack {
  readonly name: string;
  /** Keys of the drill whose write was accepted (acknowledged or not) that the node holds. */
  readonly keys: number;
  /** Acknowledged writes the node lacks. */
  readonly missingAcknowledged: number;
}

export interface DiskFullResult {
  readonly filesystemBytes: number;
  readonly ballastBytes: number;
  readonly masterBefore: string;
  readonly masterAfter: string;
  readonly epochBefore: number;
  readonly epochAfter: number;
  /** From the fill to the first refused write, and the refusals' error codes. */
  readonly fullAfterMs: number;
  readonly refusedWith: readonly string[];
  readonly holdMs: number;
  /** From freeing the space to the first acknowledged write, and to a settled group. */
  readonly recoveredMs: number;
  readonly settledMs: number;
  readonly totalMs: number;
  readonly writes: Readonly<Record<WriteOutcome, number>>;
  /** Acknowledged writes missing on the master after the drill. */
  readonly acknowledgedLost: number;
  readonly nodes: readonly NodeReadBack[];
  /** Processes (nodes and sentinels) that exited during the drill. */
  readonly crashed: readonly string[];
}

/**
 * Runs the drill on a settled group: writes through the sentinels, fills the filesystem between
 * two writes, holds it full for `holdMs` after the first refused write (default: down-after plus
 * the time a failover takes, so that the sentinels act on what they see), frees it, waits until
 * the group settles and a write is acknowledged again, then reads every write back on every node
 * once the replicas have caught up. The ballast is removed however the drill ends.
 */
export async function diskFullDrill(
  target: DiskFullTarget,
  options: { holdMs?: number; timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<DiskFullResult> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const { sizeBytes } = fillableFilesystem(target.dir, target.dataDirs);
  const started = Date.now();
  const connection = target.connection;
  const masterBefore = await until("a settled group", timeoutMs, () => settledGroup(target));
  const epochBefore = await masterEpoch(connection);
  const holdMs = options.holdMs ?? (await downAfterMs(connection)) + FAILOVER_ALLOWANCE_MS;
  const pids = new Map(target.processes.map((name) => [name, target.pid(name)]));
  const prefix = `drill:disk-full:${Date.now()}`;
  const writer = startWriter(connection, prefix, 500);
  const ballast = path.join(target.dir, BALLAST_FILE);
  try {
    const acknowledged = () => writer.records.filter((r) => r.outcome === "acknowledged").length;
    await until("the first acknowledged writes", timeoutMs, async () =>
      acknowledged() >= 20 ? true : undefined,
    );
    // Sessions that expire while the volume is full: the master propagates their deletion.
    for (let i = 0; i < SESSION_KEYS; i++)
      await writer.client.set(
        `${prefix}:session:${i}`,
        "1",
        "PX",
        1000 + Math.floor((i * holdMs) / SESSION_KEYS),
      );
    let ballastBytes = 0;
    let filledAt = 0;
    await writer.between(() => {
      ballastBytes = fillWithBallast(ballast);
      filledAt = Date.now();
    });
    log(`filled: ${mib(ballastBytes)} of ballast, the filesystem (${mib(sizeBytes)}) is full`);
    const firstRefusal = await until("a write refused on the full volume", timeoutMs, async () =>
      writer.records.find((r) => r.outcome === "refused" && r.sentAt >= filledAt),
    );
    const fullAfterMs = firstRefusal.at - filledAt;
    log(
      `the first write refused ${(fullAfterMs / 1000).toFixed(1)} s after the fill: ${firstRefusal.error}`,
    );
    await sleep(Math.max(0, firstRefusal.at + holdMs - Date.now()));
    fs.rmSync(ballast, { force: true });
    const freedAt = Date.now();
    log(`freed after ${((freedAt - filledAt) / 1000).toFixed(1)} s full`);
    const recovered = await until(
      "an acknowledged write after the space came back",
      timeoutMs,
      async () => writer.records.find((r) => r.outcome === "acknowledged" && r.sentAt >= freedAt),
    );
    const masterAfter = await until("a settled group after the space came back", timeoutMs, () =>
      settledGroup(target),
    );
    const settledMs = Date.now() - freedAt;
    log(
      `settled ${(settledMs / 1000).toFixed(1)} s after the space came back: ${masterAfter.name} is master`,
    );
    await writer.stop();
    const nodes = await readBack(target, masterAfter, writer.records, timeoutMs);
    const count = (outcome: WriteOutcome) =>
      writer.records.filter((r) => r.outcome === outcome).length;
    return {
      filesystemBytes: sizeBytes,
      ballastBytes,
      masterBefore: masterBefore.name,
      masterAfter: masterAfter.name,
      epochBefore,
      epochAfter: await masterEpoch(connection),
      fullAfterMs,
      refusedWith: [
        ...new Set(
          writer.records.filter((r) => r.outcome === "refused").map((r) => r.error!.split(" ")[0]),
        ),
      ],
      holdMs: freedAt - firstRefusal.at,
      recoveredMs: recovered.at - freedAt,
      settledMs,
      totalMs: Date.now() - started,
      writes: {
        acknowledged: count("acknowledged"),
        accepted: count("accepted"),
        refused: count("refused"),
        failed: count("failed"),
      },
      acknowledgedLost: nodes.find((n) => n.name === masterAfter.name)!.missingAcknowledged,
      nodes,
      crashed: [...pids]
        .filter(([name, pid]) => pid === undefined || !isAlive(pid) || target.pid(name) !== pid)
        .map(([name]) => name),
    };
  } finally {
    fs.rmSync(ballast, { force: true });
    await writer.stop();
  }
}

/**
 * Once every replica holds what `master` had, what each node holds of the drill's writes: the keys
 * of every write that got OK (acknowledged or not), and the acknowledged writes it lacks.
 */
async function readBack(
  target: DiskFullTarget,
  master: DrillNode,
  records: readonly WriteRecord[],
  timeoutMs: number,
): Promise<NodeReadBack[]> {
  const { connection } = target;
  const replication = async (node: DrillNode) =>
    parseInfo(await onNode(connection, node, (c) => c.info("replication")));
  const masterOffset = Number((await replication(master)).master_repl_offset);
  for (const node of target.nodes.filter((n) => n !== master))
    await until(`${node.name} catching up`, timeoutMs, async () =>
      Number((await replication(node)).slave_repl_offset) >= masterOffset ? true : undefined,
    );
  const acknowledged = records.filter((r) => r.outcome === "acknowledged").map((r) => r.key);
  const accepted = records
    .filter((r) => r.outcome === "acknowledged" || r.outcome === "accepted")
    .map((r) => r.key);
  const nodes: NodeReadBack[] = [];
  for (const node of target.nodes) {
    const present = new Set<string>();
    for (let i = 0; i < accepted.length; i += 500) {
      const chunk = accepted.slice(i, i + 500);
      const values = await onNode(
        connection,
        node,
        (c) => c.mget(...chunk),
        connection.databases.flowCache,
      );
      chunk.forEach((key, j) => values[j] !== null && present.add(key));
    }
    nodes.push({
      name: node.name,
      keys: present.size,
      missingAcknowledged: acknowledged.filter((k) => !present.has(k)).length,
    });
  }
  return nodes;
}

/** The drill passes: nothing acknowledged missing on any node, and no process crashed. */
export function diskFullPassed(r: DiskFullResult): boolean {
  return r.nodes.every((n) => n.missingAcknowledged === 0) && r.crashed.length === 0;
}

/** The drill's summary line. */
export function describeDiskFull(r: DiskFullResult): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const failover =
    r.epochAfter === r.epochBefore
      ? `no failover (${r.masterAfter})`
      : `A FAILOVER ${r.masterBefore} -> ${r.masterAfter} (epoch ${r.epochBefore} -> ${r.epochAfter})`;
  return (
    `disk-full: writes refused ${s(r.fullAfterMs)} after the fill (${r.refusedWith.join(", ") || "none"}), held ${s(r.holdMs)}, ` +
    `writes acknowledged again ${s(r.recoveredMs)} and the group settled ${s(r.settledMs)} after the space came back; ${failover}; ` +
    `${r.crashed.length > 0 ? `CRASHED: ${r.crashed.join(", ")}` : "no process crashed"}; ` +
    `keys per node: ${r.nodes.map((n) => `${n.name} ${n.keys}`).join(", ")}; ` +
    `${r.acknowledgedLost} of ${r.writes.acknowledged} acknowledged writes lost` +
    `${r.nodes.some((n) => n.missingAcknowledged > 0) ? ` (missing: ${r.nodes.map((n) => `${n.name} ${n.missingAcknowledged}`).join(", ")})` : ""}` +
    `, ${r.writes.accepted} accepted without acknowledgement, ${r.writes.refused} refused, ${r.writes.failed} failed; ${s(r.totalMs)} in all`
  );
}
