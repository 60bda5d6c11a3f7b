import * as path from "node:path";
import { ResolvedConfig } from "../config/resolve";
import { CommanderSecrets } from "../render/commander";
import { ConnectionInfo, buildConnection, credentials } from "../render/connection";
import { SecretValues } from "../render/redis-conf";
import { SENTINEL_START_WAIT_SECONDS } from "../render/sentinel";
import { CONNECTION_FILE, controlSocketOf } from "./contract";
import { serveControl } from "./control";
import { claimDir, readPreviousRun, releaseDir } from "./dir-lock";
import { Ready, launch, waitUntilReady } from "./launch";
import { currentRoles } from "./readiness";
import { RecreateEvent, RecreateOptions, RecreateResult, recreatePod } from "./recreate";
import { Prepared, prepareFiles } from "./prepare";
import { writeFile, ownerOnlyDir } from "./private-files";
import { DEFAULT_BASE_PORT, SandboxProcess, endpointOf, listProcesses } from "./process-list";
import { requireFreePorts } from "./ports";
import { RunningProcesses } from "./running";
import { BackupScheduler } from "./runtime/backup";
import { requireBinaries } from "./runtime/capabilities";
import { RunnablePod } from "./runtime/kubelet";
import { stopLeftovers } from "./runtime/leftovers";
import { setprivMissing } from "./runtime/lifetime";
import { PodNetwork, podsUnsupported } from "./runtime/pod-network";
import { podsDir } from "./runtime/pods";
import { Logger, Supervisor } from "./runtime/supervisor";
import { StartContext } from "./start-context";

export interface SandboxOptions {
  /** Everything lives here: configs, data, logs, secrets.json, connection.json. */
  readonly dir: string;
  /** Port of the first Redis node (the next nodes follow); sentinels start at basePort + 20000. Default 7001. */
  readonly basePort?: number;
  /**
   * A backup (an RDB with its `.sha256` beside it) to seed node 0's empty data dir with, through
   * the rendered restore.sh, as a deployment's restore step does; instead of the config's restoreFrom.
   */
  readonly restoreFrom?: string;
  readonly log?: Logger;
  /** How long the topology may take to be ready. Default 30 s. */
  readonly readyTimeoutMs?: number;
  /**
   * Sentinel topology: the processes to start, in waves of names (`redis-0`, `sentinel-1`…), each
   * wave `startGapMs` after the one before; names left out start in the last wave. Default: all at
   * once, as Kubernetes starts two StatefulSets with parallel pod management.
   */
  readonly startOrder?: readonly (readonly string[])[];
  /** Time between two waves of `startOrder`. Default 2000 ms. */
  readonly startGapMs?: number;
  /** Aborting it while the sandbox starts stops what was started and fails the start. */
  readonly signal?: AbortSignal;
  /**
   * `loopback` (default): every process on 127.0.0.1 under the name `localhost`. `pods` (root
   * only): every node and sentinel in a network namespace of its own on a private bridge, under
   * its StatefulSet DNS name, run from the rendered manifests by a kubelet-like runner
   * (sandbox/runtime/kubelet.ts); Commander, the backup and a client pod for drills in namespaces too.
   */
  readonly isolation?: Isolation;
}

export type Isolation = "loopback" | "pods";
export const ISOLATIONS: readonly Isolation[] = ["loopback", "pods"];

export interface Sandbox {
  readonly config: ResolvedConfig;
  readonly dir: string;
  readonly connection: ConnectionInfo;
  readonly secrets: SecretValues;
  readonly nodes: readonly SandboxProcess[];
  readonly sentinels: readonly SandboxProcess[];
  readonly supervisor: Supervisor;
  readonly connectionFile: string;
  readonly processesFile: string;
  /** When Commander is enabled: its port and its own secrets (the sign-in password among them). */
  readonly commander?: { readonly port: number; readonly secrets: CommanderSecrets };
  readonly isolation: Isolation;
  /** Pods mode: the network (partitions, pods' addresses) and how each process runs. */
  readonly network?: PodNetwork;
  readonly pods?: ReadonlyMap<string, RunnablePod>;
  /**
   * Pods mode: deletes the pod of a node or sentinel and creates it again at a new address
   * (sandbox/recreate.ts); `connection`, `nodes` and `sentinels` follow the new address.
   */
  recreatePod?: (
    name: string,
    options?: RecreateOptions,
    onEvent?: (e: RecreateEvent) => void,
  ) => Promise<RecreateResult>;
  /** Stops every process the sandbox started, then removes processes.json and the lock. */
  stop(): Promise<void>;
}

