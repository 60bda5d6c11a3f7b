import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import IORedis from "ioredis";
import { ConnectionInfo, Endpoint } from "../../render/connection";
import { ioredisOptions } from "../../render/client-options";
import { parseInfo, sentinelClient, until, withAdmin } from "../../lib/redis-clients";
import {
  DrillTarget,
  masterEpoch,
  runningSandboxTarget,
  sandboxDrillTarget,
  mgetAll,
  startAcknowledgedWriter,
} from "./drill";
import { masterNamedBy } from "./failover";
import { PodAddress, heal, partition } from "../runtime/pod-network";
import { Sandbox } from "../sandbox";
import { readProcesses } from "../contract";
import { nodeAt } from "../process-list";
import type { WriteRecord } from "./partition-writer";

/**
 * Network-partition drills on a pods-mode sandbox (`--isolation pods`): the master cut off from
 * the sentinels and the replicas while a client in a pod of its own keeps writing to it; a
 * sentinel cut off alone; a replica cut off and healed. The cut is silent (sandbox/runtime/pod-network.ts):
 * packets vanish, as when a node's network fails, so timeouts decide, not refused connections.
 */

/** What a partition drill acts on. */
export interface PartitionTarget extends DrillTarget {
  readonly connection: ConnectionInfo;
  /** Every pod of the sandbox by name (the nodes, the sentinels, `client`…). */
  readonly pods: Readonly<Record<string, PodAddress>>;
  readonly sentinels: readonly string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pods-mode sandbox of this process, as a partition target. */
export function sandboxPartitionTarget(sandbox: Sandbox): PartitionTarget {
  if (!sandbox.network)
    throw new Error("partition drills need a pods-mode sandbox (--isolation pods)");
  return {
    ...sandboxDrillTarget(sandbox),
    connection: sandbox.connection,
    pods: Object.fromEntries(sandbox.network.pods),
    sentinels: sandbox.sentinels.map((s) => s.name),
  };
}

/** The pods-mode sandbox running in `dir` (another process). */
export function runningPartitionTarget(dir: string): PartitionTarget {
  const processes = readProcesses(dir);
  if (!processes.pods)
    throw new Error(
      `the sandbox of ${dir} runs in loopback mode: partition drills need --isolation pods`,
    );
  const target = runningSandboxTarget(dir);
  return {
    ...target,
    connection: JSON.parse(
      fs.readFileSync(path.join(dir, "connection.json"), "utf8"),
    ) as ConnectionInfo,
    pods: processes.pods.pods,
    sentinels: processes.processes.filter((p) => p.kind === "sentinel").map((p) => p.name),
  };
}

/** One admin command to a node, from this host. */
async function onNode<T>(
  target: PartitionTarget,
  at: Endpoint,
  use: (c: IORedis) => Promise<T>,
  db = 0,
): Promise<T> {
  return withAdmin(target.connection, at, use, db);
}

const nodeNamed = (target: PartitionTarget, name: string) => {
  const node = target.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  return node;
};

/** What every sentinel that answers names master (node names; undefined: no answer). */
async function masterPerSentinel(target: PartitionTarget): Promise<Array<string | undefined>> {
  return Promise.all(
    target.connection.sentinels.map(async (s) => {
      try {
        const at = await masterNamedBy(target.connection, s);
        return nodeAt(target.nodes, at)?.name;
      } catch {
        return undefined;
      }
    }),
  );
}

/** A field of `SENTINEL MASTER` as one sentinel reports it. */
async function sentinelMasterField(
  target: PartitionTarget,
  sentinel: Endpoint,
  field: string,
): Promise<string | undefined> {
  const client = sentinelClient(target.connection, sentinel, { commandTimeout: 2000 });
  try {
    await client.connect();
    const fields = (await client.call(
      "SENTINEL",
      "MASTER",
      target.connection.masterName,
    )) as string[];
    const at = fields.indexOf(field);
    return at >= 0 ? fields[at + 1] : undefined;
  } finally {
    client.disconnect();
  }
}

/**
 * Waits (bounded) until the group is whole: every answering sentinel names the same master, which
 * serves as master with every replica attached. A drill starts from there.
 */
async function settledMaster(target: PartitionTarget, timeoutMs = 60_000): Promise<string> {
  return until("a settled group (one master, every replica attached)", timeoutMs, async () => {
    const named = (await masterPerSentinel(target)).filter((n) => n !== undefined);
    if (named.length < target.connection.sentinels.length || named.some((n) => n !== named[0]))
      return undefined;
    const master = nodeNamed(target, named[0]!);
    const info = parseInfo(
      await onNode(target, { host: master.host, port: master.port }, (c) => c.info("replication")),
    );
    return info.role === "master" && Number(info.connected_slaves) === target.nodes.length - 1
      ? master.name
      : undefined;
  });
}

/** The writer of sandbox/drills/partition-writer.ts in the client pod, and what it reported so far. */
function startPodWriter(target: PartitionTarget, at: Endpoint, prefix: string) {
  const client = target.pods.client;
  if (!client) throw new Error("the sandbox has no client pod");
  const records: WriteRecord[] = [];
  const args = {
    host: at.host,
    port: at.port,
    ...target.connection.users.app,
    db: target.connection.databases.flowCache,
    prefix,
    waitMs: 200,
  };
  const child: ChildProcess = spawn(
    "nsenter",
    [
      `--net=/run/netns/${client.netns}`,
      "--",
      process.execPath,
      "-r",
      "ts-node/register/transpile-only",
      path.join(__dirname, "partition-writer.ts"),
      JSON.stringify(args),
    ],
    { cwd: path.resolve(__dirname, "..", ".."), stdio: ["ignore", "pipe", "inherit"] },
  );
  readline
    .createInterface({ input: child.stdout! })
    .on("line", (line) => records.push(JSON.parse(line) as WriteRecord));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    records,
    stop: async () => {
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(5000).then(() => child.kill("SIGKILL"))]);
      await exited;
    },
  };
}

