import { spawn } from "node:child_process";
import * as path from "node:path";
import { credentials } from "../render/connection";
import { PRE_STOP_SECONDS } from "../render/sentinel";
import { Prepared } from "./prepare";
import { SandboxProcess } from "./process-list";
import { ping, servesReplication, waitProcessReady } from "./readiness";
import { removePodVolumes } from "./runtime/kubelet";
import { Pod } from "./runtime/pod-network";
import { podsDir, prepareDeploymentPods } from "./runtime/pods";
import { StartContext } from "./start-context";

/**
 * Pods mode: a pod deleted and created again, as `kubectl delete pod` and the StatefulSet
 * controller do it. The pre-stop hook runs in the container, then SIGTERM (SIGKILL after the stop
 * timeout); the pod's network namespace and volumes go, and its DNS name leaves the hosts file
 * every pod reads; after `goneMs` (a pod stuck Pending) a new pod of the same name gets a new
 * network namespace at a new address, its name resolves to that address everywhere, its volumes
 * are made anew and its init containers run again; the claims (data, sentinel state) are kept.
 */

export interface RecreateOptions {
  /** How long the pod stays deleted, its DNS name resolving nowhere. Default 0. */
  readonly goneMs?: number;
  /** Run the manifest's pre-stop hook first, as kubelet does. Default true. */
  readonly preStop?: boolean;
}

/** A step of a recreation, as it happens. */
export interface RecreateEvent {
  readonly event: "stopping" | "deleted" | "created" | "ready";
  /** Date.now() when it happened. */
  readonly at: number;
  /** The pod's address: the old one when deleted, the new one when created. */
  readonly ip?: string;
  /** The pre-stop hook's output (stopping). */
  readonly detail?: string;
}

export interface RecreateResult {
  readonly pod: string;
  readonly oldIp: string;
  readonly newIp: string;
  readonly preStop: string;
  /** The pod's containers stopped and its network namespace deleted. */
  readonly deletedAt: number;
  /** The new pod's network namespace created, its name resolving again (init containers next). */
  readonly createdAt: number;
  /** The new pod's process serving (a node: as master or replica; a sentinel: PING). */
  readonly readyAt: number;
}

/** What a recreation needs of the running sandbox besides its start context. */
export interface RecreateContext {
  readonly start: StartContext;
  readonly prepared: Prepared;
  /** Rewrites connection.json from the processes' current addresses. */
  readonly rewriteContract: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs argv; its output, killed at `timeoutMs`. */
function outputOf(argv: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", () => {
      clearTimeout(timer);
      resolve(output);
    });
  });
}

/** Runs the pod's pre-stop hook in its container; its output, bounded as kubelet bounds it. */
async function runPreStop(ctx: RecreateContext, name: string): Promise<string> {
  const runnable = ctx.start.running.pods?.get(name);
  if (!runnable?.preStop) return "";
  const output = await outputOf(
    [...runnable.exec.prefix, ...runnable.preStop],
    (PRE_STOP_SECONDS + 5) * 1000,
  );
  return output.trim().split("\n").join("; ");
}

/**
 * The pod of `p` prepared again in its new network namespace `pod`: volumes made anew, init
 * containers run; the supervisor runs its container from its next start on.
 */
function preparePodAgain(ctx: RecreateContext, p: SandboxProcess, pod: Pod): void {
  const { start, prepared } = ctx;
  const runnable = prepareDeploymentPods(
    start.cfg,
    start.network!,
    start.dir,
    prepared.secrets,
    prepared.deviations,
    [{ name: p.name, kind: p.kind, ordinal: Number(p.name.split("-").at(-1)), claim: p.dataDir }],
  ).get(p.name)!;
  start.running.pods = new Map([...(start.running.pods ?? []), [p.name, runnable]]);
  // Every holder of the process list (the contract writer, the drills in this process) sees it.
  p.host = pod.ip;
  const [command, ...args] = runnable.main;
  start.running.supervisor.updateSpec(p.name, { command, args });
}

/** Waits until the recreated process serves. */
async function waitServing(ctx: RecreateContext, p: SandboxProcess): Promise<void> {
  const { start, prepared } = ctx;
  const wait = { supervisor: start.running.supervisor, timeoutMs: start.timeoutMs };
  if (p.kind === "redis")
    await waitProcessReady(
      wait,
      p,
      credentials(start.cfg, prepared.secrets, "probe"),
      servesReplication,
    );
  else
    await waitProcessReady(
      wait,
      p,
      credentials(start.cfg, prepared.secrets, "sentinel-client"),
      ping,
    );
}

/** Deletes the pod of node or sentinel `name` and creates it again (see above). */
export async function recreatePod(
  ctx: RecreateContext,
  name: string,
  options: RecreateOptions = {},
  onEvent: (e: RecreateEvent) => void = () => undefined,
): Promise<RecreateResult> {
  const { start } = ctx;
  const network = start.network;
  if (!network) throw new Error("recreating a pod needs pods mode (--isolation pods)");
  const p = start.processes.all.find((q) => q.name === name);
  if (!p)
    throw new Error(
      `no pod ${name}: the pods are ${start.processes.all.map((q) => q.name).join(", ")}`,
    );
  const oldIp = p.host;
  const preStop = options.preStop === false ? "" : await runPreStop(ctx, name);
  onEvent({ event: "stopping", at: Date.now(), detail: preStop });
  await start.running.supervisor.pause(name, "SIGTERM");
  network.removePod(name);
  removePodVolumes(path.join(podsDir(start.dir), name));
  const deletedAt = Date.now();
  start.log(
    `${name}: pod deleted (${oldIp})${options.goneMs ? `; recreated in ${options.goneMs} ms` : ""}`,
  );
  onEvent({ event: "deleted", at: deletedAt, ip: oldIp });
  if (options.goneMs) await sleep(options.goneMs);
  const pod = network.addPod(p.name, [p.announced]);
  const newIp = pod.ip;
  const createdAt = Date.now();
  start.log(`${name}: pod recreated at ${newIp}`);
  onEvent({ event: "created", at: createdAt, ip: newIp });
  preparePodAgain(ctx, p, pod);
  start.running.supervisor.resume(name);
  await waitServing(ctx, p);
  await ctx.rewriteContract();
  const readyAt = Date.now();
  onEvent({ event: "ready", at: readyAt, ip: newIp });
  return { pod: name, oldIp, newIp, preStop, deletedAt, createdAt, readyAt };
}