/** A start's settings, checked before anything is touched. */
interface StartSettings {
  readonly cfg: ResolvedConfig;
  readonly options: SandboxOptions;
  readonly dir: string;
  readonly basePort: number;
  readonly grouped: boolean;
  readonly isolation: Isolation;
  readonly inPods: boolean;
  readonly timeoutMs: number;
  readonly log: Logger;
}

/** Fails, with nothing touched, when this host or DIR's path cannot run the sandbox. */
function checkCanStart(cfg: ResolvedConfig, options: SandboxOptions): StartSettings {
  const grouped = cfg.topology === "sentinel";
  const isolation = options.isolation ?? "loopback";
  const inPods = isolation === "pods";
  if (inPods) {
    const unsupported = podsUnsupported();
    if (unsupported) throw new Error(`${unsupported}.`);
  }
  requireBinaries(grouped);
  const noSetpriv = setprivMissing();
  if (noSetpriv) throw new Error(noSetpriv);
  const dir = path.resolve(options.dir);
  // The janitor reads /proc/self/mountinfo, which escapes blanks and backslashes in paths.
  if (inPods && /[\s\\]/.test(dir))
    throw new Error(
      `--dir ${JSON.stringify(dir)}: --isolation pods needs a path without blanks or backslashes.`,
    );
  return {
    cfg,
    options,
    dir,
    basePort: options.basePort ?? DEFAULT_BASE_PORT,
    grouped,
    isolation,
    inPods,
    // Long enough for nodes that find no sentinel to choose among themselves (start-redis.sh).
    timeoutMs: options.readyTimeoutMs ?? (SENTINEL_START_WAIT_SECONDS + 30) * 1000,
    log: options.log ?? (() => undefined),
  };
}

/**
 * Takes DIR (its lock), stops what an ended sandbox left running there, and in pods mode creates
 * the network first (each process's address is its pod's). On failure DIR is released.
 */
async function claimSandboxDir(start: StartSettings): Promise<PodNetwork | undefined> {
  const { dir, log } = start;
  const previous = readPreviousRun(dir);
  claimDir(dir, previous);
  try {
    await stopLeftovers(dir, previous, log);
    if (!start.inPods) return undefined;
    ownerOnlyDir(path.join(dir, "logs"));
    return PodNetwork.create(podsDir(dir), path.join(dir, "logs", "pods.log"));
  } catch (err) {
    releaseDir(dir);
    throw err;
  }
}

/** DIR/connection.json (0600): the contract as deployed, with the roles the nodes report now. */
function writeConnectionFile(
  start: StartContext,
  prepared: Prepared,
  ready: Ready,
): ConnectionInfo {
  const { cfg, inPods } = start;
  const { nodes, sentinels, all } = start.processes;
  const built = buildConnection(cfg, prepared.secrets, {
    redis: nodes.map(endpointOf),
    sentinels: sentinels.map(endpointOf),
    deviations: prepared.deviations.map((d) => `${d.setting}: ${d.reason}`),
    backup: cfg.backup.enabled ? prepared.backup : undefined,
    commander: ready.commander,
  });
  // Roles as reported when the file is written; clients ask the sentinels, since a failover
  // changes the roles after this.
  const connection = {
    ...built,
    redis: built.redis.map((r, i) => ({ ...r, role: ready.roles[i] })),
    // The sentinels name the pods by DNS names this host does not resolve: where each is.
    ...(inPods
      ? { natMap: Object.fromEntries(all.map((p) => [`${p.announced}:${p.port}`, endpointOf(p)])) }
      : {}),
  };
  writeFile(
    path.join(start.dir, CONNECTION_FILE),
    JSON.stringify(connection, null, 2) + "\n",
    0o600,
  );
  return connection;
}

