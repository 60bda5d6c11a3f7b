import { z } from "zod";
import { Invalid, KeySpec, KeyValues, checked, int, keyNames } from "./schemas";
import { parseMemory } from "./units";

/**
 * What one client may cost a node: the memory it may hold or make, and the commands whose single
 * call may hold the event loop for seconds. Every user of a node holds its password somewhere
 * (the exporter's is mounted in every pod, the sentinel client's is in the applications' Secret),
 * so these bounds apply to every normal and pub/sub connection, authenticated or not.
 *
 * Sizes, derived from the largest value a command may carry or make (`proto-max-bulk-len`,
 * "bulk" below, by default maxmemory / 32) and from `maxclients`:
 * - `client-query-buffer-limit` and `client-output-buffer-limit normal`: 2 x bulk. A client must
 *   be able to send or read the largest value, and one more behind it; a client that lets its
 *   replies pile up unread (a pipeline of INFO it never reads) is disconnected at that size.
 * - `client-output-buffer-limit pubsub`: 2 x bulk, or bulk / 2 for a minute (a slow subscriber).
 * - `maxmemory-clients`, all clients together: every connection slot at the most a small client
 *   holds (SMALL_CLIENT_BYTES), plus two clients at their limit. Past it Redis drops clients,
 *   largest first; but among the small ones it drops the oldest first, and those are the
 *   sentinels' and the applications' long-lived links. So the bound is never reached by small
 *   clients alone, however many connect: a connection flood (no password needed) must not make
 *   Redis cut the sentinels' links, which fails the master over.
 * Client memory counts towards maxmemory: under an `allkeys-*` policy clients push keys out
 * rather than grow the process; under `noeviction` and `volatile-*` (nothing may be left to
 * evict) they can stand maxmemory-clients above maxmemory, so the container's memory limit sets
 * it aside (`clientMemoryReserve`).
 */
export interface ClientLimits {
  /** `proto-max-bulk-len`: the largest string a command may carry or build (APPEND, MSET…). */
  readonly protoMaxBulkBytes: number;
  /** Query and output buffer limit of one normal or pub/sub client. */
  readonly clientBufferBytes: number;
  /** Pub/sub output buffer a subscriber may keep for a minute. */
  readonly pubsubSoftBytes: number;
  /** `maxmemory-clients`: every normal and pub/sub client together. */
  readonly maxmemoryClientsBytes: number;
}

const KB = 1024;
const MB = 1024 ** 2;
/** Redis refuses a proto-max-bulk-len or client-query-buffer-limit below 1mb. */
const MIN_BULK = MB;
/** The default largest value: maxmemory divided by this. */
const BULK_SHARE_OF_MAXMEMORY = 32;
/** The largest value one may configure: maxmemory divided by this. */
const MAX_BULK_SHARE_OF_MAXMEMORY = 16;
/**
 * The most a client holds while Redis counts it among the smallest (its first eviction bucket
 * ends at 32 KB): a new connection takes about 16 KB (its reply buffer), a busy one about 38 KB.
 */
export const SMALL_CLIENT_BYTES = 32 * KB;

/** The client limits of a node whose largest value is `protoMaxBulkBytes`. */
export function clientLimits(protoMaxBulkBytes: number, maxclients: number): ClientLimits {
  const clientBufferBytes = 2 * protoMaxBulkBytes;
  return {
    protoMaxBulkBytes,
    clientBufferBytes,
    pubsubSoftBytes: Math.max(MIN_BULK, Math.floor(protoMaxBulkBytes / 2)),
    maxmemoryClientsBytes: maxclients * SMALL_CLIENT_BYTES + 2 * clientBufferBytes,
  };
}

/**
 * What a node's memory limit sets aside for its clients, beside maxmemory: under an `allkeys-*`
 * policy what one command can add before the next eviction (two clients' buffers), and what the
 * clients may hold beyond maxmemory when there is nothing left to evict; under any other policy
 * all of maxmemory-clients.
 */
export function clientMemoryReserve(
  limits: ClientLimits,
  maxmemoryBytes: number,
  maxmemoryPolicy: string,
): number {
  if (!maxmemoryPolicy.startsWith("allkeys-")) return limits.maxmemoryClientsBytes;
  return Math.max(0, limits.maxmemoryClientsBytes - maxmemoryBytes) + 2 * limits.clientBufferBytes;
}

