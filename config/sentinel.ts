import { z } from "zod";
import { Profile } from "./profiles";
import { Invalid, KeySpec, KeyValues, NAMESPACE, int } from "./schemas";

/**
 * The keys of the sentinel topology: the Redis nodes of the group, the sentinels that watch them,
 * and when they fail the master over.
 */

const MASTER_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MASTER_NAME_ALLOWED =
  "must start with a letter and hold letters, digits, '_', '.', '-' (at most 64)";

export const SENTINEL_KEYS = {
  replicas: {
    type: "integer",
    description: "Sentinel topology: Redis nodes (one master, the rest replicas).",
    default: 3,
    schema: int(2, 9),
  },
  sentinels: {
    type: "integer",
    description: "Sentinel topology: number of sentinels.",
    default: 3,
    schema: int(1, 9),
  },
  quorum: {
    type: "integer",
    description: "Sentinels that must agree the master is down.",
    default: 2,
    schema: int(1, 9),
  },
  masterName: {
    type: "string",
    description: "Name the sentinels monitor the master under.",
    default: "lowcode-master",
    schema: z
      .string({ error: MASTER_NAME_ALLOWED })
      .regex(MASTER_NAME, { error: MASTER_NAME_ALLOWED }),
  },
  downAfterMs: {
    type: "integer",
    description: "Sentinel down-after-milliseconds.",
    default: 5000,
    schema: int(1000, 60000),
  },
  failoverTimeoutMs: {
    type: "integer",
    description:
      "Sentinel failover-timeout; an aborted failover is retried after twice this (docs/architecture.md#second-failure).",
    // 10 s: a failover attempt that aborts is retried after 20 s instead of Redis's 6 minutes
    // (180 s default) or 2 minutes (60 s); nothing else in Sentinel gets faster or flaps with it.
    default: 10000,
    schema: int(10000, 600000),
  },
  minReplicasToWrite: {
    type: "integer",
    description: "min-replicas-to-write; -1 = profile default (dev 0, production 1).",
    default: -1,
    schema: int(-1, 8),
  },
  minReplicasMaxLag: {
    type: "integer",
    description: "min-replicas-max-lag in seconds.",
    default: 10,
    schema: int(1, 60),
  },
} as const satisfies Record<string, KeySpec>;

export interface SentinelConfig {
  /** Redis nodes: 1 for standalone. */
  readonly nodes: number;
  readonly sentinels: number;
  readonly quorum: number;
  readonly masterName: string;
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
  readonly minReplicasToWrite: number;
  readonly minReplicasMaxLag: number;
}

/** The Redis nodes of a topology: `replicas` in a sentinel group, one standalone. */
export function redisNodes(topology: "standalone" | "sentinel", replicas: number): number {
  return topology === "sentinel" ? replicas : 1;
}

/**
 * The sentinel group: a quorum the sentinels can reach, failovers that can complete, writes the
 * replicas can acknowledge. Standalone, only min-replicas-to-write applies (0: there are none).
 */
export function resolveSentinel(
  values: KeyValues<typeof SENTINEL_KEYS>,
  context: {
    readonly topology: "standalone" | "sentinel";
    readonly profile: Profile;
    /** min-replicas-to-write of the profile, for a sentinel group left at -1. */
    readonly profileMinReplicasToWrite: number;
  },
  invalid: Invalid,
): { sentinel: SentinelConfig; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const group = context.topology === "sentinel";
  const nodes = redisNodes(context.topology, values.replicas);
  const { sentinels, quorum } = values;
  if (quorum > sentinels) {
    problems.push(
      invalid("quorum", quorum, `must be between 1 and the number of sentinels (${sentinels})`),
    );
  }
  if (group && context.profile === "production" && sentinels < 3) {
    problems.push(
      invalid(
        "sentinels",
        sentinels,
        "the production profile needs at least 3 sentinels, so that one can fail and a majority remains",
      ),
    );
  }
  if (values.failoverTimeoutMs < 2 * values.downAfterMs) {
    problems.push(
      invalid(
        "failoverTimeoutMs",
        values.failoverTimeoutMs,
        `must be at least twice ${NAMESPACE}:downAfterMs (${2 * values.downAfterMs})`,
      ),
    );
  }
  const minReplicasToWrite =
    values.minReplicasToWrite !== -1
      ? values.minReplicasToWrite
      : group
        ? context.profileMinReplicasToWrite
        : 0;
  if (minReplicasToWrite > nodes - 1) {
    problems.push(
      invalid(
        "minReplicasToWrite",
        values.minReplicasToWrite,
        `must be at most the number of replicas (${nodes - 1}), or the master refuses every write`,
      ),
    );
  }
  return {
    sentinel: {
      nodes,
      sentinels: group ? sentinels : 0,
      quorum,
      masterName: values.masterName,
      downAfterMs: values.downAfterMs,
      failoverTimeoutMs: values.failoverTimeoutMs,
      minReplicasToWrite,
      minReplicasMaxLag: values.minReplicasMaxLag,
    },
    problems,
    warnings: group ? groupWarnings(sentinels, quorum) : [],
  };
}

/** A valid group that deserves a look: a quorum below a majority, an even number of sentinels. */
function groupWarnings(sentinels: number, quorum: number): string[] {
  const warnings: string[] = [];
  const majority = Math.floor(sentinels / 2) + 1;
  if (quorum < majority) {
    warnings.push(
      `${NAMESPACE}:quorum ${quorum} is below a majority of ${sentinels} sentinels (${majority}): fewer sentinels can flag the master down, but a failover still needs ${majority} to agree.`,
    );
  }
  if (sentinels % 2 === 0)
    warnings.push(
      `${NAMESPACE}:sentinels ${sentinels} is even: an odd number tolerates the same failures with one sentinel fewer.`,
    );
  return warnings;
}
