import * as fs from "node:fs";
import * as path from "node:path";
import IORedis from "ioredis";
import { ioredisOptions } from "../../render/client-options";
import { ConnectionInfo } from "../../render/connection";
import { parseInfo, sentinelClient, withAdmin } from "../../lib/redis-clients";
import { CONNECTION_FILE, readProcesses } from "../contract";
import { requestRecreate } from "../control";
import { nodeAt } from "../process-list";
import { RecreateEvent, RecreateOptions, RecreateResult } from "../recreate";
import { Sandbox } from "../sandbox";
import { masterEpoch, startAcknowledgedWriter } from "./drill";
import { currentMaster } from "./failover";

/**
 * The recreate-pod drill on a pods-mode sandbox: a pod of a node or a sentinel deleted and created
 * again at a new address (sandbox/recreate.ts), optionally gone for a while first, while a client
 * writes through the sentinels with WAIT 1. Then: does the group settle (every sentinel names one
 * master, which has every replica linked; each sentinel lists every replica and every other
 * sentinel and none of them down: no stale entry for the old address), did it fail over when it
 * should, did the recreated node rejoin as a replica, and is every acknowledged write still there.
 */

/** A process of the group as the drill sees it: where this host reaches it, how the group names it. */
interface Member {
  readonly name: string;
  readonly kind: "redis" | "sentinel";
  readonly host: string;
  readonly announced: string;
  readonly port: number;
  /** The pod's name in the cluster (`lowcode-redis-0`). */
  readonly podName: string;
}

/** What the drill acts on; both functions read the sandbox's current state. */
export interface RecreateTarget {
  members(): readonly Member[];
  connection(): ConnectionInfo;
  recreate(
    pod: string,
    options: RecreateOptions,
    onEvent: (e: RecreateEvent) => void,
  ): Promise<RecreateResult>;
}

/** A pods-mode sandbox of this process. */
export function sandboxRecreateTarget(sandbox: Sandbox): RecreateTarget {
  const recreate = sandbox.recreatePod;
  if (!recreate) throw new Error("recreate-pod needs a pods-mode sandbox (--isolation pods)");
  return {
    members: () =>
      [...sandbox.nodes, ...sandbox.sentinels].map((p) => ({
        ...p,
        podName: sandbox.pods?.get(p.name)?.podName ?? p.name,
      })),
    connection: () => sandbox.connection,
    recreate,
  };
}

/** The pods-mode sandbox running in `dir` (another process), through its control socket. */
export function runningRecreateTarget(dir: string): RecreateTarget {
  const control = readProcesses(dir).pods?.control;
  if (!control)
    throw new Error(
      `the sandbox of ${dir} does not run in pods mode: recreate-pod needs --isolation pods`,
    );
  return {
    members: () =>
      readProcesses(dir).processes.map((p) => ({ ...p, podName: p.env.HOSTNAME ?? p.name })),
    connection: () =>
      JSON.parse(fs.readFileSync(path.join(dir, CONNECTION_FILE), "utf8")) as ConnectionInfo,
    recreate: (pod, options, onEvent) => requestRecreate(control, { pod, ...options }, onEvent),
  };
}

/** One sentinel's view of the group. */
interface SentinelView {
  readonly sentinel: string;
  /** The master it names (a member's name, or the address it gave). */
  readonly master?: string;
  /** The replicas and the other sentinels it lists, each `name flags`. */
  readonly replicas: readonly string[];
  readonly peers: readonly string[];
}

/** `[k1, v1, k2, v2…]` -> a record. */
const fieldsOf = (reply: string[]) =>
  Object.fromEntries(reply.flatMap((v, i) => (i % 2 === 0 ? [[v, reply[i + 1]]] : [])));

async function viewOf(
  connection: ConnectionInfo,
  members: readonly Member[],
  sentinel: Member,
): Promise<SentinelView> {
  const client = sentinelClient(connection, sentinel, {
    commandTimeout: 2000,
    connectTimeout: 1000,
  });
  const name = (host: string, port: string) =>
    nodeAt(members, { host, port: Number(port) })?.name ?? `${host}:${port}`;
  const entries = (reply: string[][]) =>
    reply.map(fieldsOf).map((f) => `${name(f.ip, f.port)} ${f.flags}`);
  try {
    await client.connect();
    const master = fieldsOf(
      (await client.call("SENTINEL", "MASTER", connection.masterName)) as string[],
    );
    return {
      sentinel: sentinel.name,
      master: name(master.ip, master.port),
      replicas: entries(
        (await client.call("SENTINEL", "REPLICAS", connection.masterName)) as string[][],
      ),
      peers: entries(
        (await client.call("SENTINEL", "SENTINELS", connection.masterName)) as string[][],
      ),
    };
  } catch {
    return { sentinel: sentinel.name, replicas: [], peers: [] };
  } finally {
    client.disconnect();
  }
}

