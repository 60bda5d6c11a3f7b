import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ResolvedConfig } from "../config/resolve";
import { loadStackConfig } from "../config/stack-file";
import Redis from "ioredis";
import { ioredisOptions } from "../render/client-options";
import {
  restartGroup,
  rollingRestart,
  sandboxDrillTarget,
  startAcknowledgedWriter,
} from "../sandbox/drills/drill";
import { abortedFailover, failoverDrill } from "../sandbox/drills/failover";
import { Isolation, startSandbox } from "../sandbox/sandbox";
import {
  partitionMaster,
  partitionReplica,
  sandboxPartitionTarget,
} from "../sandbox/drills/partition";
import { SyncCount, startSyncCounter } from "../sandbox/drills/sync-counter";
import { podsUnsupported } from "../sandbox/runtime/pod-network";
import { resolve as resolveValues, PROD } from "../lib/config-values";
import { benchBackupRestore } from "./backup";
import { benchHostileClients } from "./hostile";
import { benchRecreate, recreateRows } from "./recreate";
import { freeBasePort } from "../lib/ports";

/**
 * `npm run bench` (docs/sandbox.md): prints a table and writes bench/results/latest.json.
 * Options: --failover-kills N (default 5), --rounds N (throughput rounds, default 3), --restarts N
 * (whole-group restarts, default 3), --backup-runs N (default 3), --partition-runs N (default 3),
 * --recreate-runs N (default 1), --cut-runs N (default 3), --only NAME (program, throughput,
 * failover, rolling, restart-all, second-failure, backup, partition, recreate, replica-cut,
 * hostile). As root, the failover benchmark also runs in pods mode (`--isolation pods`), and the
 * partition, recreate and replica-cut drills run (pods mode only).
 */