/** The default largest value for a maxmemory: a thirty-second of it in whole mb, at least 1mb. */
export function defaultProtoMaxBulkBytes(maxmemoryBytes: number): number {
  return Math.max(MIN_BULK, Math.floor(maxmemoryBytes / BULK_SHARE_OF_MAXMEMORY / MB) * MB);
}

/** A Redis size in the unit it reads best: whole mb or kb where it is one, else bytes. */
export function redisSize(bytes: number): string {
  if (bytes % MB === 0) return `${bytes / MB}mb`;
  return bytes % KB === 0 ? `${bytes / KB}kb` : String(bytes);
}

/**
 * A sentinel's client slots: its clients are the other sentinels, the exporter, and the
 * applications' lookups, which connect, ask and leave (a few milliseconds each).
 */
export const SENTINEL_MAXCLIENTS = 256;

/**
 * Sentinels hold no data; their container limit must hold the process (about 12 MB) and its
 * clients. A sentinel's answers are a few kilobytes, so a client gets Redis's smallest buffers
 * (1mb), and all of them together their slots at a small client's size plus two at their limit.
 */
export const SENTINEL_CLIENT_LIMITS: ClientLimits = {
  protoMaxBulkBytes: MIN_BULK,
  clientBufferBytes: MIN_BULK,
  pubsubSoftBytes: MIN_BULK,
  maxmemoryClientsBytes: SENTINEL_MAXCLIENTS * SMALL_CLIENT_BYTES + 2 * MIN_BULK,
};

/** The directives of clientLimitLines, as an extended regular expression of their line starts. */
export const CLIENT_LIMIT_DIRECTIVES =
  "^(maxclients|proto-max-bulk-len|client-query-buffer-limit|client-output-buffer-limit|maxmemory-clients) ";

/** The redis.conf / sentinel.conf lines of these limits. */
export function clientLimitLines(limits: ClientLimits): string[] {
  const buffer = redisSize(limits.clientBufferBytes);
  return [
    `proto-max-bulk-len ${redisSize(limits.protoMaxBulkBytes)}`,
    `client-query-buffer-limit ${buffer}`,
    `client-output-buffer-limit normal ${buffer} 0 0`,
    `client-output-buffer-limit pubsub ${buffer} ${redisSize(limits.pubsubSoftBytes)} 60`,
    `maxmemory-clients ${redisSize(limits.maxmemoryClientsBytes)}`,
  ];
}

/**
 * Commands withheld from the `app` user by default. Each either makes far more memory than the
 * call carries (a transaction of them is not bounded by any client limit, and can take a node past
 * its memory limit or evict the dataset), or computes over several whole keys in one step, which
 * on large keys holds the event loop for seconds (a node that holds it past
 * down-after-milliseconds is failed over, losing the writes it replied to but had not yet sent to
 * a replica). None of them serves the platform's use cases; a team that needs one removes it from
 * `appDeniedCommands`. Reads of one large key (SMEMBERS, HGETALL, SCAN with a large COUNT) cost as
 * much per call and stay: docs/security.md says what bounds them and what does not.
 */
export const COSTLY_COMMANDS = {
  setrange:
    "writes at any offset up to proto-max-bulk-len: a call of a few bytes makes a value of that size",
  setbit: "sets a bit at any offset up to 8 x proto-max-bulk-len: the same",
  bitfield: "its SET and INCRBY write at any offset: the same (BITFIELD_RO stays)",
  copy: "duplicates a key of any size in one step",
  watch:
    "checks each key named against every key the client already watches: one WATCH of 35,000 keys held a node for 11 s, and watched names are not counted as the client's memory",
  pfcount:
    "merges 12 KB of registers per key named: one call naming a key 200,000 times held a node for 7.6 s",
  pfmerge: "the same merge, into a new key",
  sunion: "set union: reads every member of every set named",
  sinter: "set intersection: up to the size of the smallest set times the number of sets",
  sdiff: "set difference: reads every member of every set named",
  sunionstore: "set union into a new key: reads and copies every member",
  sinterstore: "set intersection into a new key",
  sdiffstore: "set difference into a new key",
  sintercard: "size of a set intersection: the intersection's work without its reply",
  zunion: "sorted-set union: reads and sorts every member",
  zinter: "sorted-set intersection",
  zdiff: "sorted-set difference",
  zunionstore: "sorted-set union into a new key",
  zinterstore: "sorted-set intersection into a new key",
  zdiffstore: "sorted-set difference into a new key",
  zintercard: "size of a sorted-set intersection",
  zrangestore: "copies a range of any length into a new key",
  georadius: "its STORE option copies any number of members into a new key (GEORADIUS_RO stays)",
  georadiusbymember:
    "its STORE option copies any number of members into a new key (GEORADIUSBYMEMBER_RO stays)",
  geosearchstore: "copies any number of members into a new key (GEOSEARCH stays)",
  bitop: "bitwise operation over strings of up to proto-max-bulk-len each, into a new key",
} as const;

