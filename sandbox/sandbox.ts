import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import Redis from "ioredis";
import { directClient, parseInfo } from "../lib/redis-clients";
import { ResolvedConfig } from "../config/resolve";
import { ConnectionInfo, Endpoint, buildConnection, credentials } from "../render/connection";
import { Files } from "../render/files";
import { ProcessSpec, planDeployment, plannedProcesses } from "../plan";
import { SecretValues, ServerLayout, redisServerArgs, requiredSecrets } from "../render/redis-conf";
import { SENTINEL_START_WAIT_SECONDS } from "../render/sentinel";
import { BackupScheduler, backupPaths, prepareBackup, restoreNode } from "./runtime/backup";
import { CommanderSecrets } from "../render/commander";
import {
  COMMANDER_SECRET_KEYS,
  commanderHealthy,
  commanderHome,
  commanderPaths,
  generateCommanderSecret,
  prepareCommander,
  sandboxCommanderPort,
} from "./runtime/commander";
import {
  Deviation,
  applyDeviations,
  detectDeviations,
  requireBinaries,
} from "./runtime/capabilities";
import {
  Logger,
  StartFailure,
  Supervisor,
  describeExit,
  lastMeaningfulLine,
} from "./runtime/supervisor";
import { setprivMissing } from "./runtime/lifetime";
import {
  PreviousRun,
  StartedProcess,
  currentBootId,
  readProcess,
  refuseForeignHolders,
  sandboxRuns,
  stopLeftovers,
} from "./runtime/leftovers";
import { PodNetwork, podsUnsupported } from "./runtime/pod-network";
import { RunnablePod } from "./runtime/kubelet";
import { hostProgramPod, podDnsName, podsDir, prepareDeploymentPods } from "./runtime/pods";

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

/** A process of the sandbox: a Redis node (redis-0, …) or a sentinel (sentinel-0, …). */
export interface SandboxProcess {
  readonly name: string;
  readonly kind: "redis" | "sentinel";
  readonly port: number;
  /** Where this host reaches it: 127.0.0.1, or its pod's address on the bridge. */
  readonly host: string;
  /** How the group names it (announced names): `localhost`, or its pod's DNS name. */
  readonly announced: string;
  readonly confDir: string;
  readonly dataDir: string;
  readonly logFile: string;
}

/** How a process of a pods-mode sandbox is reached and entered (processes.json). */
export interface PodEntry {
  readonly ip: string;
  /** The named network namespace (`ip netns`). */
  readonly netns: string;
  /** argv prefix that runs a command in the container (nsenter, chroot, user, environment). */
  readonly exec: readonly string[];
  /** The manifest's readiness probe and pre-stop hook commands. */
  readonly readiness?: readonly string[];
  readonly preStop?: readonly string[];
}

/**
 * DIR/processes.json (0600) while a sandbox runs, for tools that act on its processes (drills):
 * rewritten whenever a process (re)starts, so each pid is the current one; removed on stop.
 */
export interface ProcessesFile {
  /** The sandbox's own pid, which restarts the processes below when they die. */
  readonly sandboxPid: number;
  /** Every process started so far (all of them once the sandbox is ready). */
  readonly processes: readonly SandboxProcessEntry[];
  /** Pods mode only. */
  readonly pods?: PodsInfo;
  /** The boot the pids belong to (/proc/sys/kernel/random/boot_id). */
  readonly bootId?: string;
  /** The sandbox's start time, in clock ticks after boot (/proc/<pid>/stat): pids are reused. */
  readonly sandboxStartTime?: number;
  /**
   * Every process it runs (Commander's too), each the leader of its process group, with its start
   * time: what a later sandbox on DIR stops first should this one have ended and left them running.
   */
  readonly started?: readonly StartedProcess[];
}

export interface SandboxProcessEntry {
  readonly name: string;
  readonly kind: "redis" | "sentinel";
  readonly port: number;
  /** Pid of the current run: `sh start-….sh`, which execs redis-server or redis-sentinel. */
  readonly pid: number;
  readonly confDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** What its start script gets from the "pod": the hooks and probes run with the same. */
  readonly env: Readonly<Record<string, string>>;
  readonly host: string;
  readonly announced: string;
  /** Pods mode only. */
  readonly pod?: PodEntry;
}

/** A pods-mode sandbox's network, in processes.json, for drills. */
export interface PodsInfo {
  /** The id in every name of the network (`lcr-<id>-…` namespaces, `lcr<id>` bridge). */
  readonly id: string;
  readonly subnet: string;
  /** Pods by sandbox name, the client pod (`client`) among them: address and namespace. */
  readonly pods: Readonly<
    Record<string, { readonly ip: string; readonly netns: string; readonly mountNs: string }>
  >;
}

