import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadStackConfig } from "../config/stack-file";
import {
  RecreatePodResult,
  describeRecreatePod,
  recreateFailures,
  recreatePodDrill,
  sandboxRecreateTarget,
} from "../sandbox/drills/recreate-pod";
import { currentMasterNode } from "../sandbox/drills/failover";
import { startSandbox } from "../sandbox/sandbox";

/** The recreations the bench runs on one pods-mode prod group, in this order. */
const CASES = [
  { label: "master", pod: "master" },
  { label: "replica", pod: "replica" },
  { label: "sentinel", pod: "sentinel-1" },
  { label: "master gone 30 s", pod: "master", goneMs: 30_000 },
  {
    label: "master gone 30 s, no pre-stop hook (node lost)",
    pod: "master",
    goneMs: 30_000,
    preStop: false,
  },
] as const;

/** A case's figures for latest.json. */
function figures(r: RecreatePodResult) {
  return {
    pod: r.pod,
    goneMs: r.createdAt - r.deletedAt,
    servingAfterCreationMs: r.readyAt - r.createdAt,
    failover: r.epochAfter !== r.epochBefore,
    roleAfter: r.roleAfter ?? null,
    settleMs: r.settleMs,
    staleOrMissingEntries: r.problems,
    outageMs: r.outageMs,
    acknowledgedWrites: r.acknowledged,
    lostAcknowledgedWrites: r.lost,
    failures: recreateFailures(r),
  };
}

/**
 * Pods recreated at a new address (pods mode): per run a fresh prod group, on which the master,
 * a replica and a sentinel are recreated, then the master held gone 30 s with its hook and without
 * (a node lost: the sentinels fail over while its name resolves nowhere); a client writes through
 * the sentinels with WAIT 1 all along.
 */
export async function benchRecreate(runs: number) {
  const results: Record<string, Array<ReturnType<typeof figures>>> = {};
  for (let i = 0; i < runs; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-bench-recreate-"));
    const sandbox = await startSandbox(loadStackConfig("prod"), { dir, isolation: "pods" });
    try {
      for (const c of CASES) {
        const target = sandboxRecreateTarget(sandbox);
        const master = await currentMasterNode(sandbox);
        const pod = c.pod === "replica" ? sandbox.nodes.find((n) => n !== master)!.name : c.pod;
        const r = await recreatePodDrill(target, pod, {
          goneMs: "goneMs" in c ? c.goneMs : undefined,
          preStop: "preStop" in c ? c.preStop : undefined,
        });
        process.stderr.write(`recreate (${c.label}) ${i + 1}/${runs}: ${describeRecreatePod(r)}\n`);
        (results[c.label] ??= []).push(figures(r));
      }
    } finally {
      await sandbox.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

/** The bench table's rows of `benchRecreate`'s results. */
export function recreateRows(
  results: Record<string, Array<ReturnType<typeof figures>>> | undefined,
): string[][] {
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return Object.entries(results ?? {}).flatMap(([label, runs]) => {
    const name = `recreate-pod, ${label}`;
    const lost = runs.reduce((n, r) => n + r.lostAcknowledgedWrites, 0);
    const acknowledged = runs.reduce((n, r) => n + r.acknowledgedWrites, 0);
    const failovers = runs.filter((r) => r.failover).length;
    const unsettled = runs.filter((r) => r.staleOrMissingEntries.length > 0).length;
    return [
      [
        name,
        `longest write pause (median of ${runs.length})`,
        `${median(runs.map((r) => r.outageMs))} ms`,
      ],
      [name, "failovers / runs; runs never settled", `${failovers} / ${runs.length}; ${unsettled}`],
      [name, "lost acknowledged writes", `${lost} of ${acknowledged}`],
    ];
  });
}