/**
 * What is wrong with the group now, or [] when it is whole: every sentinel answers and names one
 * master, which serves as master with every other node linked; each sentinel lists exactly the
 * other nodes as replicas and the other sentinels as peers, none flagged down or disconnected.
 */
export async function groupProblems(target: RecreateTarget): Promise<string[]> {
  const members = target.members();
  const connection = target.connection();
  const nodes = members.filter((m) => m.kind === "redis");
  const sentinels = members.filter((m) => m.kind === "sentinel");
  const views = await Promise.all(sentinels.map((s) => viewOf(connection, members, s)));
  const problems: string[] = [];
  const master = views[0]?.master;
  for (const v of views) {
    if (!v.master) problems.push(`${v.sentinel} does not answer`);
    else if (v.master !== master) problems.push(`${v.sentinel} names ${v.master}, not ${master}`);
    const want = (names: string[], flag: string) =>
      names
        .map((n) => `${n} ${flag}`)
        .sort()
        .join(", ");
    const replicas = want(
      nodes.map((n) => n.name).filter((n) => n !== v.master),
      "slave",
    );
    const peers = want(
      sentinels.map((s) => s.name).filter((s) => s !== v.sentinel),
      "sentinel",
    );
    if ([...v.replicas].sort().join(", ") !== replicas)
      problems.push(`${v.sentinel} lists replicas ${v.replicas.join(", ") || "none"}`);
    if ([...v.peers].sort().join(", ") !== peers)
      problems.push(`${v.sentinel} lists sentinels ${v.peers.join(", ") || "none"}`);
  }
  const node = nodes.find((n) => n.name === master);
  if (node) {
    const info = await withAdmin(connection, node, (c) => c.info("replication"))
      .then(parseInfo)
      .catch(() => ({}) as Record<string, string>);
    if (info.role !== "master" || Number(info.connected_slaves) !== nodes.length - 1)
      problems.push(
        `${node.name} reports role ${info.role}, ${info.connected_slaves} replicas linked`,
      );
  }
  return problems;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `groupProblems` until there are none; the last problems when `timeoutMs` ran out. */
async function settle(target: RecreateTarget, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problems = await groupProblems(target);
    if (problems.length === 0 || Date.now() > deadline) return problems;
    await sleep(250);
  }
}

/** The member `pod` names: a sandbox name (`redis-0`), a pod name (`lowcode-redis-0`) or `master`. */
async function resolvePod(target: RecreateTarget, pod: string): Promise<Member> {
  const members = target.members();
  if (pod === "master") {
    const at = await currentMaster(target.connection());
    const master = nodeAt(
      members.filter((m) => m.kind === "redis"),
      at,
    );
    if (!master)
      throw new Error(`the sentinels name ${at.host}:${at.port}, no node of the sandbox`);
    return master;
  }
  const member = members.find((m) => m.name === pod || m.podName === pod);
  if (!member)
    throw new Error(
      `no pod ${pod}: the pods are ${members.map((m) => `${m.name} (${m.podName})`).join(", ")}, or master`,
    );
  return member;
}

export interface RecreatePodResult extends RecreateResult {
  readonly kind: "redis" | "sentinel";
  readonly wasMaster: boolean;
  readonly masterBefore: string;
  readonly masterAfter?: string;
  readonly epochBefore: number;
  readonly epochAfter: number;
  /** A failover was due: the master deleted with its hook, or gone longer than down-after. */
  readonly failoverExpected: boolean;
  /** The recreated node's role once the group settled ("slave": it rejoined as a replica). */
  readonly roleAfter?: string;
  /** From the new pod serving to a whole group; what was still wrong if it never was. */
  readonly settleMs: number;
  readonly problems: readonly string[];
  /** connection.json lists the new address and no longer the old one. */
  readonly contractFollows: boolean;
  /** The longest time between two acknowledged writes, the recreation inside it. */
  readonly outageMs: number;
  readonly acknowledged: number;
  readonly lost: number;
}