const ROOT = path.resolve(__dirname, "..");
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const only = (() => {
  const i = args.indexOf("--only");
  return i >= 0 ? args[i + 1] : undefined;
})();

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round = (value: number, digits = 3) => Number(value.toFixed(digits));
const tmpDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** Failover: a fresh prod-stack group per kill (Sentinel waits 2 x failover-timeout between failovers of one master). */
async function benchFailover(kills: number, isolation: Isolation = "loopback") {
  const cfg = loadStackConfig("prod");
  const runs = [];
  for (let i = 0; i < kills; i++) {
    const dir = tmpDir("lowcode-bench-failover-");
    const sandbox = await startSandbox(
      cfg,
      isolation === "pods" ? { dir, isolation } : { dir, basePort: await freeBasePort(3) },
    );
    try {
      const result = await failoverDrill(sandbox, {
        keyPrefix: `bench:${i}`,
        writesBeforeKill: 200,
        writesAfter: 100,
      });
      runs.push(result);
      process.stderr.write(
        `failover (${isolation}) ${i + 1}/${kills}: outage ${result.outageMs} ms, lost ${result.lost}/${result.acknowledged}\n`,
      );
    } finally {
      await sandbox.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const outages = runs.map((r) => r.outageMs);
  return {
    kills,
    downAfterMs: cfg.sentinel.downAfterMs,
    outagesMs: outages,
    medianOutageMs: median(outages),
    medianOutageMinusDownAfterMs: median(outages) - cfg.sentinel.downAfterMs,
    acknowledgedWrites: runs.reduce((n, r) => n + r.acknowledged, 0),
    lostAcknowledgedWrites: runs.reduce((n, r) => n + r.lost, 0),
  };
}

/**
 * Partition of the master (pods mode): a fresh prod-stack group per run, with the production
 * default min-replicas-to-write and with 0; a client in its own pod writes to the master (SET, then
 * WAIT 1 200 ms) while the master is cut off from the sentinels and the replicas.
 */
async function benchPartition(runs: number) {
  const results: Record<string, unknown> = {};
  for (const minReplicasToWrite of [undefined, 0]) {
    const cfg = resolveValues(
      minReplicasToWrite === undefined ? { ...PROD } : { ...PROD, minReplicasToWrite },
      "prod",
    );
    const measured = [];
    for (let i = 0; i < runs; i++) {
      const dir = tmpDir("lowcode-bench-partition-");
      const sandbox = await startSandbox(cfg, { dir, isolation: "pods" });
      try {
        const r = await partitionMaster(sandboxPartitionTarget(sandbox));
        measured.push(r);
        process.stderr.write(
          `partition (min-replicas-to-write ${r.minReplicasToWrite}) ${i + 1}/${runs}: refused after ${r.refusedAfterMs ?? "never"} ms, failover ${r.failoverMs} ms, accepted then lost ${r.acceptedLost}/${r.acceptedUnacknowledged}, acknowledged lost ${r.acknowledgedLost}/${r.acknowledged}\n`,
        );
      } finally {
        await sandbox.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    const refusals = measured.flatMap((r) =>
      r.refusedAfterMs === undefined ? [] : [r.refusedAfterMs],
    );
    results[String(measured[0].minReplicasToWrite)] = {
      runs,
      minReplicasMaxLagS: measured[0].minReplicasMaxLagS,
      refusedAfterMs: refusals,
      medianRefusedAfterMs: refusals.length ? median(refusals) : null,
      maxRefusedAfterMs: refusals.length ? Math.max(...refusals) : null,
      failoverMs: measured.map((r) => r.failoverMs),
      medianFailoverMs: median(measured.map((r) => r.failoverMs)),
      medianPartitionMs: median(measured.map((r) => r.partitionMs)),
      medianOneMasterAfterHealMs: median(measured.map((r) => r.oneMasterMs)),
      acceptedThenLost: measured.map((r) => r.acceptedLost),
      acceptedUnacknowledged: measured.map((r) => r.acceptedUnacknowledged),
      acknowledgedWrites: measured.reduce((n, r) => n + r.acknowledged, 0),
      lostAcknowledgedWrites: measured.reduce((n, r) => n + r.acknowledgedLost, 0),
    };
  }
  return results;
}

/**
 * A replica cut off (pods mode) while a client writes through the sentinels with WAIT 1, until
 * both ends of its link gave up (the deployment's repl-timeout, 60 s), then healed: the
 * resynchronisation it needs, with Redis's old default backlog (1mb) and with the deployment's.
 * A restarted node always resyncs in full (it loads its AOF, which records no replication
 * position: redis/redis#4102): the backlog serves a link that broke while the process ran.
 */
async function benchReplicaCut(runs: number) {
  const results: Record<string, unknown> = {};
  for (const replBacklogSize of ["1mb", ""]) {
    const cfg = resolveValues({ ...PROD, replBacklogSize }, "prod");
    const measured = [];
    for (let i = 0; i < runs; i++) {
      const dir = tmpDir("lowcode-bench-replica-cut-");
      const sandbox = await startSandbox(cfg, { dir, isolation: "pods" });
      try {
        const r = await partitionReplica(sandboxPartitionTarget(sandbox));
        measured.push(r);
        process.stderr.write(
          `replica cut (backlog ${cfg.redis.replicationBuffers.backlogMb}mb) ${i + 1}/${runs}: cut ${r.cutMs} ms, ${r.streamBytesWhileCut} bytes of stream meanwhile, ${r.partialResyncs} partial / ${r.fullResyncs} full resync, caught up in ${r.resyncMs} ms, lost ${r.lost}/${r.acknowledged}\n`,
        );
      } finally {
        await sandbox.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    results[`${cfg.redis.replicationBuffers.backlogMb}mb`] = {
      runs,
      cutMs: measured.map((r) => r.cutMs),
      streamBytesPerSecond: measured.map((r) =>
        Math.round(r.streamBytesWhileCut / (r.cutMs / 1000)),
      ),
      partialResyncs: measured.reduce((n, r) => n + r.partialResyncs, 0),
      fullResyncs: measured.reduce((n, r) => n + r.fullResyncs, 0),
      resyncMs: measured.map((r) => r.resyncMs),
      acknowledgedWrites: measured.reduce((n, r) => n + r.acknowledged, 0),
      lostAcknowledgedWrites: measured.reduce((n, r) => n + r.lost, 0),
    };
  }
  return results;
}

/**
 * Rolling restart: a prod-stack group per mode, a client writing through the sentinels with WAIT 1,
 * every node restarted as a StatefulSet update does, with the pre-stop hook and without it.
 */
async function benchRollingRestart() {
  const cfg = loadStackConfig("prod");
  const modes: Record<
    string,
    { longestPauseMs: number; acknowledged: number; lost: number; syncs: SyncCount }
  > = {};
  for (const [mode, preStop] of [
    ["withHook", true],
    ["withoutHook", false],
  ] as const) {
    const dir = tmpDir("lowcode-bench-rolling-");
    const sandbox = await startSandbox(cfg, { dir, basePort: await freeBasePort(3) });
    const client = new Redis({
      ...ioredisOptions(sandbox.connection, "app"),
      retryStrategy: () => 50,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      const counter = startSyncCounter(sandbox.connection, sandbox.nodes);
      await counter.ready;
      const writer = startAcknowledgedWriter(client, `bench:${mode}`);
      await rollingRestart(sandboxDrillTarget(sandbox), {
        preStop,
        log: (line) => process.stderr.write(`rolling restart ${mode}: ${line}\n`),
      });
      const lost = await writer.stop();
      modes[mode] = {
        longestPauseMs: writer.longestPauseMs(),
        acknowledged: writer.acknowledged.length,
        lost,
        syncs: await counter.stop(),
      };
    } finally {
      client.disconnect();
      await sandbox.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return modes;
}

/**
 * Whole-group restart: one prod-stack group, a failover first (the master is no longer node 0),
 * then every node and sentinel stopped at once and started again, `restarts` times, a client
 * writing through the sentinels with WAIT 1.
 */
async function benchWholeRestart(restarts: number) {
  const cfg = loadStackConfig("prod");
  const dir = tmpDir("lowcode-bench-restart-");
  const sandbox = await startSandbox(cfg, { dir, basePort: await freeBasePort(3) });
  try {
    await failoverDrill(sandbox, {
      keyPrefix: "bench:restart",
      writesBeforeKill: 50,
      writesAfter: 50,
    });
    const runs = [];
    for (let i = 0; i < restarts; i++) {
      const r = await restartGroup(sandboxDrillTarget(sandbox), sandbox.connection, {
        settleMs: cfg.sentinel.downAfterMs + 5000,
      });
      runs.push(r);
      process.stderr.write(
        `restart-all ${i + 1}/${restarts}: first write ${r.firstWriteMs} ms after every process ran, ` +
          `master ${r.masterBefore} -> ${r.masterAfter}, epoch ${r.epochBefore} -> ${r.epochAfter}, lost ${r.lost}/${r.acknowledged}\n`,
      );
    }
    return {
      restarts,
      firstWriteMs: runs.map((r) => r.firstWriteMs),
      medianFirstWriteMs: median(runs.map((r) => r.firstWriteMs)),
      masterChanges: runs.filter((r) => r.masterAfter !== r.masterBefore).length,
      failovers: runs.filter((r) => r.epochAfter !== r.epochBefore).length,
      acknowledgedWrites: runs.reduce((n, r) => n + r.acknowledged, 0),
      lostAcknowledgedWrites: runs.reduce((n, r) => n + r.lost, 0),
    };
  } finally {
    await sandbox.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Second failure: Sentinel does not try the same master again within 2 x failover-timeout of an
 * attempt that aborted. Measured on an attempt that finds no replica to promote (the master is
 * killed while every replica is frozen, then the replicas run again), with the default and with
 * 60 s (the value before; Redis's own is 180 s).
 */
async function benchSecondFailure() {
  const base = loadStackConfig("prod");
  const results: Record<string, { abortMs: number; retryMs: number }> = {};
  for (const failoverTimeoutMs of [base.sentinel.failoverTimeoutMs, 60_000]) {
    const cfg = { ...base, sentinel: { ...base.sentinel, failoverTimeoutMs } };
    const dir = tmpDir("lowcode-bench-second-");
    const sandbox = await startSandbox(cfg, { dir, basePort: await freeBasePort(3) });
    try {
      const r = await abortedFailover(sandbox);
      results[String(failoverTimeoutMs)] = { abortMs: r.abortMs, retryMs: r.retryMs };
      process.stderr.write(
        `aborted failover, failover-timeout ${failoverTimeoutMs} ms: aborted ${r.abortMs} ms after the kill, next attempt promoted ${r.retryMs} ms after the abort\n`,
      );
    } finally {
      await sandbox.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

interface Server {
  readonly label: string;
  readonly port: number;
  readonly auth: string[];
  stop(): Promise<void>;
}

/** A redis-server started directly (no supervision), stopped with SIGKILL: nothing is kept. */
function startRaw(label: string, port: number, serverArgs: string[], cwd: string): Promise<Server> {
  const child = spawn(
    "redis-server",
    [...serverArgs, "--port", String(port), "--bind", "127.0.0.1"],
    { cwd, stdio: "ignore" },
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = () => {
      const ping = spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" });
      if (/PONG|NOAUTH/.test(ping.stdout)) {
        resolve({
          label,
          port,
          auth: [],
          stop: async () => void (child.kill("SIGKILL"), await exited),
        });
      } else if (Date.now() > deadline) reject(new Error(`${label} did not start`));
      else setTimeout(poll, 50);
    };
    poll();
  });
}

function redisBenchmark(server: Server, pipeline: number): Record<string, number> {
  const result = spawnSync(
    "redis-benchmark",
    [
      "-h",
      "127.0.0.1",
      "-p",
      String(server.port),
      ...server.auth,
      "-t",
      "set,get",
      "-c",
      "50",
      "-n",
      "100000",
      "-P",
      String(pipeline),
      "--csv",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  const rates: Record<string, number> = {};
  for (const line of result.stdout.split("\n")) {
    const match = /^"(SET|GET)","([\d.]+)"/.exec(line);
    if (match) rates[match[1]] = Number(match[2]);
  }
  if (!rates.SET || !rates.GET)
    throw new Error(`redis-benchmark on ${server.label} failed: ${result.stdout}${result.stderr}`);
  return rates;
}

/**
 * Throughput: the prod-profile node (ACL users, renames, AOF + RDB), the same persistence without
 * security, and a stock redis-server without persistence, measured in the same rounds.
 */
async function benchThroughput(rounds: number) {
  const prodStandalone: ResolvedConfig = loadStackConfig(
    "bench",
    path.join(ROOT, "tests", "fixtures", "prod-standalone.yaml"),
  );
  const dirs = [
    tmpDir("lowcode-bench-prod-"),
    tmpDir("lowcode-bench-plain-"),
    tmpDir("lowcode-bench-stock-"),
  ];
  const base = await freeBasePort(3);
  const sandbox = await startSandbox(prodStandalone, { dir: dirs[0], basePort: base });
  const app = sandbox.connection.users.app;
  const node = sandbox.nodes[0];
  const production: Server = {
    label: "production profile",
    port: node.port,
    auth: ["--user", app.username, "-a", app.password],
    stop: () => sandbox.stop(),
  };
  // The same rendered redis.conf, without secrets.conf and the ACL file: no auth, no renames.
  const plainArgs = [path.join(node.confDir, "redis.conf"), "--dir", dirs[1]];
  const servers = [
    production,
    await startRaw("same persistence, no security", base + 1, plainArgs, dirs[1]),
    await startRaw(
      "stock, no persistence",
      base + 2,
      ["--save", "", "--appendonly", "no"],
      dirs[2],
    ),
  ];
  const samples: Record<string, Record<string, number[]>> = {};
  try {
    for (let r = 0; r < rounds; r++) {
      for (const pipeline of [1, 16]) {
        for (const server of servers) {
          const rates = redisBenchmark(server, pipeline);
          for (const [command, rate] of Object.entries(rates)) {
            ((samples[server.label] ??= {})[`${command} P${pipeline}`] ??= []).push(rate);
          }
        }
      }
      process.stderr.write(`throughput round ${r + 1}/${rounds} done\n`);
    }
  } finally {
    for (const server of servers) await server.stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
  const medians = Object.fromEntries(
    Object.entries(samples).map(([label, tests]) => [
      label,
      Object.fromEntries(Object.entries(tests).map(([t, v]) => [t, median(v)])),
    ]),
  );
  const [prod, plain, stock] = servers.map((s) => medians[s.label]);
  const tests = Object.keys(prod);
  return {
    rounds,
    requestsPerSecond: medians,
    // Below 1: the share of throughput kept. security = production / same persistence without security.
    securityRatio: Object.fromEntries(tests.map((t) => [t, round(prod[t] / plain[t])])),
    persistenceRatio: Object.fromEntries(tests.map((t) => [t, round(plain[t] / stock[t])])),
  };
}

/** Program evaluation: time to build each stack's resource graph under Pulumi mocks (a child process per run). */
function benchProgram(runs: number) {
  const results: Record<string, number[]> = {};
  for (const stack of ["dev", "prod"]) {
    for (let i = 0; i < runs; i++) {
      const child = spawnSync(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", path.join(__dirname, "program-eval.ts"), stack],
        {
          cwd: ROOT,
          encoding: "utf8",
        },
      );
      const ms = Number(/graphMs=([\d.]+)/.exec(child.stdout)?.[1]);
      if (!Number.isFinite(ms))
        throw new Error(`program evaluation of ${stack} failed: ${child.stdout}${child.stderr}`);
      (results[stack] ??= []).push(ms);
    }
  }
  return Object.fromEntries(
    Object.entries(results).map(([stack, ms]) => [
      stack,
      { medianMs: round(median(ms), 1), runs: ms.map((m) => round(m, 1)) },
    ]),
  );
}

async function main() {
  // Between two pods-mode sandboxes the process may wait on nothing but unreferenced handles (the
  // supervisor's children, the stopped namespaces' cleanup): without a timer of its own, Node
  // would end it there, silently, with exit code 0 and no report.
  const keepAlive = setInterval(() => undefined, 60_000);
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
  };
  if (!only || only === "program")
    report.programEvaluation = benchProgram(option("program-runs", 5));
  if (!only || only === "throughput")
    report.throughput = await benchThroughput(option("rounds", 3));
  const pods = podsUnsupported() === undefined;
  if (!only || only === "failover") {
    report.failover = await benchFailover(option("failover-kills", 5));
    if (pods) report.failoverPods = await benchFailover(option("failover-kills", 5), "pods");
    else process.stderr.write(`failover in pods mode skipped: ${podsUnsupported()}\n`);
  }
  if (!only || only === "partition") {
    if (pods) report.partition = await benchPartition(option("partition-runs", 3));
    else process.stderr.write(`partition skipped: ${podsUnsupported()}\n`);
  }
  if (!only || only === "recreate") {
    if (pods) report.recreate = await benchRecreate(option("recreate-runs", 1));
    else process.stderr.write(`recreate skipped: ${podsUnsupported()}\n`);
  }
  if (!only || only === "replica-cut") {
    if (pods) report.replicaCut = await benchReplicaCut(option("cut-runs", 3));
    else process.stderr.write(`replica cut skipped: ${podsUnsupported()}\n`);
  }
  if (!only || only === "rolling") report.rollingRestart = await benchRollingRestart();
  if (!only || only === "restart-all")
    report.wholeRestart = await benchWholeRestart(option("restarts", 3));
  if (!only || only === "second-failure") report.secondFailure = await benchSecondFailure();
  if (!only || only === "hostile") report.hostileClients = await benchHostileClients();
  if (!only || only === "backup")
    report.backupRestore = await benchBackupRestore(
      loadStackConfig("bench", path.join(ROOT, "tests", "fixtures", "prod-standalone.yaml")),
      option("backup-runs", 3),
    );

  fs.mkdirSync(path.join(__dirname, "results"), { recursive: true });
  fs.writeFileSync(
    path.join(__dirname, "results", "latest.json"),
    JSON.stringify(report, null, 2) + "\n",
  );
  printTable(report);
  clearInterval(keepAlive);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function printTable(report: Record<string, any>) {
  const rows: string[][] = [["benchmark", "measure", "value"]];
  for (const [label, f] of [
    ["failover", report.failover],
    ["failover, pods mode", report.failoverPods],
  ]) {
    if (!f) continue;
    rows.push([label, `median outage (${f.kills} kills)`, `${f.medianOutageMs} ms`]);
    rows.push([
      label,
      `median outage - down-after (${f.downAfterMs} ms)`,
      `${f.medianOutageMinusDownAfterMs} ms`,
    ]);
    rows.push([
      label,
      "lost acknowledged writes",
      `${f.lostAcknowledgedWrites} of ${f.acknowledgedWrites}`,
    ]);
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  for (const [min, p] of Object.entries(report.partition ?? {}) as [string, any][]) {
    const label = `partition, min-replicas-to-write ${min}`;
    rows.push([
      label,
      `isolated master refuses writes after (median / max of ${p.runs}; max-lag ${p.minReplicasMaxLagS} s)`,
      p.medianRefusedAfterMs === null
        ? "never"
        : `${p.medianRefusedAfterMs} / ${p.maxRefusedAfterMs} ms`,
    ]);
    rows.push([label, "failover of the majority side (median)", `${p.medianFailoverMs} ms`]);
    rows.push([
      label,
      "writes the isolated master accepted, then lost at the heal (per run)",
      p.acceptedThenLost.join(", "),
    ]);
    rows.push([
      label,
      "lost acknowledged writes",
      `${p.lostAcknowledgedWrites} of ${p.acknowledgedWrites}`,
    ]);
  }
  rows.push(...recreateRows(report.recreate));
  for (const [mode, r] of Object.entries(report.rollingRestart ?? {}) as [
    string,
    { longestPauseMs: number; acknowledged: number; lost: number },
  ][]) {
    const label = mode === "withHook" ? "with the pre-stop hook" : "without the hook";
    rows.push(["rolling restart", `longest write pause, ${label}`, `${r.longestPauseMs} ms`]);
    rows.push([
      "rolling restart",
      `lost acknowledged writes, ${label}`,
      `${r.lost} of ${r.acknowledged}`,
    ]);
  }
  rows.push(...resyncRows(report));
  const w = report.wholeRestart;
  if (w) {
    rows.push([
      "whole-group restart",
      `median first acknowledged write after every process ran (${w.restarts} restarts)`,
      `${w.medianFirstWriteMs} ms`,
    ]);
    rows.push([
      "whole-group restart",
      "master changes / failovers after the restart",
      `${w.masterChanges} / ${w.failovers}`,
    ]);
    rows.push([
      "whole-group restart",
      "lost acknowledged writes",
      `${w.lostAcknowledgedWrites} of ${w.acknowledgedWrites}`,
    ]);
  }
  for (const [timeout, r] of Object.entries(report.secondFailure ?? {}) as [
    string,
    { abortMs: number; retryMs: number },
  ][]) {
    rows.push([
      "second failure",
      `aborted attempt -> next failover, failover-timeout ${timeout} ms`,
      `${r.retryMs} ms`,
    ]);
  }
  for (const [flood, h] of Object.entries(report.hostileClients ?? {}) as [
    string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    any,
  ][]) {
    const evicted = h.nodes
      ? Object.values(h.nodes as Record<string, { evicted: number }>).reduce(
          (n, v) => n + v.evicted,
          0,
        )
      : undefined;
    const dropped =
      h.droppedAfterMs === undefined
        ? `${h.result} after ${h.ms} ms`
        : h.droppedAfterMs === null
          ? "not dropped"
          : `dropped after ${h.droppedAfterMs} ms`;
    const memory = h.overLimit?.length ? `over limit: ${h.overLimit.join(", ")}` : "within limits";
    const failover =
      h.configEpochAfter === undefined
        ? ""
        : `, longest PING ${h.longestPingMs} ms, ${h.configEpochAfter === h.configEpochBefore ? "no failover" : "failover"}`;
    rows.push([
      "hostile clients",
      flood,
      `${dropped}${evicted === undefined ? "" : `, ${evicted} keys evicted, ${memory}`}${failover}`,
    ]);
  }
  const b = report.backupRestore;
  if (b) {
    const mb = (b.datasetBytes / 1024 ** 2).toFixed(0);
    const med = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
    rows.push([
      "backup",
      `sh backup.sh / bare redis-cli --rdb, ${mb} MB RDB, ${b.keys} keys (medians of ${b.runs})`,
      `${b.backupRatio} (${med(b.backupMs)} / ${med(b.bareRdbMs)} ms)`,
    ]);
    rows.push([
      "restore",
      "restored sandbox / plain redis-server load, AOF off (start to every key readable)",
      `${b.restoreRatio} (${med(b.restoreMs)} / ${med(b.plainLoadMs)} ms)`,
    ]);
  }
  const t = report.throughput;
  if (t) {
    for (const test of Object.keys(t.securityRatio)) {
      rows.push(["throughput", `security ratio ${test}`, String(t.securityRatio[test])]);
      rows.push(["throughput", `persistence ratio ${test}`, String(t.persistenceRatio[test])]);
    }
  }
  for (const [stack, p] of Object.entries(report.programEvaluation ?? {}) as [
    string,
    { medianMs: number },
  ][]) {
    rows.push(["program", `build the ${stack} graph under mocks (median)`, `${p.medianMs} ms`]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const row of rows)
    process.stdout.write(row.map((cell, c) => cell.padEnd(widths[c])).join("  ") + "\n");
  process.stdout.write(`\nwritten: bench/results/latest.json\n`);
}

/** The resynchronisations of the rolling restart and of the replica cut, one row each. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function resyncRows(report: Record<string, any>): string[][] {
  const rows: string[][] = [];
  for (const [mode, r] of Object.entries(report.rollingRestart ?? {}) as [
    string,
    { syncs: SyncCount },
  ][]) {
    const label = mode === "withHook" ? "with the pre-stop hook" : "without the hook";
    rows.push([
      "rolling restart",
      `resyncs full / partial, ${label}`,
      `${r.syncs.full} / ${r.syncs.partial}`,
    ]);
  }
  for (const [backlog, c] of Object.entries(report.replicaCut ?? {}) as [
    string,
    { runs: number; fullResyncs: number; partialResyncs: number; streamBytesPerSecond: number[] },
  ][]) {
    const rate = `${Math.round(Math.max(...c.streamBytesPerSecond) / 1024)} KiB/s at most`;
    rows.push([
      "replica cut 60 s",
      `resyncs full / partial, backlog ${backlog} (${c.runs} runs, stream ${rate})`,
      `${c.fullResyncs} / ${c.partialResyncs}`,
    ]);
  }
  return rows;
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