/** The variables the rendered scripts read (see render/sentinel.ts). */
const SCRIPT_ENV_KEYS = [
  "CONF_DIR",
  "DATA_DIR",
  "STATE_DIR",
  "NODE_HOST",
  "NODE_PORT",
  "DEFAULT_MASTER",
  "SENTINELS",
  "NODES",
] as const;

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
  /** Stops every process the sandbox started, then removes processes.json and the lock. */
  stop(): Promise<void>;
}

export const DEFAULT_BASE_PORT = 7001;
export const SENTINEL_PORT_OFFSET = 20000;
/** DIR/sandbox.pid: the pid of the sandbox using DIR, created exclusively, removed on stop. */
export const LOCK_FILE = "sandbox.pid";
export const PROCESSES_FILE = "processes.json";
/** Where clients connect. */
const HOST = "127.0.0.1";
/**
 * How the group's processes name each other: a host name, as in Kubernetes, so that
 * resolve-hostnames, announce-hostnames and replica-announce-ip run the way they do there.
 */
const ANNOUNCED_HOST = "localhost";
/** Every sandbox process listens on loopback only: both addresses "localhost" may resolve to. */
const LOOPBACK_BIND = ["--bind", "127.0.0.1", "-::1"];

/** Secrets of this sandbox dir: generated once, kept in DIR/secrets.json (0600) across restarts. */
export function loadOrCreateSecrets(cfg: ResolvedConfig, dir: string): SecretValues {
  const file = path.join(dir, "secrets.json");
  const secrets: Record<string, string> = fs.existsSync(file)
    ? JSON.parse(fs.readFileSync(file, "utf8"))
    : {};
  if (cfg.commander.enabled)
    for (const [part, key] of Object.entries(COMMANDER_SECRET_KEYS))
      secrets[key] ||= generateCommanderSecret(part as keyof CommanderSecrets);
  for (const key of requiredSecrets(cfg)) {
    if (secrets[key]) continue;
    if (key === "backupS3AccessKeyId" || key === "backupS3SecretAccessKey")
      throw new Error(
        `lowcode-redis:${key} is needed for the off-site copies to bucket "${cfg.backup.offsite?.bucket}": the sandbox cannot generate it; put it into ${file} as "${key}" (0600).`,
      );
    if (key === "appPasswordPrevious")
      throw new Error(
        `lowcode-redis:${key} is set: the sandbox cannot know the app's previous password; put it into ${file} as "${key}" (0600).`,
      );
    secrets[key] =
      key === "configCommand"
        ? `CONFIG_${randomBytes(10).toString("hex").toUpperCase()}`
        : randomBytes(24).toString("base64url");
  }
  // Atomically: a sandbox killed while writing must not leave the dir's passwords behind half-written.
  writeFileAtomic(file, JSON.stringify(secrets, null, 2), 0o600);
  return secrets;
}

function writeFile(file: string, content: string, mode: number): void {
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/** Readers see the old or the new content, never a partial file. */
function writeFileAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFile(tmp, content, mode);
  fs.renameSync(tmp, file);
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function lockHolder(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const notWritable = (dir: string, err: unknown) =>
  new Error(`--dir ${dir} is not a writable directory (${(err as Error).message}).`);

/** DIR/processes.json as the last sandbox on DIR left it, when there is one. */
function readPreviousRun(dir: string): PreviousRun | undefined {
  try {
    const content = JSON.parse(
      fs.readFileSync(path.join(dir, PROCESSES_FILE), "utf8"),
    ) as PreviousRun;
    return Number.isInteger(content?.sandboxPid) && Array.isArray(content.processes)
      ? content
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure DIR exists and is writable, and takes its lock: DIR/sandbox.pid holding this
 * process's pid, created exclusively (a hard link of a complete file, so nobody reads it half
 * written). A lock whose sandbox no longer runs is taken over. Before the lock is taken, and with
 * nothing touched, it fails if a process that the ended sandbox did not leave behind holds one of
 * DIR's process directories.
 */
function claimDir(dir: string, previous: PreviousRun | undefined): string {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    throw notWritable(dir, err);
  }
  const lock = path.join(dir, LOCK_FILE);
  const inUse = (holder: number) =>
    new Error(`--dir ${dir} is in use by a running sandbox (pid ${holder}, lock ${lock}).`);
  const holder = lockHolder(lock);
  if (holder !== undefined && sandboxRuns(holder, previous)) throw inUse(holder);
  refuseForeignHolders(dir, previous);
  const tmp = `${lock}.${process.pid}.tmp`;
  try {
    writeFile(tmp, `${process.pid}\n`, 0o600);
  } catch (err) {
    throw notWritable(dir, err);
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.linkSync(tmp, lock);
        return lock;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw notWritable(dir, err);
      }
      const holder = lockHolder(lock);
      if (holder !== undefined && sandboxRuns(holder, previous)) throw inUse(holder);
      fs.rmSync(lock, { force: true });
    }
    throw new Error(`--dir ${dir}: could not take the lock ${lock}.`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Removes DIR/sandbox.pid if it is still this process's. */
function releaseDir(dir: string): void {
  const lock = path.join(dir, LOCK_FILE);
  if (lockHolder(lock) === process.pid) fs.rmSync(lock, { force: true });
}

/** The address `port` is taken on ("127.0.0.1" or "::1", what redis-server binds), if any. */
async function portTakenOn(port: number): Promise<string | undefined> {
  for (const host of ["127.0.0.1", "::1"]) {
    const taken = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", (err: NodeJS.ErrnoException) =>
        // No ::1 on this host: redis-server skips it as well (its bind is "-::1").
        resolve(err.code !== "EADDRNOTAVAIL" && err.code !== "EAFNOSUPPORT"),
      );
      server.listen(port, host, () => server.close(() => resolve(false)));
    });
    if (taken) return host;
  }
  return undefined;
}

