import * as fs from "node:fs";
import * as path from "node:path";
import { ConnectionInfo } from "../render/connection";
import {
  describeGroupRestart,
  restartGroup,
  rollingRestart,
  runningSandboxTarget,
} from "../sandbox/drills/drill";
import {
  BALLAST_FILE,
  DiskFullRefused,
  describeDiskFull,
  diskFullDrill,
  diskFullPassed,
  runningDiskFullTarget,
} from "../sandbox/drills/disk-full";
import {
  describeMasterPartition,
  partitionMaster,
  partitionReplica,
  partitionSentinel,
  runningPartitionTarget,
} from "../sandbox/drills/partition";
import {
  describeRecreatePod,
  recreateFailures,
  recreatePodDrill,
  runningRecreateTarget,
} from "../sandbox/drills/recreate-pod";
import { heal } from "../sandbox/runtime/pod-network";
import { UsageError, runCommand } from "./cli";

const USAGE =
  "npm run drill -- rolling-restart --dir DIR [--no-pre-stop]\n       npm run drill -- restart-all --dir DIR\n       npm run drill -- partition --dir DIR [--target master|sentinel|replica]\n       npm run drill -- disk-full --dir DIR [--hold-seconds N]\n       npm run drill -- recreate-pod --dir DIR --pod NAME|master [--gone SECONDS] [--no-pre-stop]";

const PARTITION_TARGETS = ["master", "sentinel", "replica"] as const;

/**
 * Drills on a running sandbox (the --dir of `npm run sandbox`). rolling-restart restarts every
 * Redis node as a StatefulSet rolling update does and prints one line per node; --no-pre-stop is
 * the baseline of a pod without the hook. restart-all stops every node and sentinel at once and
 * lets them start again, writing through the sentinels meanwhile; it fails when an acknowledged
 * write is lost or a failover follows. partition (a sandbox started with --isolation pods) cuts
 * the master, a sentinel or a replica off from the rest of the group, heals, and fails when an
 * acknowledged write is lost, the isolated master kept accepting writes past
 * min-replicas-max-lag + 2 s, a lone sentinel caused a failover, or a replica did not catch up.
 * disk-full fills the filesystem of DIR (a small one: it refuses others) while writing through
 * the sentinels, holds, frees it, and fails when an acknowledged write is missing on a node or a
 * process crashed. recreate-pod (a sandbox started with --isolation pods) deletes a node's or a
 * sentinel's pod and creates it again at a new address, held gone --gone seconds first, while
 * writing through the sentinels; it fails when an acknowledged write is lost, the group does not
 * settle (one master, every replica linked, no stale or down entry in any sentinel's view), a
 * due failover did not happen or an undue one did, or connection.json kept the old address.
 */
