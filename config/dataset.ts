import { z } from "zod";
import { Invalid, KeySpec, KeyValues, NAMESPACE, bool, int, oneOf } from "./schemas";

/**
 * The keys of the dataset: how it is persisted (AOF, RDB save points), defragmented, notified of
 * (keyspace events), and split into the platform's logical databases, one per purpose.
 */

const SAVE_POINT = /^[1-9]\d{0,6} [1-9]\d{0,8}$/;
const SAVE_POINT_ALLOWED =
  'must be "<seconds> <changes>" with two positive whole numbers, e.g. "900 1"';
const KEYSPACE_EVENTS = /^[KEg$lshzxetdmnA]*$/;

const database = (index: number, purpose: string) =>
  ({
    type: "integer",
    description: `Logical database for ${purpose}.`,
    default: index,
    schema: int(0, 15),
  }) as const satisfies KeySpec;

export const DATASET_KEYS = {
  appendonly: { type: "boolean", description: "AOF persistence.", default: true, schema: bool },
  appendfsync: {
    type: "string",
    description: "AOF fsync policy.",
    default: "everysec",
    schema: oneOf(["always", "everysec", "no"]),
  },
  save: {
    type: "array",
    description: 'RDB save points "<seconds> <changes>"; [] disables RDB snapshots.',
    default: ["900 1", "300 10", "60 10000"],
    schema: z
      .array(
        z.string({ error: SAVE_POINT_ALLOWED }).regex(SAVE_POINT, { error: SAVE_POINT_ALLOWED }),
        {
          error: 'must be a list of "<seconds> <changes>" strings',
        },
      )
      .max(8, { error: "must list at most 8 save points" }),
  },
  activedefrag: {
    type: "boolean",
    description: "Active defragmentation.",
    default: true,
    schema: bool,
  },
  notifyKeyspaceEvents: {
    type: "string",
    description: "Keyspace notifications (sessions expire through Ex).",
    default: "Ex",
    schema: z
      .string({ error: "must be letters from KEg$lshzxetdmnA" })
      .regex(KEYSPACE_EVENTS, { error: "must be letters from KEg$lshzxetdmnA" })
      .refine((v) => v === "" || (/[KE]/.test(v) && /[g$lshzxetdmnA]/.test(v)), {
        error:
          'must be "" (off) or name K and/or E and at least one event class from g$lshzxetdmnA (e.g. "Ex"): Redis delivers nothing otherwise',
      }),
  },
  databases: {
    type: "integer",
    description: "Number of logical databases.",
    default: 16,
    schema: int(6, 64),
  },
  dbSessions: database(0, "sessions and authentication"),
  dbFlowCache: database(1, "flow execution and cache"),
  dbComponents: database(2, "component templates and UI"),
  dbCollaboration: database(3, "real-time collaboration (pub/sub)"),
  dbRateLimiting: database(4, "rate limiting and security"),
  dbQueryCache: database(5, "query and data cache"),
} as const satisfies Record<string, KeySpec>;

/** The key of each purpose's database. */
const PURPOSE_KEYS = {
  sessions: "dbSessions",
  flowCache: "dbFlowCache",
  components: "dbComponents",
  collaboration: "dbCollaboration",
  rateLimiting: "dbRateLimiting",
  queryCache: "dbQueryCache",
} as const satisfies Record<string, keyof typeof DATASET_KEYS>;

export type DatabasePurpose = keyof typeof PURPOSE_KEYS;

/** Databases: one distinct index per purpose, each below the database count. */
export function resolveDatabases(
  values: KeyValues<typeof DATASET_KEYS>,
  invalid: Invalid,
): { databaseIndex: Readonly<Record<DatabasePurpose, number>>; problems: string[] } {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const key of Object.values(PURPOSE_KEYS)) {
    const index = values[key];
    if (index >= values.databases) {
      problems.push(
        invalid(key, index, `must be below ${NAMESPACE}:databases (${values.databases})`),
      );
    } else if (seen.has(index)) {
      problems.push(
        invalid(
          key,
          index,
          `is already used by ${NAMESPACE}:${seen.get(index)}; each purpose needs its own database`,
        ),
      );
    }
    seen.set(index, key);
  }
  return {
    databaseIndex: {
      sessions: values[PURPOSE_KEYS.sessions],
      flowCache: values[PURPOSE_KEYS.flowCache],
      components: values[PURPOSE_KEYS.components],
      collaboration: values[PURPOSE_KEYS.collaboration],
      rateLimiting: values[PURPOSE_KEYS.rateLimiting],
      queryCache: values[PURPOSE_KEYS.queryCache],
    },
    problems,
  };
}