/** Fails before anything starts when a port the topology needs is taken. */
async function checkPorts(processes: readonly SandboxProcess[]): Promise<void> {
  const ports = processes.map((p) => p.port);
  const ranges = [
    ports.filter((p) => p < ports[0] + SENTINEL_PORT_OFFSET),
    ports.filter((p) => p >= ports[0] + SENTINEL_PORT_OFFSET),
  ]
    .filter((r) => r.length > 0)
    .map((r) => (r.length === 1 ? String(r[0]) : `${r[0]}-${r[r.length - 1]}`));
  for (const p of processes) {
    const host = await portTakenOn(p.port);
    if (host) {
      throw new Error(
        `Port ${p.port} (${p.name}) is already in use on ${host}: stop what listens there or choose another --base-port (this topology needs ${ranges.join(" and ")}).`,
      );
    }
  }
}

/** A directory of the sandbox: owner-only, like every file in it (secrets, data, logs). */
function ownerOnlyDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/** Where a process of the sandbox lives. */
function processAt(
  dir: string,
  { name, kind }: { name: string; kind: SandboxProcess["kind"] },
  port: number,
): SandboxProcess {
  return {
    name,
    kind,
    port,
    host: HOST,
    announced: ANNOUNCED_HOST,
    confDir: path.join(dir, name, "conf"),
    dataDir: path.join(dir, name, "data"),
    logFile: path.join(dir, "logs", `${name}.log`),
  };
}

/** Writes a process's rendered files, the same bytes a container or pod gets, all 0600. */
function prepareProcess(dir: string, p: SandboxProcess, files: Files): void {
  for (const d of [path.join(dir, p.name), p.confDir, p.dataDir]) ownerOnlyDir(d);
  for (const [file, content] of Object.entries(files))
    writeFile(path.join(p.confDir, file), content, 0o600);
}

function layoutOf(node: SandboxProcess): ServerLayout {
  return {
    redisConf: path.join(node.confDir, "redis.conf"),
    secretsConf: path.join(node.confDir, "secrets.conf"),
    usersAcl: path.join(node.confDir, "users.acl"),
    dataDir: node.dataDir,
  };
}

/**
 * redis-server arguments in the sandbox: the deployed ones, then the node's port, loopback as the
 * node's own address, and each deviation's.
 */
export function sandboxServerArgs(
  cfg: ResolvedConfig,
  node: SandboxProcess,
  deviations: readonly Deviation[],
): string[] {
  return [
    ...redisServerArgs(cfg, layoutOf(node)),
    "--port",
    String(node.port),
    ...LOOPBACK_BIND,
    ...deviations.flatMap((d) => d.args ?? []),
  ];
}

type Auth = { username: string; password: string };

