import {
  ClientLimits,
  CLIENT_LIMIT_KEYS,
  CostlyCommand,
  clientLimits,
  clientMemoryReserve,
  defaultProtoMaxBulkBytes,
  resolveClientLimits,
} from "./client-limits";
import {
  Invalid,
  KeySpec,
  KeyValues,
  MI,
  NAMESPACE,
  TI,
  checked,
  int,
  memory,
  oneOf,
  quantity,
} from "./schemas";
import { exactQuantity, parseMemory, toMebibytes, wholeQuantity } from "./units";

/**
 * The keys of a node's memory and resources, and how its memory limit is sized: it holds the
 * dataset, the clients, the replication buffers and the headroom of a fork.
 */

const MEMORY_LIMIT_FORMAT =
  'must be "" (derived from maxmemory) or a Kubernetes quantity such as "768Mi"';

const MIB = 1024 ** 2;
const MIN_BACKLOG = MIB;
const MAX_BACKLOG = 16 * 1024 * MIB;
const BACKLOG_ALLOWED =
  'must be "" (derived) or a memory size of whole mb from 1mb to 16gb, such as "32mb"';

/**
 * The default backlog holds a minute of the replication stream of a busy client, with margin:
 * `npm run bench -- --only replica-cut` (one client writing SET + WAIT 1 without pause through the
 * sentinels, the stream counted on the master as master_repl_offset growth) measured from 37 to
 * 270 KiB/s, by the machine's load (17.1 MB in a 61.8 s cut at most). A replica whose link is back
 * within BACKLOG_SECONDS (the default repl-timeout is 60 s) then resyncs partially:
 * 60 s x 272 KiB/s = 15.9 MiB, twice that for margin, 32mb as a whole power of two (two minutes
 * at that rate). A node smaller than that keeps a quarter of maxmemory: a full sync of its dataset
 * costs little.
 */
export const REFERENCE_STREAM_BYTES_PER_S = 272 * 1024;
export const BACKLOG_SECONDS = 60;
const BACKLOG_MARGIN = 2;

/** The default `repl-backlog-size` of a node of `maxmemoryBytes`, in mb. */
export function defaultBacklogMb(maxmemoryBytes: number): number {
  const wanted = (REFERENCE_STREAM_BYTES_PER_S * BACKLOG_SECONDS * BACKLOG_MARGIN) / MIB;
  const powerOfTwo = 2 ** Math.ceil(Math.log2(wanted));
  return Math.max(1, Math.min(powerOfTwo, Math.floor(maxmemoryBytes / 4 / MIB)));
}

export const MEMORY_KEYS = {
  maxmemory: {
    type: "string",
    description: "Redis maxmemory.",
    default: "384mb",
    schema: memory("memory size"),
  },
  maxmemoryPolicy: {
    type: "string",
    description: "Eviction policy when maxmemory is reached.",
    default: "allkeys-lru",
    schema: oneOf([
      "allkeys-lru",
      "allkeys-lfu",
      "allkeys-random",
      "volatile-lru",
      "volatile-lfu",
      "volatile-random",
      "volatile-ttl",
      "noeviction",
    ]),
  },
  maxmemorySamples: {
    type: "integer",
    description: "Keys sampled per eviction.",
    default: 5,
    schema: int(1, 64),
  },
  memoryLimit: {
    type: "string",
    description:
      'Container memory limit; "" = maxmemory x 2 (fork headroom for BGSAVE, AOF rewrite and full syncs), plus maxmemory-clients, plus the replication buffers in a sentinel group.',
    default: "",
    schema: checked(MEMORY_LIMIT_FORMAT, (v) => {
      if (v === "") return undefined;
      if (exactQuantity(v) === undefined) return MEMORY_LIMIT_FORMAT;
      const bytes = wholeQuantity(v);
      return bytes === undefined || bytes < MI || bytes > TI
        ? 'must be "" (derived from maxmemory) or whole bytes from 1Mi to 1Ti, such as "768Mi"'
        : undefined;
    }),
  },
  replBacklogSize: {
    type: "string",
    description:
      'Sentinel group: repl-backlog-size of each node, the writes a replica whose link broke resyncs from instead of a full sync; "" = a minute of a busy client\'s writes with margin (32mb), at most a quarter of maxmemory.',
    default: "",
    schema: checked(BACKLOG_ALLOWED, (v) => {
      if (v === "") return undefined;
      const bytes = parseMemory(v);
      if (bytes === undefined) return BACKLOG_ALLOWED;
      return bytes < MIN_BACKLOG || bytes > MAX_BACKLOG || bytes % MIB !== 0
        ? BACKLOG_ALLOWED
        : undefined;
    }),
  },
  cpuRequest: {
    type: "string",
    description: "CPU request of each Redis container.",
    default: "100m",
    schema: quantity("100m", {
      min: 1n,
      max: 64_000n,
      perUnit: 1000n,
      allowed: 'must be whole millicores from 1m to 64 CPUs, such as "100m", "0.5" or "2"',
    }),
  },
} as const satisfies Record<string, KeySpec>;