export interface RecreatePodOptions extends RecreateOptions {
  /** How long the group may take to settle after the new pod serves. Default 60 s. */
  readonly settleTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** The recreated node's role as it reports it at its new address. */
async function roleOf(target: RecreateTarget, member: Member, ip: string): Promise<string> {
  return withAdmin(target.connection(), { host: ip, port: member.port }, (c) =>
    c.info("replication"),
  )
    .then((info) => parseInfo(info).role ?? "none")
    .catch((err: Error) => `unreachable (${err.message})`);
}

/** Deletes and recreates `pod` while writing, and checks the group afterwards (see above). */
export async function recreatePodDrill(
  target: RecreateTarget,
  pod: string,
  options: RecreatePodOptions = {},
): Promise<RecreatePodResult> {
  const log = options.log ?? (() => undefined);
  const before = await settle(target, options.settleTimeoutMs ?? 60_000);
  if (before.length > 0)
    throw new Error(`the group is not whole before the drill: ${before.join("; ")}`);
  const member = await resolvePod(target, pod);
  const connection = target.connection();
  const members = target.members();
  const masterBefore = nodeAt(members, await currentMaster(connection))!.name;
  const epochBefore = await masterEpoch(connection);
  const client = new IORedis(ioredisOptions(connection, "app", connection.databases.flowCache));
  client.on("error", () => undefined);
  try {
    await client.connect();
    const writer = startAcknowledgedWriter(client, `drill:recreate-pod:${Date.now()}`);
    const t0 = Date.now();
    const recreated = await target.recreate(
      member.name,
      { goneMs: options.goneMs, preStop: options.preStop },
      (e) =>
        log(
          `${((e.at - t0) / 1000).toFixed(1)} s: ${member.name} ${e.event}${e.ip ? ` (${e.ip})` : ""}${e.detail ? `: ${e.detail}` : ""}`,
        ),
    );
    const problems = await settle(target, options.settleTimeoutMs ?? 60_000);
    const settleMs = Date.now() - recreated.readyAt;
    log(
      problems.length === 0
        ? `group whole ${(settleMs / 1000).toFixed(1)} s after the new pod served`
        : `group NOT whole: ${problems.join("; ")}`,
    );
    const lost = await writer.stop();
    const after = target.connection();
    const listed = [...after.redis, ...after.sentinels].map((e) => e.host);
    const masterAt = await currentMaster(after).catch(() => undefined);
    const downAfterMs = await downAfterOf(after);
    return {
      ...recreated,
      kind: member.kind,
      wasMaster: member.name === masterBefore,
      masterBefore,
      masterAfter: masterAt && nodeAt(target.members(), masterAt)?.name,
      epochBefore,
      epochAfter: await masterEpoch(after),
      failoverExpected:
        member.name === masterBefore &&
        (options.preStop !== false || (options.goneMs ?? 0) > downAfterMs),
      roleAfter:
        member.kind === "redis" ? await roleOf(target, member, recreated.newIp) : undefined,
      settleMs,
      problems,
      contractFollows: listed.includes(recreated.newIp) && !listed.includes(recreated.oldIp),
      outageMs: writer.longestPauseMs(),
      acknowledged: writer.acknowledged.length,
      lost,
    };
  } finally {
    client.disconnect();
  }
}

/** The sentinels' down-after-milliseconds for the master (the first that answers). */
async function downAfterOf(connection: ConnectionInfo): Promise<number> {
  for (const s of connection.sentinels) {
    const client = sentinelClient(connection, s, { commandTimeout: 2000 });
    try {
      await client.connect();
      const f = fieldsOf(
        (await client.call("SENTINEL", "MASTER", connection.masterName)) as string[],
      );
      return Number(f["down-after-milliseconds"]);
    } catch {
      // the next one
    } finally {
      client.disconnect();
    }
  }
  return Infinity;
}

/** What went wrong, or [] when the drill passed. */
export function recreateFailures(r: RecreatePodResult): string[] {
  const failures: string[] = [];
  if (r.lost > 0) failures.push(`${r.lost} acknowledged writes lost`);
  if (r.problems.length > 0) failures.push(`the group did not settle: ${r.problems.join("; ")}`);
  if (!r.contractFollows) failures.push("connection.json does not follow the new address");
  const failedOver = r.epochAfter !== r.epochBefore || r.masterAfter !== r.masterBefore;
  if (r.failoverExpected && !failedOver) failures.push("no failover");
  if (!r.wasMaster && failedOver)
    failures.push(`a failover (${r.masterBefore} -> ${r.masterAfter})`);
  if (r.kind === "redis" && r.failoverExpected && r.roleAfter !== "slave")
    failures.push(`${r.pod} did not rejoin as a replica (role ${r.roleAfter})`);
  return failures;
}

/** The drill's summary line. */
export function describeRecreatePod(r: RecreatePodResult): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const failedOver = r.epochAfter !== r.epochBefore;
  return (
    `recreate-pod ${r.pod}${r.wasMaster ? " (master)" : ""}: ${r.oldIp} -> ${r.newIp}, ` +
    `gone ${s(r.createdAt - r.deletedAt)}, serving ${s(r.readyAt - r.createdAt)} after its creation` +
    `${r.roleAfter ? ` as ${r.roleAfter === "slave" ? "a replica" : r.roleAfter}` : ""}; ` +
    `${failedOver ? `failover ${r.masterBefore} -> ${r.masterAfter} (epoch ${r.epochBefore} -> ${r.epochAfter})` : `no failover (${r.masterAfter})`}; ` +
    `group whole ${r.problems.length === 0 ? `${s(r.settleMs)} after` : "NEVER"}; ` +
    `longest write pause ${s(r.outageMs)}; ${r.lost} of ${r.acknowledged} acknowledged writes lost`
  );
}