export type CostlyCommand = keyof typeof COSTLY_COMMANDS;
const COSTLY_NAMES = keyNames(COSTLY_COMMANDS);

const DENIED_ALLOWED = `must be a list of commands, each once, from: ${COSTLY_NAMES.join(", ")} ([] withholds none)`;
const PROTO_ALLOWED = `must be "" (maxmemory / ${BULK_SHARE_OF_MAXMEMORY}) or a memory size such as "16mb", from 1mb to a ${MAX_BULK_SHARE_OF_MAXMEMORY}th of maxmemory`;

/** The keys of the client connections: how many, what each may cost, how often a quiet one is probed. */
export const CLIENT_LIMIT_KEYS = {
  maxclients: {
    type: "integer",
    description: "Maximum client connections.",
    default: 10000,
    schema: int(1, 100000),
  },
  protoMaxBulkLen: {
    type: "string",
    description: `Largest value a command may carry or build (proto-max-bulk-len); "" = maxmemory / ${BULK_SHARE_OF_MAXMEMORY}. Each client may hold twice it in its query and in its output buffer.`,
    default: "",
    schema: checked(PROTO_ALLOWED, (v) =>
      v === "" || parseMemory(v) !== undefined ? undefined : PROTO_ALLOWED,
    ),
  },
  appDeniedCommands: {
    type: "array",
    description:
      "Commands withheld from the app user: one short call makes a value far larger than itself (SETRANGE, SETBIT, BITFIELD, COPY) or computes over several whole keys (WATCH, PFCOUNT, set algebra, *STORE, BITOP); [] = none.",
    default: [...COSTLY_NAMES],
    schema: z
      .array(z.enum(COSTLY_NAMES, { error: DENIED_ALLOWED }), { error: DENIED_ALLOWED })
      .refine((list) => new Set(list).size === list.length, { error: DENIED_ALLOWED }),
  },
  tcpKeepalive: {
    type: "integer",
    description: "TCP keepalive in seconds (0 = off).",
    default: 300,
    schema: int(0, 7200),
  },
} as const satisfies Record<string, KeySpec>;

/** The limits of one client on a node of `maxmemoryBytes`: proto-max-bulk-len within its bounds. */
export function resolveClientLimits(
  values: KeyValues<typeof CLIENT_LIMIT_KEYS>,
  context: {
    readonly maxmemoryBytes: number;
    readonly maxmemory: string;
  },
  invalid: Invalid,
): { limits: ClientLimits; appDeniedCommands: readonly CostlyCommand[]; problems: string[] } {
  const problems: string[] = [];
  const given = values.protoMaxBulkLen;
  const largest = Math.max(
    MIN_BULK,
    Math.floor(context.maxmemoryBytes / MAX_BULK_SHARE_OF_MAXMEMORY / MB) * MB,
  );
  let bulk = defaultProtoMaxBulkBytes(context.maxmemoryBytes);
  if (given !== "") {
    bulk = parseMemory(given) ?? 0;
    if (bulk < MIN_BULK || bulk > largest)
      problems.push(
        invalid(
          "protoMaxBulkLen",
          given,
          `must be from 1mb to ${redisSize(largest)}, a ${MAX_BULK_SHARE_OF_MAXMEMORY}th of lowcode-redis:maxmemory "${context.maxmemory}": each client may hold twice it in its query and in its output buffer, inside maxmemory`,
        ),
      );
  }
  return {
    limits: clientLimits(bulk, values.maxclients),
    appDeniedCommands: values.appDeniedCommands,
    problems,
  };
}
