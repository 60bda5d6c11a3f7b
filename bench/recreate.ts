import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  RecreatePodResult,
  describeRecreatePod,
  recreateFailures,
  recreatePodDrill,
  runningRecreateTarget,
} from "../sandbox/drills/recreate-pod";
import { currentMaster } from "../sandbox/drills/failover";

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

const ROOT = path.resolve(__dirname, "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `npm run sandbox -- --stack prod --isolation pods` in a process of its own, as an operator runs
 * it: its work while recreating a pod (init containers, mounts) then never holds up this
 * process's writer, whose pauses are the figures. Resolves once connection.json is written.
 */
async function sandboxProcess(dir: string): Promise<() => Promise<void>> {
  const child = spawn(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", "scripts/sandbox.ts", "--stack", "prod"].concat([
      "--dir",
      dir,
      "--isolation",
      "pods",
    ]),
    { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async () => {
    child.kill("SIGINT");
    await Promise.race([exited, sleep(60_000).then(() => child.kill("SIGKILL"))]);
    await exited;
  };
  const deadline = Date.now() + 180_000;
  while (!fs.existsSync(path.join(dir, "connection.json"))) {
    if (gone || Date.now() > deadline) {
      await stop();
      throw new Error(`the sandbox in ${dir} did not start`);
    }
    await sleep(200);
  }
  return stop;
}

/**
 * Pods recreated at a new address (pods mode): per run a fresh prod group in a process of its
 * own, on which the master, a replica and a sentinel are recreated through its control socket,
 * then the master held gone 30 s with its hook and without (a node lost: the sentinels fail over
 * while its name resolves nowhere); a client writes through the sentinels with WAIT 1 all along.
 */
export async function benchRecreate(runs: number) {
  const results: Record<string, Array<ReturnType<typeof figures>>> = {};
  for (let i = 0; i < runs; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-bench-recreate-"));
    const stop = await sandboxProcess(dir);
    try {
      const target = runningRecreateTarget(dir);
      for (const c of CASES) {
        const master = await currentMaster(target.connection());
        const pod =
          c.pod === "replica"
            ? target.members().find((m) => m.kind === "redis" && m.announced !== master.host)!.name
            : c.pod;
        const r = await recreatePodDrill(target, pod, {
          goneMs: "goneMs" in c ? c.goneMs : undefined,
          preStop: "preStop" in c ? c.preStop : undefined,
        });
        process.stderr.write(`recreate (${c.label}) ${i + 1}/${runs}: ${describeRecreatePod(r)}\n`);
        (results[c.label] ??= []).push(figures(r));
      }
    } finally {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

/** The bench table's rows of `benchRecreate`'s results. */
export function recreateRows(
  results: Record<string, Array<ReturnType<typeof figures>>> | undefined,
): string[][] {
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
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
