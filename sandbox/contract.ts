import * as fs from "node:fs";
import * as path from "node:path";
import { RunnablePod } from "./runtime/kubelet";
import { StartedProcess } from "./runtime/leftovers";
import { PodNetwork } from "./runtime/pod-network";
import { SandboxProcess } from "./process-list";

/** DIR/processes.json: what runs (see ProcessesFile). */
export const PROCESSES_FILE = "processes.json";
/** DIR/connection.json: how to connect, written once every process is ready. */
export const CONNECTION_FILE = "connection.json";

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
  /** The sandbox's control socket: a drill asks it to recreate a pod (sandbox/control.ts). */
  readonly control: string;
  /** Pods by sandbox name, the client pod (`client`) among them: address and namespace. */
  readonly pods: Readonly<
    Record<string, { readonly ip: string; readonly netns: string; readonly mountNs: string }>
  >;
}

/** Where a pods-mode sandbox serves its control socket: in its network's root-only pin dir. */
export const controlSocketOf = (network: Pick<PodNetwork, "pinDir">) =>
  path.join(network.pinDir, "control.sock");

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

/** What the sandbox knows of its processes when it rewrites processes.json. */
export interface RunState {
  readonly processes: readonly SandboxProcess[];
  /** Current pid and start time of every process started so far, by name. */
  readonly pids: ReadonlyMap<string, number>;
  readonly startTimes: ReadonlyMap<string, number | undefined>;
  /** The environment a loopback process was started with. */
  readonly envOf: (name: string) => Readonly<Record<string, string | undefined>> | undefined;
  readonly pods?: ReadonlyMap<string, RunnablePod>;
  readonly network?: PodNetwork;
  readonly identity: { readonly bootId?: string; readonly sandboxStartTime?: number };
}

function entryOf(state: RunState, p: SandboxProcess): SandboxProcessEntry {
  const pod = state.pods?.get(p.name);
  return {
    name: p.name,
    kind: p.kind,
    port: p.port,
    pid: state.pids.get(p.name)!,
    confDir: p.confDir,
    dataDir: p.dataDir,
    logFile: p.logFile,
    host: p.host,
    announced: p.announced,
    env: pod
      ? pod.exec.env
      : Object.fromEntries(
          SCRIPT_ENV_KEYS.flatMap((k) => {
            const value = state.envOf(p.name)?.[k];
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
}

function podsInfoOf(network: PodNetwork): PodsInfo {
  return {
    id: network.id,
    subnet: `${network.subnet}.0/24`,
    control: controlSocketOf(network),
    pods: Object.fromEntries(
      [...network.pods.values()].map((p) => [
        p.name,
        { ip: p.ip, netns: p.netns, mountNs: p.mountNs },
      ]),
    ),
  };
}

/** The content of processes.json for `state`. */
export function processesFileContent(state: RunState): ProcessesFile {
  return {
    sandboxPid: process.pid,
    processes: state.processes.filter((p) => state.pids.has(p.name)).map((p) => entryOf(state, p)),
    ...(state.network ? { pods: podsInfoOf(state.network) } : {}),
    ...state.identity,
    started: [...state.pids].map(([name, pid]) => ({
      name,
      pid,
      startTime: state.startTimes.get(name),
    })),
  };
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
