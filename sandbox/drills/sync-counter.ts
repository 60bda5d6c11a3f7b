import { ConnectionInfo } from "../../render/connection";
import { parseInfo, withAdmin } from "../../lib/redis-clients";

/** The resynchronisations the nodes served while the counter ran, and the stream they carried. */
export interface SyncCount {
  /** Full resynchronisations (`sync_full`): a snapshot sent to a replica. */
  readonly full: number;
  /** Partial ones served from the backlog (`sync_partial_ok`). */
  readonly partial: number;
  /** Partial ones refused (`sync_partial_err`): each became a full one. */
  readonly partialRefused: number;
  /** Bytes of replication stream the masters produced (`master_repl_offset` growth). */
  readonly streamBytes: number;
  readonly elapsedMs: number;
}

interface Counters {
  full: number;
  partial: number;
  partialRefused: number;
}

const countersOf = (info: Record<string, string>): Counters => ({
  full: Number(info.sync_full ?? 0),
  partial: Number(info.sync_partial_ok ?? 0),
  partialRefused: Number(info.sync_partial_err ?? 0),
});

/**
 * Counts what the nodes at `nodes` serve from now on, polling their INFO every `intervalMs`. A
 * node's counters start at 0 with each process (a restart in a rolling update), so they are kept
 * per process (`run_id`): what a process had at the first poll is the baseline, a process seen
 * later counts from 0. A process that served a sync and stopped within one interval goes uncounted:
 * a rolling restart waits far longer between two nodes.
 */
export function startSyncCounter(
  connection: ConnectionInfo,
  nodes: readonly { readonly host: string; readonly port: number }[],
  intervalMs = 200,
) {
  const baseline = new Map<string, Counters>();
  const latest = new Map<string, Counters>();
  let firstOffset: number | undefined;
  let lastOffset = 0;
  let firstPoll = true;
  const started = Date.now();
  const poll = async () => {
    const infos = await Promise.all(
      nodes.map((at) =>
        withAdmin(connection, at, async (c) => parseInfo(await c.info())).catch(() => undefined),
      ),
    );
    for (const info of infos) {
      if (!info?.run_id) continue;
      const counters = countersOf(info);
      if (firstPoll) baseline.set(info.run_id, counters);
      latest.set(info.run_id, counters);
      if (info.role === "master") {
        const offset = Number(info.master_repl_offset);
        firstOffset ??= offset;
        lastOffset = Math.max(lastOffset, offset);
      }
    }
    firstPoll = false;
  };
  let running = true;
  const ready = poll();
  const loop = (async () => {
    await ready;
    while (running) {
      await new Promise((r) => setTimeout(r, intervalMs));
      await poll();
    }
  })();
  return {
    /** Resolves once the baseline is taken. */
    ready,
    /** One last poll, then the totals since the baseline. */
    stop: async (): Promise<SyncCount> => {
      running = false;
      await loop;
      await poll();
      const total = { full: 0, partial: 0, partialRefused: 0 };
      for (const [runId, now] of latest) {
        const base = baseline.get(runId) ?? { full: 0, partial: 0, partialRefused: 0 };
        total.full += now.full - base.full;
        total.partial += now.partial - base.partial;
        total.partialRefused += now.partialRefused - base.partialRefused;
      }
      return {
        ...total,
        streamBytes: lastOffset - (firstOffset ?? lastOffset),
        elapsedMs: Date.now() - started,
      };
    },
  };
}