runCommand(async () => {
  const [drill, ...rest] = process.argv.slice(2);
  if (
    drill !== "rolling-restart" &&
    drill !== "restart-all" &&
    drill !== "partition" &&
    drill !== "disk-full" &&
    drill !== "recreate-pod"
  )
    throw new UsageError(`Unknown drill ${JSON.stringify(drill ?? "")}.\nUsage: ${USAGE}`);
  let dir: string | undefined;
  let preStop = true;
  let partitioned: (typeof PARTITION_TARGETS)[number] = "master";
  let holdSeconds: number | undefined;
  let pod: string | undefined;
  let goneSeconds = 0;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--dir" && rest[i + 1]) dir = rest[++i];
    else if (rest[i] === "--target" && drill === "partition") {
      const value = rest[++i] as (typeof PARTITION_TARGETS)[number];
      if (!PARTITION_TARGETS.includes(value))
        throw new UsageError(
          `--target ${JSON.stringify(rest[i] ?? "")}: must be one of ${PARTITION_TARGETS.join(", ")}.\nUsage: ${USAGE}`,
        );
      partitioned = value;
    } else if (rest[i] === "--hold-seconds" && drill === "disk-full") {
      holdSeconds = Number(rest[++i]);
      if (!Number.isInteger(holdSeconds) || holdSeconds < 1 || holdSeconds > 3600)
        throw new UsageError(
          `--hold-seconds ${JSON.stringify(rest[i] ?? "")}: must be a whole number from 1 to 3600.\nUsage: ${USAGE}`,
        );
    } else if (rest[i] === "--pod" && drill === "recreate-pod" && rest[i + 1]) pod = rest[++i];
    else if (rest[i] === "--gone" && drill === "recreate-pod") {
      goneSeconds = Number(rest[++i]);
      if (!Number.isInteger(goneSeconds) || goneSeconds < 0 || goneSeconds > 600)
        throw new UsageError(
          `--gone ${JSON.stringify(rest[i] ?? "")}: must be a whole number of seconds from 0 to 600.\nUsage: ${USAGE}`,
        );
    } else if (
      rest[i] === "--no-pre-stop" &&
      (drill === "rolling-restart" || drill === "recreate-pod")
    )
      preStop = false;
    else throw new UsageError(`Unknown option ${JSON.stringify(rest[i])}.\nUsage: ${USAGE}`);
  }
  if (!dir) throw new UsageError(`--dir is required.\nUsage: ${USAGE}`);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  if (drill === "recreate-pod") {
    if (!pod) throw new UsageError(`--pod is required.\nUsage: ${USAGE}`);
    // The sandbox finishes a recreation it started even if this process ends.
    const r = await recreatePodDrill(runningRecreateTarget(path.resolve(dir)), pod, {
      goneMs: goneSeconds * 1000,
      preStop,
      log,
    });
    log(describeRecreatePod(r));
    const failures = recreateFailures(r);
    for (const failure of failures) log(`FAILED: ${failure}`);
    if (failures.length > 0) process.exitCode = 1;
    return;
  }
  if (drill === "disk-full") {
    const sandboxDir = path.resolve(dir);
    // Interrupted, the drill must not leave the filesystem full.
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.once(signal, () => {
        fs.rmSync(path.join(sandboxDir, BALLAST_FILE), { force: true });
        process.stderr.write(`${signal}: the ballast is removed\n`);
        process.exit(130);
      });
    try {
      const r = await diskFullDrill(runningDiskFullTarget(sandboxDir), {
        holdMs: holdSeconds === undefined ? undefined : holdSeconds * 1000,
        log,
      });
      log(describeDiskFull(r));
      if (!diskFullPassed(r)) process.exitCode = 1;
    } catch (err) {
      if (err instanceof DiskFullRefused) throw new UsageError(err.message);
      throw err;
    }
    return;
  }
  if (drill === "partition") {
    const target = runningPartitionTarget(path.resolve(dir));
    // Interrupted, the drill must not leave the sandbox cut in two.
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.once(signal, () => {
        try {
          heal(target.pods);
          process.stderr.write(`${signal}: the partition is healed\n`);
        } finally {
          process.exit(130);
        }
      });
    if (partitioned === "master") {
      const r = await partitionMaster(target, { log });
      log(describeMasterPartition(r));
      const late =
        r.minReplicasToWrite > 0 &&
        // Redis counts lag in whole seconds and recounts good replicas once a second.
        (r.refusedAfterMs === undefined || r.refusedAfterMs > (r.minReplicasMaxLagS + 2) * 1000);
      if (r.acknowledgedLost > 0 || late) process.exitCode = 1;
    } else if (partitioned === "sentinel") {
      const r = await partitionSentinel(target, { log });
      const failover = r.epochAfter !== r.epochBefore || r.masterAfter !== r.masterBefore;
      log(
        `partition sentinel: ${r.sentinel} alone for ${(r.partitionMs / 1000).toFixed(1)} s, ` +
          `${r.sawMasterDown ? "saw the master down" : "DID NOT SEE THE MASTER DOWN"}, ` +
          `${failover ? `A FAILOVER (${r.masterBefore} -> ${r.masterAfter}, epoch ${r.epochBefore} -> ${r.epochAfter})` : `no failover (${r.masterAfter}, epoch ${r.epochAfter})`}`,
      );
      if (failover || !r.sawMasterDown) process.exitCode = 1;
    } else {
      const r = await partitionReplica(target, { log });
      log(
        `partition replica: ${r.replica}'s link dropped on both ends, ${r.partialResyncs} partial and ${r.fullResyncs} full resynchronisations, caught up ${(r.resyncMs / 1000).toFixed(1)} s after the heal ` +
          `(${r.writesWhileCut} writes while cut off); ${r.missingOnReplica} writes missing on it, ${r.lost} of ${r.acknowledged} acknowledged writes lost`,
      );
      if (r.missingOnReplica > 0 || r.lost > 0 || r.partialResyncs + r.fullResyncs < 1)
        process.exitCode = 1;
    }
    return;
  }
  const target = runningSandboxTarget(path.resolve(dir));
  if (drill === "rolling-restart") {
    await rollingRestart(target, { preStop, log });
    return;
  }
  const connection = JSON.parse(
    fs.readFileSync(path.join(path.resolve(dir), "connection.json"), "utf8"),
  ) as ConnectionInfo;
  if (connection.topology !== "sentinel")
    throw new UsageError("restart-all needs a sentinel group (the sandbox of a sentinel stack).");
  const result = await restartGroup(target, connection, { log });
  log(describeGroupRestart(result));
  if (result.lost > 0 || result.epochAfter !== result.epochBefore) process.exitCode = 1;
});