/** The backup schedule, as the CronJob runs it, once the sandbox is ready. */
function startBackupSchedule(start: StartContext, prepared: Prepared): void {
  const { cfg, running, log } = start;
  if (!cfg.backup.enabled) return;
  running.scheduler = new BackupScheduler(
    cfg.backup.schedule,
    prepared.backup.script,
    prepared.backupLogFile,
    log,
  );
  running.scheduler.start();
}

/**
 * Starts the stack's topology as local processes on 127.0.0.1, with the exact rendered files and
 * locally generated secrets, and writes DIR/connection.json when every process is ready.
 *
 * Before anything starts it checks the Redis programs, that DIR is writable and used by no other
 * running sandbox (DIR/sandbox.pid), and that every port is free. A process that exits before it
 * is ready is not restarted: the start fails. Every failure is one line naming the cause (and the
 * process's log), after every process started is stopped again.
 */
export async function startSandbox(cfg: ResolvedConfig, options: SandboxOptions): Promise<Sandbox> {
  const settings = checkCanStart(cfg, options);
  const network = await claimSandboxDir(settings);
  const processes = listProcesses(cfg, settings.dir, settings.basePort, network);
  const running = new RunningProcesses(settings.dir, processes.all, network, settings.log);
  const start: StartContext = { ...settings, network, processes, running };
  try {
    if (!settings.inPods) await requireFreePorts(processes);
    const prepared = await prepareFiles(start);
    const launched = await launch(start, prepared);
    const ready = await waitUntilReady(start, prepared, launched);
    let connection = writeConnectionFile(start, prepared, ready);
    startBackupSchedule(start, prepared);
    const recreate = network && podRecreation(start, prepared, ready, (c) => (connection = c));
    return sandboxOf(settings, start, prepared, () => connection, recreate);
  } catch (err) {
    await running.stop();
    // One line: the cause, and the log of the process that failed where one did.
    throw new Error((err as Error).message.replace(/\s*\n\s*/g, " "));
  }
}

/**
 * Pods mode: recreating a pod (sandbox/recreate.ts), in this process and through the control
 * socket; each recreation rewrites connection.json with the pods' current addresses.
 */
function podRecreation(
  start: StartContext,
  prepared: Prepared,
  ready: Ready,
  written: (c: ConnectionInfo) => void,
): NonNullable<Sandbox["recreatePod"]> {
  let roles = ready.roles;
  const rewriteContract = async () => {
    const admin = credentials(start.cfg, prepared.secrets, "admin");
    // A failover may be under way: the roles of the last file stand until every node answers.
    roles = await currentRoles(start.processes.nodes, admin).catch(() => roles);
    written(writeConnectionFile(start, prepared, { ...ready, roles }));
  };
  const recreate: NonNullable<Sandbox["recreatePod"]> = (name, options, onEvent) =>
    recreatePod({ start, prepared, rewriteContract }, name, options, onEvent);
  start.running.control = serveControl(controlSocketOf(start.network!), recreate);
  return recreate;
}

/** The running sandbox, as its callers see it. */
function sandboxOf(
  settings: StartSettings,
  start: StartContext,
  prepared: Prepared,
  connection: () => ConnectionInfo,
  recreate: Sandbox["recreatePod"],
): Sandbox {
  const { running, processes } = start;
  return {
    config: settings.cfg,
    dir: settings.dir,
    get connection() {
      return connection();
    },
    secrets: prepared.secrets,
    nodes: processes.nodes,
    sentinels: processes.sentinels,
    supervisor: running.supervisor,
    connectionFile: path.join(settings.dir, CONNECTION_FILE),
    processesFile: running.processesFile,
    commander: prepared.commander && {
      port: prepared.commander.port,
      secrets: prepared.commander.secrets,
    },
    isolation: settings.isolation,
    network: start.network,
    get pods() {
      return running.pods;
    },
    recreatePod: recreate,
    stop: () => running.stop(),
  };
}