const MIN_MAXMEMORY = 1024 ** 2;
const MAX_MAXMEMORY = 64 * 1024 ** 3;

/**
 * What a Redis container holds at its peak, and so what its memory limit must cover:
 *
 *   memoryLimit >= maxmemory + fork headroom + maxmemory-clients
 *                  + (nodes - 1) x replica buffer + backlog
 *
 * - maxmemory: the dataset.
 * - Fork headroom: BGSAVE, AOF rewrite and a replica's full sync fork a child that shares every
 *   page with Redis until Redis writes to it (copy-on-write): each page written while the child
 *   runs exists twice, at worst the whole dataset. The default limit gives maxmemory; a limit set
 *   in the config must give at least FORK_HEADROOM of what the buffers leave (a third of
 *   maxmemory).
 * - Replica buffer: from the fork of a full sync until the replica has loaded the snapshot, the
 *   master keeps the writes for that replica in its output buffer, outside maxmemory (evicting
 *   for it would only feed it). `client-output-buffer-limit replica` disconnects a replica past
 *   the hard limit, so the hard limit bounds it. Redis's default, 256mb whatever the dataset, is
 *   more than a small node's dataset and too little for a large one, whose sync takes longer:
 *   the hard limit is a quarter of maxmemory (whole mb), the soft limit half of that for 60 s.
 * - Backlog: `repl-backlog-size` (`replBacklogSize`; by default a minute of a busy client's
 *   writes, see defaultBacklogMb). Every node keeps one once it has had a replica, replicas too
 *   (a promoted replica serves its backlog to the others).
 * - Clients: `maxmemory-clients` (config/client-limits.ts). Client buffers count towards
 *   maxmemory, so with an eviction policy they push keys out rather than grow the process; under
 *   `noeviction`, or within the command that grows them, they can stand above maxmemory, by at
 *   most this much.
 * Redis 7 keeps the backlog and the replicas' buffers in one shared replication buffer, so the
 * real peak is nearer one buffer than the sum; the sum bounds it without relying on that.
 * A standalone server has no replicas: its limit is maxmemory and the fork headroom.
 */
export interface ReplicationBuffers {
  /** `client-output-buffer-limit replica <hard> <soft> <seconds>`, in mb. */
  readonly replicaHardMb: number;
  readonly replicaSoftMb: number;
  readonly replicaSoftSeconds: number;
  /** `repl-backlog-size`, in mb. */
  readonly backlogMb: number;
  /** What the memory limit sets aside for them: (nodes - 1) x hard + backlog; 0 standalone. */
  readonly reservedBytes: number;
}

/** Share of the memory limit, after the replication buffers, kept free for copy-on-write. */
export const FORK_HEADROOM = 0.25;

/**
 * The replication buffers of a node with `maxmemoryBytes` in a group of `nodes` (1: standalone),
 * with a backlog of `backlogSetting` ("" or unset: the default for its maxmemory).
 */
export function replicationBuffers(
  maxmemoryBytes: number,
  nodes: number,
  backlogSetting = "",
): ReplicationBuffers {
  const replicaHardMb = Math.max(1, Math.ceil(maxmemoryBytes / 4 / MIB));
  const backlogMb =
    backlogSetting === ""
      ? defaultBacklogMb(maxmemoryBytes)
      : Math.ceil((parseMemory(backlogSetting) ?? MIB) / MIB);
  return {
    replicaHardMb,
    replicaSoftMb: Math.ceil(replicaHardMb / 2),
    replicaSoftSeconds: 60,
    backlogMb,
    reservedBytes: nodes > 1 ? ((nodes - 1) * replicaHardMb + backlogMb) * MIB : 0,
  };
}

/**
 * What the memory limit sets aside beside maxmemory and the fork headroom, for a node of
 * `maxmemoryBytes`: the replication buffers and the clients' memory.
 */
type ReservedFor = (maxmemoryBytes: number) => number;

/** The reserve of a group of `nodes` whose clients' bound is `clientsBytes(maxmemory)`. */
function reserveOf(
  nodes: number,
  backlogSetting: string,
  clientsBytes: (maxmemoryBytes: number) => number,
): ReservedFor {
  return (maxmemoryBytes) =>
    replicationBuffers(maxmemoryBytes, nodes, backlogSetting).reservedBytes +
    clientsBytes(maxmemoryBytes);
}