async function withClient<T>(at: Endpoint, auth: Auth, use: (c: Redis) => Promise<T>): Promise<T> {
  const client = directClient(at.host, at.port, {
    ...auth,
    enableOfflineQueue: false,
    connectTimeout: 1000,
  });
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** The start was aborted (SIGINT/SIGTERM while starting). */
export class StartInterrupted extends Error {}

interface WaitOptions {
  /** Resolves when the process being waited for exits: the wait fails at once. */
  readonly exited?: Promise<unknown>;
  readonly signal?: AbortSignal;
}

/** Polls `check` until it holds; fails after `timeoutMs`, or at once if `exited` resolves. */
async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  options: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void options.exited?.then(() => (gone = true));
  let lastError = "not yet";
  while (Date.now() < deadline) {
    if (options.signal?.aborted)
      throw new StartInterrupted(`interrupted (${String(options.signal.reason)}) while starting`);
    if (gone) throw new Error(`${what}: the process exited while starting`);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms (${lastError})`);
}

const ping = (at: Endpoint, auth: Auth) =>
  withClient(at, auth, async (c) => (await c.ping()) === "PONG");

/** The node serves as a master or a replica (`INFO replication`). */
const servesReplication = (at: Endpoint, auth: Auth) =>
  withClient(at, auth, async (c) => /^role:(master|slave)/m.test(await c.info("replication")));

/** Where this host reaches a process of the sandbox. */
const endpointOf = (p: Pick<SandboxProcess, "host" | "port">): Endpoint => ({
  host: p.host,
  port: p.port,
});

/** The node a sentinel names (its announced name or address, and port), if it is one of `nodes`. */
export function nodeAt<N extends Pick<SandboxProcess, "host" | "announced" | "port">>(
  nodes: readonly N[],
  at: Endpoint,
): N | undefined {
  return nodes.find(
    (n) => n.port === Number(at.port) && (n.announced === at.host || n.host === at.host),
  );
}

/** The names to start, wave by wave: `order`'s waves, then every process it left out. */
export function startWaves(
  processes: readonly SandboxProcess[],
  order: readonly (readonly string[])[] | undefined,
): string[][] {
  const names = processes.map((p) => p.name);
  if (!order) return [names];
  for (const name of order.flat())
    if (!names.includes(name))
      throw new Error(`startOrder names ${name}; the processes are ${names.join(", ")}.`);
  const rest = names.filter((n) => !order.flat().includes(n));
  return [...order.map((w) => [...w]), ...(rest.length > 0 ? [rest] : [])];
}

async function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  if (signal?.aborted)
    throw new StartInterrupted(`interrupted (${String(signal.reason)}) while starting`);
}

/** Resolves once the server answers PING to `auth`. */
export function waitForPing(
  port: number,
  auth: { username: string; password: string },
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<void> {
  return waitUntil(`port ${port}`, () => ping({ host: HOST, port }, auth), timeoutMs, { exited });
}

/** One line: why a process ended before it was ready, and where its log is. */
export function startFailureMessage(
  p: Pick<SandboxProcess, "name" | "port">,
  failure: StartFailure,
): string {
  if (/Address already in use/i.test(failure.output)) {
    return `Port ${p.port} is already in use: ${p.name} could not listen on it (log: ${failure.logFile}).`;
  }
  const said = lastMeaningfulLine(failure.output) ?? "it wrote nothing";
  return `${p.name} exited while starting (${describeExit(failure.status)}): ${said} (log: ${failure.logFile}).`;
}

function lastLogLine(file: string): string {
  try {
    return lastMeaningfulLine(fs.readFileSync(file, "utf8")) ?? "(empty)";
  } catch {
    return "(none)";
  }
}

/** Each node's role as it reports it now (INFO replication), in the order of `nodes`. */
async function currentRoles(
  nodes: readonly SandboxProcess[],
  admin: { username: string; password: string },
): Promise<Array<"master" | "replica">> {
  return Promise.all(
    nodes.map((n) =>
      withClient(endpointOf(n), admin, async (c) => {
        const role = parseInfo(await c.info("replication")).role;
        if (role !== "master" && role !== "slave")
          throw new Error(`${n.name} reports role ${role ?? "none"}`);
        return role === "master" ? ("master" as const) : ("replica" as const);
      }),
    ),
  );
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
  const basePort = options.basePort ?? DEFAULT_BASE_PORT;
  // Long enough for nodes that find no sentinel to choose among themselves (start-redis.sh).
  const timeoutMs = options.readyTimeoutMs ?? (SENTINEL_START_WAIT_SECONDS + 30) * 1000;
  const log = options.log ?? (() => undefined);
  const waitOptions = { signal: options.signal };
  const previous = readPreviousRun(dir);
  claimDir(dir, previous);
  try {
    await stopLeftovers(dir, previous, log);
  } catch (err) {
    releaseDir(dir);
    throw err;
  }

  // Pods mode: the network first (each process's address is its pod's).
  let network: PodNetwork | undefined;
  if (inPods) {
    try {
      ownerOnlyDir(path.join(dir, "logs"));
      network = PodNetwork.create(podsDir(dir), path.join(dir, "logs", "pods.log"));
    } catch (err) {
      releaseDir(dir);
      throw err;
    }
  }
  // Which processes exist is the deployment plan's; where each runs, the sandbox's.
  const planned = plannedProcesses(planDeployment(cfg));
  const specs = new Map(planned.map((p) => [p.name, p]));
  const placed = (spec: ProcessSpec & { kind: SandboxProcess["kind"] }) => {
    const loopbackPort =
      basePort + spec.ordinal + (spec.kind === "sentinel" ? SENTINEL_PORT_OFFSET : 0);
    const at = processAt(dir, spec, loopbackPort);
    if (!network) return at;
    const announced = podDnsName(cfg, spec.kind, spec.ordinal);
    const pod = network.addPod(at.name, [announced]);
    return {
      ...at,
      port: spec.port,
      host: pod.ip,
      announced,
      // The pod's in-memory emptyDir, mounted on the host too.
      confDir: path.join(podsDir(dir), at.name, "volumes", "conf"),
    };
  };
  const ofKind = <K extends ProcessSpec["kind"]>(kind: K) =>
    planned.filter((p): p is ProcessSpec & { kind: K } => p.kind === kind);
  const nodes = ofKind("redis").map(placed);
  const sentinels = ofKind("sentinel").map(placed);
  const all = [...nodes, ...sentinels];
  const [commander] = ofKind("commander");
  const commanderPort = !commander
    ? undefined
    : inPods
      ? commander.port
      : sandboxCommanderPort(cfg, basePort, DEFAULT_BASE_PORT);
  let commanderSecrets: CommanderSecrets | undefined;
  const processesFile = path.join(dir, PROCESSES_FILE);
  const pids = new Map<string, number>();
  const startTimes = new Map<string, number | undefined>();
  const identity = {
    bootId: currentBootId(),
    sandboxStartTime: readProcess(process.pid)?.startTime,
  };
  let pods: Map<string, RunnablePod> | undefined;
  const writeProcesses = () => {
    const content: ProcessesFile = {
      sandboxPid: process.pid,
      processes: all
        .filter((p) => pids.has(p.name))
        .map((p) => {
          const pod = pods?.get(p.name);
          return {
            name: p.name,
            kind: p.kind,
            port: p.port,
            pid: pids.get(p.name)!,
            confDir: p.confDir,
            dataDir: p.dataDir,
            logFile: p.logFile,
            host: p.host,
            announced: p.announced,
            env: pod
              ? pod.exec.env
              : Object.fromEntries(
                  SCRIPT_ENV_KEYS.flatMap((k) => {
                    const value = supervisor.spec(p.name).env?.[k];
                    return value === undefined ? [] : [[k, value]];
                  }),
                ),
            ...(pod
              ? {
                  pod: {
                    ip: pod.pod.ip,
                    netns: pod.pod.netns,
                    exec: pod.exec.prefix,
                    readiness: pod.readiness,
                    preStop: pod.preStop,
                  },
                }
              : {}),
          };
        }),
      ...(network
        ? {
            pods: {
              id: network.id,
              subnet: `${network.subnet}.0/24`,
              pods: Object.fromEntries(
                [...network.pods.values()].map((p) => [
                  p.name,
                  { ip: p.ip, netns: p.netns, mountNs: p.mountNs },
                ]),
              ),
            },
          }
        : {}),
      ...identity,
      started: [...pids].map(([name, pid]) => ({ name, pid, startTime: startTimes.get(name) })),
    };
    writeFileAtomic(processesFile, JSON.stringify(content, null, 2) + "\n", 0o600);
  };
  const supervisor = new Supervisor(log, {
    onStart: (name, pid) => {
      pids.set(name, pid);
      startTimes.set(name, readProcess(pid)?.startTime);
      log(`${name} started (pid ${pid})`);
      try {
        writeProcesses();
      } catch (err) {
        log(`could not write ${processesFile}: ${(err as Error).message}`);
      }
    },
  });
  let scheduler: BackupScheduler | undefined;
  const cleanUp = async () => {
    await scheduler?.stop();
    await supervisor.stopAll();
    await network?.destroy();
    fs.rmSync(processesFile, { force: true });
    releaseDir(dir);
  };

  /** Waits until `p` answers PING; from then on the restart policy applies to it. */
  const waitReady = async (
    p: Pick<SandboxProcess, "name" | "port" | "host" | "logFile">,
    auth: Auth,
    ready: (at: Endpoint, auth: Auth) => Promise<boolean>,
  ) => {
    const failed = () => {
      const failure = supervisor.startFailure(p.name);
      return failure ? new Error(startFailureMessage(p, failure)) : undefined;
    };
    try {
      await waitUntil(
        `${p.name} (${p.host}:${p.port})`,
        () => ready(endpointOf(p), auth),
        timeoutMs,
        {
          ...waitOptions,
          exited: supervisor.exited(p.name),
        },
      );
    } catch (err) {
      if (err instanceof StartInterrupted) throw err;
      throw (
        failed() ??
        new Error(
          `${(err as Error).message}; its log ends with: ${lastLogLine(p.logFile)} (log: ${p.logFile}).`,
        )
      );
    }
    supervisor.markReady(p.name);
    const failure = failed();
    if (failure) throw failure;
  };

  let connection: ConnectionInfo;
  let secrets: SecretValues;
  const connectionFile = path.join(dir, "connection.json");
  try {
    if (!inPods) await checkPorts(all);
    if (commanderPort !== undefined && !inPods) {
      const host = await portTakenOn(commanderPort);
      if (host)
        throw new Error(
          `Port ${commanderPort} (Redis Commander) is already in use on ${host}: stop what listens there, or choose another --base-port (Commander listens on commanderPort shifted as far as the base port is from ${DEFAULT_BASE_PORT}).`,
        );
    }
    ownerOnlyDir(dir);
    ownerOnlyDir(path.join(dir, "logs"));
    // A connection.json left from an earlier run must not pass for this one's.
    fs.rmSync(connectionFile, { force: true });
    secrets = loadOrCreateSecrets(cfg, dir);
    // What the start scripts get from Kubernetes or Docker: stable addresses of the group.
    const groupEnv = {
      ...process.env,
      DEFAULT_MASTER: `${nodes[0].announced} ${nodes[0].port}`,
      SENTINELS: sentinels.map((s) => `${s.announced}:${s.port}`).join(" "),
      NODES: nodes.map((n) => `${n.announced}:${n.port}`).join(" "),
    };
    // Host programs of pods mode (Commander, the backup, a client for drills) in pods of their own.
    const clientPod = network ? hostProgramPod(network, dir, "client") : undefined;
    const commanderPod =
      network && commanderPort !== undefined
        ? hostProgramPod(network, dir, "commander")
        : undefined;
    const backupPod =
      network && cfg.backup.enabled ? hostProgramPod(network, dir, "backup") : undefined;
    void clientPod;
    const backupEntry = prepareBackup(cfg, dir, secrets, {
      nodes: grouped ? groupEnv.NODES : `${nodes[0].host}:${nodes[0].port}`,
      sentinels: grouped ? groupEnv.SENTINELS : "",
    });
    if (backupPod && network) {
      // The contract's `sh <script>` takes one backup: from the backup pod, where the names resolve.
      const wrapper = path.join(path.dirname(backupEntry.script), "backup-in-pod.sh");
      writeFile(
        wrapper,
        [
          "#!/bin/sh",
          "# Runs backup.sh in the sandbox's backup pod (its network namespace and hosts file); needs root.",
          `exec ${network.enter(backupPod).join(" ")} sh ${backupEntry.script} "$@"`,
          "",
        ].join("\n"),
        0o700,
      );
      backupEntry.script = wrapper;
    }
    // As a deployment's restore step: node 0's data is seeded before it starts, only when empty;
    // the seed runs while the rest is prepared.
    let restoring: Promise<string> | undefined;
    if (options.restoreFrom !== undefined || cfg.backup.restore !== undefined) {
      ownerOnlyDir(path.join(dir, nodes[0].name));
      ownerOnlyDir(nodes[0].dataDir);
      restoring = restoreNode(cfg, dir, nodes[0].dataDir, options.restoreFrom);
    }
    // Pods bind the production addresses for real: only the loopback mode deviates there.
    const deviations = detectDeviations(cfg).filter((d) => !inPods || d.setting !== "bind");
    if (restoring) log(await restoring);

    // Each process's start, by name. A group's processes start together (or in the waves of
    // options.startOrder): a node chooses its role from the sentinels or the other nodes.
    const launchers = new Map<string, () => void>();
    if (network) {
      for (const p of all) ownerOnlyDir(path.join(dir, p.name));
      pods = prepareDeploymentPods(
        cfg,
        network,
        dir,
        secrets,
        deviations,
        all.map((p) => ({
          name: p.name,
          kind: p.kind,
          ordinal: Number(p.name.split("-").at(-1)),
          claim: p.dataDir,
        })),
      );
      for (const p of all) {
        const [command, ...args] = pods.get(p.name)!.main;
        launchers.set(p.name, () =>
          supervisor.start({
            name: p.name,
            command,
            args,
            cwd: dir,
            logFile: p.logFile,
            env: { PATH: process.env.PATH },
          }),
        );
      }
    } else {
      const specOf = (p: SandboxProcess) => {
        const spec = specs.get(p.name);
        if (!spec?.files || !spec.script)
          throw new Error(`the deployment plan has no files or start script for ${p.name}`);
        return { files: spec.files, script: spec.script };
      };
      // The plan's files of each process; redis.conf with the deviations.
      const filesOf = (p: SandboxProcess): Files => {
        const { files } = specOf(p);
        const plain = { ...files.plain };
        if (plain["redis.conf"] !== undefined)
          plain["redis.conf"] = applyDeviations(plain["redis.conf"], deviations);
        return { ...plain, ...files.secret({ values: secrets }) };
      };
      for (const p of all) prepareProcess(dir, p, filesOf(p));
      const script = (p: SandboxProcess) => path.join(p.confDir, specOf(p).script);
      const launchArgs = (node: SandboxProcess, extra: string[]) => [
        script(node),
        ...sandboxServerArgs(cfg, node, deviations),
        ...extra,
      ];
      for (const node of nodes) {
        const dirs = { CONF_DIR: node.confDir, DATA_DIR: node.dataDir };
        launchers.set(node.name, () =>
          supervisor.start({
            name: node.name,
            command: "sh",
            // As deployed: every node starts through start-redis.sh.
            args: launchArgs(node, []),
            cwd: node.dataDir,
            logFile: node.logFile,
            env: grouped
              ? { ...groupEnv, ...dirs, NODE_HOST: ANNOUNCED_HOST, NODE_PORT: String(node.port) }
              : { ...process.env, ...dirs },
          }),
        );
      }
      for (const sentinel of sentinels)
        launchers.set(sentinel.name, () =>
          supervisor.start({
            name: sentinel.name,
            command: "sh",
            args: [script(sentinel), "--port", String(sentinel.port), ...LOOPBACK_BIND],
            cwd: sentinel.dataDir,
            logFile: sentinel.logFile,
            env: {
              ...groupEnv,
              CONF_DIR: sentinel.confDir,
              STATE_DIR: sentinel.dataDir,
              NODE_HOST: ANNOUNCED_HOST,
            },
          }),
        );
    }
    const probe = credentials(cfg, secrets, "probe");
    const sentinelClient = credentials(cfg, secrets, "sentinel-client");
    for (const [w, wave] of startWaves(all, options.startOrder).entries()) {
      if (w > 0) await sleepUnlessAborted(options.startGapMs ?? 2000, options.signal);
      for (const name of wave) launchers.get(name)!();
    }
    /** How Commander names the group: as the group names itself (pods), or where this host reaches it. */
    const commanderView = (p: SandboxProcess): Endpoint =>
      inPods ? { host: p.announced, port: p.port } : endpointOf(p);

    /** Commander from the npm package, with the container's renderer and the sandbox's addresses. */
    const startCommander = async (port: number): Promise<ConnectionInfo["commander"]> => {
      const stored = secrets as Record<string, string>;
      commanderSecrets = {
        password: stored[COMMANDER_SECRET_KEYS.password],
        sessionSecret: stored[COMMANDER_SECRET_KEYS.sessionSecret],
        salt: stored[COMMANDER_SECRET_KEYS.salt],
      };
      const address = commanderPod?.ip ?? HOST;
      const { confDir, launcher } = prepareCommander(cfg, dir, secrets, commanderSecrets, {
        listen: { address, port },
        redis: commanderView(nodes[0]),
        sentinels: sentinels.map(commanderView),
      });
      const logFile = commanderPaths(dir).logFile;
      const [command, ...prefix] =
        network && commanderPod
          ? [...network.enter(commanderPod), process.execPath]
          : [process.execPath];
      supervisor.start({
        name: "commander",
        command,
        args: [...prefix, launcher],
        cwd: confDir,
        logFile,
        // NODE_ENV as in the image.
        env: {
          ...process.env,
          NODE_ENV: "production",
          COMMANDER_CONF_DIR: confDir,
          COMMANDER_HOME: commanderHome(),
        },
      });
      await waitReady(
        { name: "commander", port, host: address, logFile },
        { username: "", password: "" },
        () => commanderHealthy(port, address),
      );
      return {
        url: `http://${address}:${port}`,
        username: cfg.commander.username,
        password: commanderSecrets.password,
      };
    };
    // Commander starts beside the Redis processes and connects as they come up.
    const commanderUp = commanderPort === undefined ? undefined : startCommander(commanderPort);
    // A node is up when it serves INFO as itself (a choosing node's stand-in does not).
    await Promise.all([
      ...nodes.map((node) => waitReady(node, probe, servesReplication)),
      commanderUp,
    ]);
    await Promise.all(sentinels.map((sentinel) => waitReady(sentinel, sentinelClient, ping)));
    if (grouped) await waitForGroup(cfg, nodes, sentinels, secrets, timeoutMs, waitOptions);

    const built = buildConnection(cfg, secrets, {
      redis: nodes.map(endpointOf),
      sentinels: sentinels.map(endpointOf),
      deviations: deviations.map((d) => `${d.setting}: ${d.reason}`),
      backup: cfg.backup.enabled ? backupEntry : undefined,
      commander: await commanderUp,
    });
    // The roles as the nodes report them when the file is written, not as planned: with state
    // kept in DIR from an earlier run the group may have another master. Clients ask the
    // sentinels, since a failover changes the roles after this.
    const roles = await currentRoles(nodes, credentials(cfg, secrets, "admin"));
    connection = {
      ...built,
      redis: built.redis.map((r, i) => ({ ...r, role: roles[i] })),
      // The sentinels name the pods by DNS names this host does not resolve: where each is.
      ...(inPods
        ? {
            natMap: Object.fromEntries(all.map((p) => [`${p.announced}:${p.port}`, endpointOf(p)])),
          }
        : {}),
    };
    writeFile(connectionFile, JSON.stringify(connection, null, 2) + "\n", 0o600);
    if (cfg.backup.enabled) {
      scheduler = new BackupScheduler(
        cfg.backup.schedule,
        backupEntry.script,
        backupPaths(dir).logFile,
        log,
      );
      scheduler.start();
    }
  } catch (err) {
    await cleanUp();
    // One line: the cause, and the log of the process that failed where one did.
    throw new Error((err as Error).message.replace(/\s*\n\s*/g, " "));
  }

  return {
    config: cfg,
    dir,
    connection,
    secrets,
    nodes,
    sentinels,
    supervisor,
    connectionFile,
    processesFile,
    commander:
      commanderPort !== undefined && commanderSecrets
        ? { port: commanderPort, secrets: commanderSecrets }
        : undefined,
    isolation,
    network,
    pods,
    stop: cleanUp,
  };
}