export interface MasterPartitionResult {
  readonly master: string;
  readonly newMaster: string;
  readonly minReplicasToWrite: number;
  readonly minReplicasMaxLagS: number;
  /** From the cut to the isolated master's first refused write (none with minReplicasToWrite 0). */
  readonly refusedAfterMs?: number;
  /** From the cut to every answering sentinel naming another master. */
  readonly failoverMs: number;
  readonly partitionMs: number;
  /** From the heal to one master: the old one a replica of the new, its link up. */
  readonly oneMasterMs: number;
  /** Writes a replica acknowledged (WAIT 1), and those of them missing afterwards. */
  readonly acknowledged: number;
  readonly acknowledgedLost: number;
  /**
   * Writes sent to the isolated master once the cut was complete that it accepted (OK, no replica
   * acknowledging them), and those of them lost.
   */
  readonly acceptedUnacknowledged: number;
  readonly acceptedLost: number;
  readonly refused: number;
}

/**
 * The master cut off from every sentinel and replica; a client in its own pod keeps writing to it
 * (`SET`, then `WAIT 1 200`). Measures when the isolated master starts refusing writes
 * (`min-replicas-max-lag`), the failover of the majority side, and after the heal — held at least
 * until both happened and `min-replicas-max-lag` + 2 s passed — the old master rejoining as a
 * replica; then reads every write back from the new master.
 */