/** Whether maxmemory, its reserve and the fork headroom fit in the limit. */
function fitsMemoryLimit(maxmemoryBytes: number, reserved: ReservedFor, limitBytes: number) {
  return maxmemoryBytes <= (limitBytes - reserved(maxmemoryBytes)) * (1 - FORK_HEADROOM);
}

/** The largest maxmemory in whole mb that fits in the limit (0 when none does). */
function largestFittingMaxmemoryMb(reserved: ReservedFor, limitBytes: number): number {
  // The reserve grows with maxmemory: start from the limit's share and step down to the edge.
  let mb = Math.max(0, Math.floor((limitBytes / MIB) * (1 - FORK_HEADROOM)));
  while (mb > 0 && !fitsMemoryLimit(mb * MIB, reserved, limitBytes)) mb--;
  return mb;
}

/** What the memory limit and the client limits come to for one node. */
export interface MemorySizing {
  readonly maxmemoryBytes: number;
  readonly replicationBuffers: ReplicationBuffers;
  readonly clients: ClientLimits;
  readonly appDeniedCommands: readonly CostlyCommand[];
  readonly memoryLimit: string;
  readonly memoryLimitBytes: number;
}

type MemoryValues = KeyValues<typeof MEMORY_KEYS> & KeyValues<typeof CLIENT_LIMIT_KEYS>;

/**
 * Sizes a node of a group of `nodes` (1: standalone): maxmemory within bounds, the client limits,
 * and a memory limit that holds maxmemory, the replication buffers, the clients' memory and the
 * fork headroom (see ReplicationBuffers).
 */
export function resolveMemory(
  values: MemoryValues,
  context: { readonly nodes: number },
  invalid: Invalid,
): { memory: MemorySizing; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const { nodes } = context;
  const maxmemoryBytes = parseMemory(values.maxmemory) ?? 0;
  if (maxmemoryBytes < MIN_MAXMEMORY || maxmemoryBytes > MAX_MAXMEMORY) {
    problems.push(invalid("maxmemory", values.maxmemory, "must be between 1mb and 64gb"));
  }
  const clients = resolveClientLimits(
    values,
    { maxmemoryBytes, maxmemory: values.maxmemory },
    invalid,
  );
  problems.push(...clients.problems);
  const clientsBytes = (m: number) =>
    clientMemoryReserve(
      values.protoMaxBulkLen === ""
        ? clientLimits(defaultProtoMaxBulkBytes(m), values.maxclients)
        : clients.limits,
      m,
      values.maxmemoryPolicy,
    );
  const reserved = reserveOf(nodes, values.replBacklogSize, clientsBytes);
  const buffers = replicationBuffers(maxmemoryBytes, nodes, values.replBacklogSize);
  const memoryLimit =
    values.memoryLimit === ""
      ? toMebibytes(maxmemoryBytes * 2 + reserved(maxmemoryBytes))
      : values.memoryLimit;
  const memoryLimitBytes = Number(wholeQuantity(memoryLimit));
  if (!fitsMemoryLimit(maxmemoryBytes, reserved, memoryLimitBytes)) {
    const limit = `${NAMESPACE}:memoryLimit "${memoryLimit}"`;
    const atMost = `at most ${largestFittingMaxmemoryMb(reserved, memoryLimitBytes)}mb`;
    const percent = FORK_HEADROOM * 100;
    const clientsMb = `${toMebibytes(clientsBytes(maxmemoryBytes)).replace("Mi", "mb")} for the clients`;
    const aside =
      nodes === 1
        ? clientsMb
        : `${clientsMb} and ${buffers.reservedBytes / MIB}mb of replication buffers (${nodes - 1} replicas x ${buffers.replicaHardMb}mb, a quarter of maxmemory, + ${buffers.backlogMb}mb backlog)`;
    problems.push(
      invalid(
        "maxmemory",
        values.maxmemory,
        `must leave, after ${aside}, ${percent}% of the rest of ${limit} free for forks (${atMost})`,
      ),
    );
  }
  const warnings = values.maxmemoryPolicy.startsWith("allkeys-")
    ? [
        `${NAMESPACE}:maxmemoryPolicy ${values.maxmemoryPolicy} may evict keys that have no TTL (flow:queue, ui:themes) when memory is full; keep such data small or use a volatile-* policy.`,
      ]
    : [];
  return {
    memory: {
      maxmemoryBytes,
      replicationBuffers: buffers,
      clients: clients.limits,
      appDeniedCommands: clients.appDeniedCommands,
      memoryLimit,
      memoryLimitBytes,
    },
    problems,
    warnings,
  };
}