/** DIR/processes.json of the sandbox running in `dir`; fails when none runs there. */
export function readProcesses(dir: string): ProcessesFile {
  const file = path.join(path.resolve(dir), PROCESSES_FILE);
  let content: ProcessesFile;
  try {
    content = JSON.parse(fs.readFileSync(file, "utf8")) as ProcessesFile;
  } catch (err) {
    throw new Error(`no running sandbox in ${dir}: ${file} (${(err as Error).message}).`);
  }
  if (!Number.isInteger(content?.sandboxPid) || !Array.isArray(content.processes))
    throw new Error(`${file} is not a sandbox's processes file.`);
  if (!isAlive(content.sandboxPid))
    throw new Error(`the sandbox of ${dir} (pid ${content.sandboxPid}) is not running.`);
  return content;
}

/**
 * Ready means: every sentinel names the same master, which has every replica attached, and each
 * sentinel sees all replicas and peers.
 */
async function waitForGroup(
  cfg: ResolvedConfig,
  nodes: readonly SandboxProcess[],
  sentinels: readonly SandboxProcess[],
  secrets: SecretValues,
  timeoutMs: number,
  options: WaitOptions,
): Promise<void> {
  const replicas = nodes.length - 1;
  const name = cfg.sentinel.masterName;
  const logs = (ps: readonly SandboxProcess[]) => `(logs: ${ps.map((p) => p.logFile).join(", ")})`;
  const sentinelClient = credentials(cfg, secrets, "sentinel-client");
  await waitUntil(
    `replicas attached to the master the sentinels name ${logs(nodes)}`,
    async () => {
      const named = await Promise.all(
        sentinels.map((s) =>
          withClient(endpointOf(s), sentinelClient, async (c) => {
            const [host, port] = (await c.call(
              "SENTINEL",
              "GET-MASTER-ADDR-BY-NAME",
              name,
            )) as string[];
            return nodeAt(nodes, { host, port: Number(port) });
          }),
        ),
      );
      const master = named[0];
      if (!master || named.some((n) => n !== master)) return false;
      return withClient(endpointOf(master), credentials(cfg, secrets, "admin"), async (c) => {
        const info = parseInfo(await c.info("replication"));
        return info.role === "master" && Number(info.connected_slaves ?? 0) >= replicas;
      });
    },
    timeoutMs,
    options,
  );
  for (const sentinel of sentinels) {
    await waitUntil(
      `${sentinel.name} discovering the group ${logs([sentinel])}`,
      () =>
        withClient(endpointOf(sentinel), sentinelClient, async (c) => {
          const known = (await c.call("SENTINEL", "REPLICAS", name)) as unknown[];
          const peers = (await c.call("SENTINEL", "SENTINELS", name)) as unknown[];
          return known.length >= replicas && peers.length >= sentinels.length - 1;
        }),
      timeoutMs,
      options,
    );
  }
}