export async function partitionMaster(
  target: PartitionTarget,
  options: { timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<MasterPartitionResult> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 90_000;
  const masterName = await settledMaster(target);
  const master = nodeNamed(target, masterName);
  const masterAt = { host: master.host, port: master.port };
  const config = target.connection.renamedCommands.CONFIG || "CONFIG";
  const setting = (name: string) =>
    onNode(target, masterAt, async (c) =>
      Number(((await c.call(config, "GET", name)) as string[])[1]),
    );
  const minReplicasToWrite = await setting("min-replicas-to-write");
  const minReplicasMaxLagS = await setting("min-replicas-max-lag");
  const others = [
    ...target.nodes.filter((n) => n.name !== masterName).map((n) => n.name),
    ...target.sentinels,
  ];

  const writer = startPodWriter(target, masterAt, `drill:partition:${Date.now()}`);
  try {
    await until("the client's first acknowledged writes", 30_000, async () =>
      writer.records.filter((r) => r.outcome === "acknowledged").length >= 20 ? true : undefined,
    );
    // Times count from the start of the cut; writes are sorted by whether they were sent once it
    // was complete (setting it up takes a moment), when nothing of the master reaches the others.
    const cutStartedAt = Date.now();
    partition(target.pods, [masterName], others);
    const cutAt = Date.now();
    log(
      `partition: ${masterName} (master) cut off from ${others.join(", ")}; the client pod still reaches it`,
    );

    // min-replicas-to-write's refusal, not another (a full disk's MISCONF, OOM).
    const refused = () =>
      writer.records.find(
        (r) => r.outcome === "refused" && r.sentAt >= cutAt && r.error?.startsWith("NOREPLICAS"),
      );
    let refusedAt: number | undefined;
    let newMaster: string | undefined;
    let failoverAt = 0;
    const holdUntil = cutStartedAt + minReplicasMaxLagS * 1000 + 2000;
    await until("the failover of the majority side", timeoutMs, async () => {
      refusedAt ??= refused()?.at;
      if (!newMaster) {
        const named = (await masterPerSentinel(target)).filter((n) => n !== undefined);
        if (named.length > 0 && named.every((n) => n !== masterName && n === named[0])) {
          newMaster = named[0];
          failoverAt = Date.now();
          log(
            `failover: the sentinels name ${newMaster} ${((failoverAt - cutStartedAt) / 1000).toFixed(1)} s after the cut`,
          );
        }
      }
      const refusalSettled = minReplicasToWrite === 0 || refusedAt !== undefined;
      return newMaster && refusalSettled && Date.now() >= holdUntil ? true : undefined;
    });
    if (refusedAt !== undefined)
      log(
        `the isolated master refused writes ${((refusedAt - cutStartedAt) / 1000).toFixed(1)} s after the cut`,
      );
    const healAt = Date.now();
    heal(target.pods);
    log(`healed after ${((healAt - cutStartedAt) / 1000).toFixed(1)} s`);
    const promoted = nodeNamed(target, newMaster!);
    const promotedAt = { host: promoted.host, port: promoted.port };
    await until("one master after the heal", timeoutMs, async () => {
      const named = await masterPerSentinel(target);
      if (!named.every((n) => n === newMaster)) return undefined;
      const old = parseInfo(await onNode(target, masterAt, (c) => c.info("replication")));
      const current = parseInfo(await onNode(target, promotedAt, (c) => c.info("replication")));
      return old.role === "slave" &&
        old.master_link_status === "up" &&
        current.role === "master" &&
        Number(current.connected_slaves) === target.nodes.length - 1
        ? true
        : undefined;
    });
    const oneMasterMs = Date.now() - healAt;
    log(
      `one master (${newMaster}) ${(oneMasterMs / 1000).toFixed(1)} s after the heal; ${masterName} follows it`,
    );
    await writer.stop();

    // Writes sent once the cut was complete: none of them can have reached a replica.
    const keysOf = (outcome: WriteRecord["outcome"], sentAfter = 0) =>
      writer.records
        .filter((r) => r.outcome === outcome && r.sentAt >= sentAfter)
        .map((r) => r.key);
    const acknowledged = keysOf("acknowledged");
    const accepted = keysOf("accepted", cutAt);
    const missing = async (keys: string[]) =>
      keys.length === 0
        ? 0
        : (
            await onNode(
              target,
              promotedAt,
              (c) => c.mget(...keys),
              target.connection.databases.flowCache,
            )
          ).filter((v) => v === null).length;
    return {
      master: masterName,
      newMaster: newMaster!,
      minReplicasToWrite,
      minReplicasMaxLagS,
      refusedAfterMs: refusedAt === undefined ? undefined : refusedAt - cutStartedAt,
      failoverMs: failoverAt - cutStartedAt,
      partitionMs: healAt - cutStartedAt,
      oneMasterMs,
      acknowledged: acknowledged.length,
      acknowledgedLost: await missing(acknowledged),
      acceptedUnacknowledged: accepted.length,
      acceptedLost: await missing(accepted),
      refused: keysOf("refused", cutAt).length,
    };
  } finally {
    heal(target.pods);
    await writer.stop();
  }
}

export interface SentinelPartitionResult {
  readonly sentinel: string;
  readonly masterBefore: string;
  readonly masterAfter: string | undefined;
  readonly epochBefore: number;
  readonly epochAfter: number;
  /** The isolated sentinel saw the master subjectively down: the cut was real. */
  readonly sawMasterDown: boolean;
  /** It never saw it objectively down (no quorum alone). */
  readonly objectivelyDown: boolean;
  readonly partitionMs: number;
}

/**
 * One sentinel cut off from every node and every other sentinel, for `down-after` plus
 * `failover-timeout` (a sentinel with a quorum would have started a failover a second after its
 * `down-after`): it sees the master down, alone, and no failover may follow.
 */
export async function partitionSentinel(
  target: PartitionTarget,
  options: { sentinel?: string; log?: (line: string) => void } = {},
): Promise<SentinelPartitionResult> {
  const log = options.log ?? (() => undefined);
  const name = options.sentinel ?? target.sentinels[0];
  const index = target.sentinels.indexOf(name);
  if (index < 0) throw new Error(`no sentinel ${name}`);
  const isolated = target.connection.sentinels[index];
  const masterBefore = await settledMaster(target);
  const epochBefore = await masterEpoch(target.connection);
  const downAfterMs = Number(
    await sentinelMasterField(target, isolated, "down-after-milliseconds"),
  );
  const failoverTimeoutMs = Number(await sentinelMasterField(target, isolated, "failover-timeout"));
  const others = [
    ...target.nodes.map((n) => n.name),
    ...target.sentinels.filter((s) => s !== name),
  ];
  const cutAt = Date.now();
  let sawMasterDown = false;
  let objectivelyDown = false;
  try {
    partition(target.pods, [name], others);
    log(`partition: ${name} cut off from ${others.join(", ")}`);
    const observeUntil = cutAt + downAfterMs + failoverTimeoutMs;
    while (Date.now() < observeUntil) {
      const flags = (await sentinelMasterField(target, isolated, "flags").catch(() => "")) ?? "";
      if (flags.includes("s_down")) sawMasterDown = true;
      if (flags.includes("o_down")) objectivelyDown = true;
      await sleep(250);
    }
  } finally {
    heal(target.pods);
  }
  const partitionMs = Date.now() - cutAt;
  log(
    `healed after ${(partitionMs / 1000).toFixed(1)} s; ${name} ${sawMasterDown ? "saw" : "did not see"} the master down`,
  );
  await until(`${name} seeing the master again`, 30_000, async () => {
    const flags = await sentinelMasterField(target, isolated, "flags");
    return flags !== undefined && !flags.includes("s_down") ? true : undefined;
  });
  return {
    sentinel: name,
    masterBefore,
    masterAfter: await target.master(),
    epochBefore,
    epochAfter: await masterEpoch(target.connection),
    sawMasterDown,
    objectivelyDown,
    partitionMs,
  };
}

export interface ReplicaPartitionResult {
  readonly replica: string;
  /** Writes acknowledged while the replica was cut off (the other replicas acknowledged them). */
  readonly writesWhileCut: number;
  /** The replication link broke on both sides (each gave up after `repl-timeout`). */
  readonly linkDropped: boolean;
  /** From the cut to the heal, and the replication stream the master produced meanwhile. */
  readonly cutMs: number;
  readonly streamBytesWhileCut: number;
  /** Resynchronisations the master served the replica after the heal: partial (backlog), full. */
  readonly partialResyncs: number;
  readonly fullResyncs: number;
  /** From the heal to the replica holding every write the master had at the heal. */
  readonly resyncMs: number;
  /** Writes acknowledged during the drill that the healed replica lacks. */
  readonly missingOnReplica: number;
  readonly acknowledged: number;
  readonly lost: number;
}

/**
 * A replica cut off from the master, the other replicas and the sentinels while a client writes
 * through the sentinels (`WAIT 1`), until both ends of its replication link gave up on it
 * (`repl-timeout`: the deployment's, or `replTimeoutS` set on both for the drill and restored);
 * after the heal it resynchronises and holds every write.
 */
export async function partitionReplica(
  target: PartitionTarget,
  options: { replica?: string; replTimeoutS?: number; log?: (line: string) => void } = {},
): Promise<ReplicaPartitionResult> {
  const log = options.log ?? (() => undefined);
  const masterName = await settledMaster(target);
  const replica = nodeNamed(
    target,
    options.replica ?? target.nodes.find((n) => n.name !== masterName)!.name,
  );
  if (replica.name === masterName) throw new Error(`${replica.name} is the master`);
  const master = nodeNamed(target, masterName);
  const masterAt = { host: master.host, port: master.port };
  const replicaAt = { host: replica.host, port: replica.port };
  const config = target.connection.renamedCommands.CONFIG || "CONFIG";
  const getReplTimeout = (at: Endpoint) =>
    onNode(target, at, async (c) =>
      Number(((await c.call(config, "GET", "repl-timeout")) as string[])[1]),
    );
  const setReplTimeout = (at: Endpoint, value: number) =>
    onNode(target, at, (c) => c.call(config, "SET", "repl-timeout", String(value)));
  const original = await getReplTimeout(masterAt);
  const timeoutS = options.replTimeoutS ?? original;
  const masterInfo = async () =>
    parseInfo(await onNode(target, masterAt, (c) => c.info("replication")));
  const syncs = async () => {
    const stats = parseInfo(await onNode(target, masterAt, (c) => c.info("stats")));
    return { partial: Number(stats.sync_partial_ok), full: Number(stats.sync_full) };
  };
  const db = target.connection.databases.flowCache;
  const client = new IORedis(ioredisOptions(target.connection, "app", db));
  client.on("error", () => undefined);
  try {
    if (options.replTimeoutS !== undefined)
      for (const at of [masterAt, replicaAt]) await setReplTimeout(at, options.replTimeoutS);
    await client.connect();
    const writer = startAcknowledgedWriter(client, `drill:replica-partition:${Date.now()}`);
    await until("a first acknowledged write", 10_000, async () =>
      writer.acknowledged.length > 0 ? true : undefined,
    );
    const others = [
      ...target.nodes.filter((n) => n.name !== replica.name).map((n) => n.name),
      ...target.sentinels,
    ];
    const before = writer.acknowledged.length;
    let linkDropped = false;
    let syncsBefore = { partial: 0, full: 0 };
    const offsetAtCut = Number((await masterInfo()).master_repl_offset);
    const cutAt = Date.now();
    try {
      partition(target.pods, [replica.name], others);
      log(`partition: ${replica.name} (replica) cut off from ${others.join(", ")}`);
      // Held until both ends gave up on the link: the master lists the replica no more, and the
      // replica reports its link down. Only then does the heal need a resynchronisation.
      await until(`both ends dropping ${replica.name}'s link`, (timeoutS + 20) * 1000, async () => {
        const listed = Object.values(await masterInfo()).some((v) =>
          v.includes(`ip=${replica.announced},`),
        );
        if (listed) return undefined;
        const own = parseInfo(await onNode(target, replicaAt, (c) => c.info("replication")));
        return own.master_link_status === "down" ? true : undefined;
      });
      linkDropped = true;
      syncsBefore = await syncs();
    } finally {
      heal(target.pods);
    }
    const healAt = Date.now();
    const writesWhileCut = writer.acknowledged.length - before;
    log(`healed; ${writesWhileCut} writes acknowledged by the other replicas meanwhile`);
    const masterOffset = Number((await masterInfo()).master_repl_offset);
    const cutMs = healAt - cutAt;
    await until(`${replica.name} catching up`, 60_000, async () => {
      const info = parseInfo(await onNode(target, replicaAt, (c) => c.info("replication")));
      return info.master_link_status === "up" &&
        Number(info.slave_repl_offset ?? info.master_repl_offset) >= masterOffset
        ? true
        : undefined;
    });
    const resyncMs = Date.now() - healAt;
    const syncsAfter = await syncs();
    log(`${replica.name} caught up ${(resyncMs / 1000).toFixed(1)} s after the heal`);
    const lost = await writer.stop();
    const held = await onNode(target, replicaAt, (c) => mgetAll(c, writer.acknowledged), db);
    return {
      replica: replica.name,
      writesWhileCut,
      linkDropped,
      cutMs,
      streamBytesWhileCut: masterOffset - offsetAtCut,
      partialResyncs: syncsAfter.partial - syncsBefore.partial,
      fullResyncs: syncsAfter.full - syncsBefore.full,
      resyncMs,
      missingOnReplica: held.filter((v) => v === null).length,
      acknowledged: writer.acknowledged.length,
      lost,
    };
  } finally {
    heal(target.pods);
    client.disconnect();
    if (options.replTimeoutS !== undefined)
      for (const at of [masterAt, replicaAt])
        await setReplTimeout(at, original).catch(() => undefined);
  }
}

/** The drill's lines. */
export function describeMasterPartition(r: MasterPartitionResult): string {
  const s = (ms: number | undefined) =>
    ms === undefined ? "never" : `${(ms / 1000).toFixed(1)} s`;
  return (
    `partition master (min-replicas-to-write ${r.minReplicasToWrite}, max-lag ${r.minReplicasMaxLagS} s): ` +
    `${r.master} refused writes after ${s(r.refusedAfterMs)}, failover to ${r.newMaster} after ${s(r.failoverMs)}, ` +
    `healed after ${s(r.partitionMs)}, one master ${s(r.oneMasterMs)} later; ` +
    `${r.acknowledgedLost} of ${r.acknowledged} acknowledged writes lost, ` +
    `${r.acceptedLost} of ${r.acceptedUnacknowledged} accepted-but-unacknowledged writes lost, ${r.refused} refused`
  );
}
