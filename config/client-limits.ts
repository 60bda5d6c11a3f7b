import { z } from "zod";
import { KeySpec, checked } from "./schemas";
import { parseMemory } from "./units";

/**
 * What one client may cost a node: the memory it may hold or make, and the commands whose single
 * call may hold the event loop for seconds. Every user of a node holds its password somewhere
 * (the exporter's is mounted in every pod, the sentinel client's is in the applications' Secret),
 * so these bounds apply to every normal and pub/sub connection, authenticated or not.
 *
 * Sizes, all derived from one number, the largest value a command may carry or make
 * (`proto-max-bulk-len`, "bulk" below), by default maxmemory / 32:
 * - `client-query-buffer-limit` and `client-output-buffer-limit normal`: 2 x bulk. A client must
 *   be able to send or read the largest value, and one more behind it; a client that lets its
 *   replies pile up unread (a pipeline of INFO it never reads) is disconnected at that size.
 * - `client-output-buffer-limit pubsub`: 2 x bulk, or bulk / 2 for a minute (a slow subscriber).
 * - `maxmemory-clients`: 4 x bulk (maxmemory / 8 by default) for all clients together: two
 *   clients at their limit, with room for ten thousand idle connections (about 2 KB each). Past
 *   it Redis drops the largest clients, not keys.
 * Client memory counts towards maxmemory: with room in the dataset the clients take that room;
 * with a full cache they push keys out, at most maxmemory-clients' worth; under `noeviction` they
 * can hold that much above maxmemory, so the container's memory limit sets it aside
 * (config/resolve.ts).
 */
export interface ClientLimits {
  /** `proto-max-bulk-len`: the largest string a command may carry or build (SETRANGE, APPEND…). */
  readonly protoMaxBulkBytes: number;
  /** Query and output buffer limit of one normal or pub/sub client. */
  readonly clientBufferBytes: number;
  /** Pub/sub output buffer a subscriber may keep for a minute. */
  readonly pubsubSoftBytes: number;
  /** `maxmemory-clients`: every normal and pub/sub client together. */
  readonly maxmemoryClientsBytes: number;
}

const MB = 1024 ** 2;
/** Redis refuses a proto-max-bulk-len or client-query-buffer-limit below 1mb. */
const MIN_BULK = MB;
/** The default largest value: maxmemory divided by this. */
const BULK_SHARE_OF_MAXMEMORY = 32;
/** The largest value one may configure: maxmemory divided by this (clients then take a quarter). */
const MAX_BULK_SHARE_OF_MAXMEMORY = 16;

/** The client limits of a node whose largest value is `protoMaxBulkBytes`. */
export function clientLimits(protoMaxBulkBytes: number): ClientLimits {
  return {
    protoMaxBulkBytes,
    clientBufferBytes: 2 * protoMaxBulkBytes,
    pubsubSoftBytes: Math.max(MIN_BULK, Math.floor(protoMaxBulkBytes / 2)),
    maxmemoryClientsBytes: 4 * protoMaxBulkBytes,
  };
}

/** The default largest value for a maxmemory: a thirty-second of it in whole mb, at least 1mb. */
export function defaultProtoMaxBulkBytes(maxmemoryBytes: number): number {
  return Math.max(MIN_BULK, Math.floor(maxmemoryBytes / BULK_SHARE_OF_MAXMEMORY / MB) * MB);
}

/**
 * A Redis size in the unit it reads best: whole mb where it is one, else bytes.
 * Every size above is a whole number of bytes.
 */
export function redisSize(bytes: number): string {
  return bytes % MB === 0 ? `${bytes / MB}mb` : String(bytes);
}

/**
 * Sentinels hold no data; their container limit (64Mi) must hold the process (about 12 MB) and its
 * clients. A reply of a sentinel is a few kilobytes, so a client gets 4mb, and all together 32mb:
 * ten thousand idle connections (about 20 MB) stay below it, a flood of unread replies does not.
 */
export const SENTINEL_CLIENT_LIMITS: ClientLimits = {
  protoMaxBulkBytes: MIN_BULK,
  clientBufferBytes: 4 * MB,
  pubsubSoftBytes: MB,
  maxmemoryClientsBytes: 32 * MB,
};

/** The directives of clientLimitLines, as an extended regular expression of their line starts. */
export const CLIENT_LIMIT_DIRECTIVES =
  "^(proto-max-bulk-len|client-query-buffer-limit|client-output-buffer-limit|maxmemory-clients) ";

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
const COSTLY_NAMES = Object.keys(COSTLY_COMMANDS) as CostlyCommand[];

const DENIED_ALLOWED = `must be a list of commands, each once, from: ${COSTLY_NAMES.join(", ")} ([] withholds none)`;
const PROTO_ALLOWED = `must be "" (maxmemory / ${BULK_SHARE_OF_MAXMEMORY}) or a memory size such as "16mb", from 1mb to a ${MAX_BULK_SHARE_OF_MAXMEMORY}th of maxmemory`;

export const CLIENT_LIMIT_KEYS = {
  protoMaxBulkLen: {
    type: "string",
    description: `Largest value a command may carry or build (proto-max-bulk-len); "" = maxmemory / ${BULK_SHARE_OF_MAXMEMORY}. Each client may hold twice it in buffers, all clients together four times it (maxmemory-clients).`,
    default: "",
    schema: checked(PROTO_ALLOWED, (v) =>
      v === "" || parseMemory(v) !== undefined ? undefined : PROTO_ALLOWED,
    ),
  },
  appDeniedCommands: {
    type: "array",
    description:
      "Commands withheld from the app user: one short call makes a value far larger than itself (SETRANGE, SETBIT, BITFIELD, COPY) or computes over several whole keys (set algebra, *STORE, BITOP); [] = none.",
    default: [...COSTLY_NAMES],
    schema: z
      .array(
        z.enum(COSTLY_NAMES as [CostlyCommand, ...CostlyCommand[]], { error: DENIED_ALLOWED }),
        { error: DENIED_ALLOWED },
      )
      .refine((list) => new Set(list).size === list.length, { error: DENIED_ALLOWED }),
  },
} satisfies Record<string, KeySpec>;

type ClientLimitValues = { readonly [K in keyof typeof CLIENT_LIMIT_KEYS]: unknown };

export function resolveClientLimits(
  values: ClientLimitValues,
  context: { readonly maxmemoryBytes: number; readonly maxmemory: string },
  invalid: (key: string, value: unknown, allowed: string) => string,
): { limits: ClientLimits; appDeniedCommands: readonly CostlyCommand[]; problems: string[] } {
  const problems: string[] = [];
  const given = values.protoMaxBulkLen as string;
  const largest = Math.max(
    MIN_BULK,
    Math.floor(context.maxmemoryBytes / MAX_BULK_SHARE_OF_MAXMEMORY / MB) * MB,
  );
  let bulk = defaultProtoMaxBulkBytes(context.maxmemoryBytes);
  if (given !== "") {
    bulk = parseMemory(given)!;
    if (bulk < MIN_BULK || bulk > largest)
      problems.push(
        invalid(
          "protoMaxBulkLen",
          given,
          `must be from 1mb to ${redisSize(largest)}, a ${MAX_BULK_SHARE_OF_MAXMEMORY}th of lowcode-redis:maxmemory "${context.maxmemory}": each client may hold twice it and all clients four times it, inside maxmemory`,
        ),
      );
  }
  return {
    limits: clientLimits(bulk),
    appDeniedCommands: values.appDeniedCommands as CostlyCommand[],
    problems,
  };
}
