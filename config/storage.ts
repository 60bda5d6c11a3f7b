/**
 * How large a Redis node's data volume must be. The volume holds, at the worst moment, every file
 * Redis writes, each at most the size of the dataset (`maxmemory`; RDB encoding is usually smaller
 * than memory, never much larger):
 *
 *   minimum = 5 x maxmemory
 *     1. the AOF base (an RDB preamble of the whole dataset),
 *     2. the AOF increment, which grows until it is as large as the base
 *        (auto-aof-rewrite-percentage 100) before a rewrite starts,
 *     3. the rewrite's new base, written beside the old base and increment until it replaces them,
 *     4. dump.rdb, the last snapshot,
 *     5. the snapshot a BGSAVE (a save point, a backup, a full sync) writes to a temp file beside it,
 *        while a rewrite runs;
 *   default = minimum + a quarter (the increment written during a rewrite, the filesystem's own
 *   overhead, the replica's copy of a full sync's snapshot), rounded up to a whole Gi (Mi below 1Gi).
 *
 * A full volume makes Redis refuse writes (MISCONF): the minimum is refused below, the default
 * leaves the margin.
 */
export const STORAGE_FILES_PER_DATASET = 5;
/** The margin of the default over the minimum. */
export const STORAGE_MARGIN = 0.25;

const MI = 1024 ** 2;
const GI = 1024 ** 3;

/** The smallest data volume a node of `maxmemoryBytes` may have, in bytes. */
export function minimumStorageBytes(maxmemoryBytes: number): number {
  return STORAGE_FILES_PER_DATASET * maxmemoryBytes;
}

/** The default data volume of a node of `maxmemoryBytes`, as a Kubernetes quantity. */
export function defaultStorageSize(maxmemoryBytes: number): string {
  const bytes = minimumStorageBytes(maxmemoryBytes) * (1 + STORAGE_MARGIN);
  return bytes >= GI ? `${Math.ceil(bytes / GI)}Gi` : `${Math.ceil(bytes / MI)}Mi`;
}
