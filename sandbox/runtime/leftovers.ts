import * as fs from "node:fs";
import * as path from "node:path";
import { STOP_GRACE_SECONDS } from "./lifetime";

/**
 * What a sandbox that ended left on its --dir, and what else holds the dir. A sandbox's processes
 * end with it (sandbox/runtime/lifetime.ts); should some still run (the reaper was killed too and a Redis
 * refused SIGTERM, or a sandbox of an earlier release), the next sandbox on the dir stops them
 * before it touches anything, and refuses to start while a process it cannot recognise as one of
 * them holds a data dir. A pid alone proves nothing, since pids are reused: a recorded process is
 * recognised by its pid, its start time and the boot both belong to.
 */

/** A process as /proc shows it. */
export interface ProcessInfo {
  readonly pid: number;
  readonly comm: string;
  /** "R", "S", "D", "Z"…: a zombie ("Z") has ended and only waits to be collected. */
  readonly state: string;
  readonly ppid: number;
  readonly pgid: number;
  /** Clock ticks after boot: with the pid and the boot, it tells a process from a later one. */
  readonly startTime: number;
}

/** A process a sandbox started, as DIR/processes.json records it. */
export interface StartedProcess {
  readonly name: string;
  /** Also its process group's id: the sandbox starts each process as a group's leader. */
  readonly pid: number;
  readonly startTime?: number;
}

/** What DIR/processes.json tells of the sandbox that wrote it. */
export interface PreviousRun {
  readonly sandboxPid: number;
  readonly sandboxStartTime?: number;
  readonly bootId?: string;
  /** Every process it started (absent in files of earlier releases). */
  readonly started?: readonly StartedProcess[];
  /** Its Redis nodes and sentinels, with the data dir each runs in. */
  readonly processes: ReadonlyArray<{ name: string; pid: number; dataDir: string }>;
}

/** A process group of an ended sandbox, with the processes of it that still run. */
export interface Leftover {
  readonly name: string;
  readonly pgid: number;
  readonly pids: readonly number[];
}

/** A process that holds a directory of the sandbox. */
export interface Holder {
  readonly pid: number;
  readonly comm: string;
  readonly dir: string;
}

/** /proc/sys/kernel/random/boot_id: differs after each boot. */
export function currentBootId(): string {
  return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
}

/** The process with this pid, from /proc/<pid>/stat; undefined when there is none. */
export function readProcess(pid: number): ProcessInfo | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may hold anything: the fields follow its last ")".
  const close = stat.lastIndexOf(")");
  const fields = stat.slice(close + 2).split(" ");
  return {
    pid,
    comm: stat.slice(stat.indexOf("(") + 1, close),
    state: fields[0],
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    startTime: Number(fields[19]),
  };
}

/** Every process of this machine (in this pid namespace). */
export function listProcesses(): ProcessInfo[] {
  return fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readProcess(Number(entry)))
    .filter((p): p is ProcessInfo => p !== undefined);
}

const running = (p: ProcessInfo | undefined): p is ProcessInfo =>
  p !== undefined && p.state !== "Z";

/** The working directory of a process, when this user may see it. */
export function cwdOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** A process's command line, its arguments joined by blanks ("" when this user may not see it). */
export function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/** How `leftoverGroups` looks at a process beyond its /proc/<pid>/stat. */
export interface Probe {
  readonly cwd: (pid: number) => string | undefined;
  readonly command: (pid: number) => string;
}

const PROC: Probe = { cwd: cwdOf, command: commandOf };

/** Its working directory and open files: what of the file system a process holds. */
function heldPaths(pid: number): string[] {
  const cwd = cwdOf(pid);
  let fds: string[] = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    // gone, or another user's
  }
  const files = fds.flatMap((fd) => {
    try {
      return [fs.readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return [];
    }
  });
  return cwd === undefined ? files : [cwd, ...files];
}

const inside = (file: string, dir: string) => file === dir || file.startsWith(dir + path.sep);

/** Whether the sandbox `pid` names still runs: alive, not a zombie, and the one `previous` recorded. */
export function sandboxRuns(
  pid: number,
  previous: PreviousRun | undefined,
  bootId = currentBootId(),
): boolean {
  const p = readProcess(pid);
  if (!running(p)) return false;
  if (previous?.sandboxPid !== pid || previous.sandboxStartTime === undefined) return true;
  return previous.bootId === bootId && p.startTime === previous.sandboxStartTime;
}

/**
 * The process groups the ended sandbox `previous` on `dir` left running. A group is its own when
 * its leader still runs with the recorded start time, or when the leader has ended and processes
 * it left in the group still run, started after it. Records of earlier releases have no start
 * times and do not list Commander: then a leader must run in its recorded data dir, and Commander
 * is the process that runs the dir's launcher.
 */
export function leftoverGroups(
  previous: PreviousRun,
  live: readonly ProcessInfo[],
  bootId: string,
  dir: string,
  probe: Probe = PROC,
): Leftover[] {
  if (previous.bootId !== undefined && previous.bootId !== bootId) return [];
  const byPid = new Map(live.map((p) => [p.pid, p]));
  const recorded: ReadonlyArray<StartedProcess & { dataDir?: string }> =
    previous.started ?? previous.processes;
  const groups: Leftover[] = [];
  for (const r of recorded) {
    const leader = byPid.get(r.pid);
    const members = (since: number) =>
      live.filter((p) => running(p) && p.pgid === r.pid && p.startTime >= since).map((p) => p.pid);
    let pids: number[];
    if (running(leader)) {
      const same =
        r.startTime !== undefined
          ? leader.startTime === r.startTime
          : r.dataDir !== undefined && probe.cwd(r.pid) === r.dataDir;
      if (!same) continue;
      pids = leader.pgid === r.pid ? members(leader.startTime) : [r.pid];
    } else {
      // Without a start time, a group whose leader has gone cannot be told from a later one.
      if (r.startTime === undefined) continue;
      pids = members(r.startTime);
    }
    if (pids.length > 0) groups.push({ name: r.name, pgid: r.pid, pids });
  }
  if (previous.started === undefined) {
    const launcher = path.join(dir, "commander", "start-commander.js");
    // It ran as the leader of a group of its own, as every process of the sandbox.
    for (const p of live)
      if (running(p) && p.pgid === p.pid && probe.command(p.pid).split(" ").includes(launcher))
        groups.push({ name: "commander", pgid: p.pid, pids: [p.pid] });
  }
  return groups;
}

/** The first process (not this one, nor one of `except`) whose cwd or open files are in `dirs`. */
export function findHolder(
  dirs: readonly string[],
  live: readonly ProcessInfo[],
  except: ReadonlySet<number>,
  held: (pid: number) => string[] = heldPaths,
): Holder | undefined {
  for (const p of live) {
    if (!running(p) || p.pid === process.pid || except.has(p.pid)) continue;
    for (const file of held(p.pid)) {
      const dir = dirs.find((d) => inside(file, d));
      if (dir) return { pid: p.pid, comm: p.comm, dir };
    }
  }
  return undefined;
}

/** The directories of DIR the sandbox's processes run in and write: `redis-0/`, `sentinel-1/`… */
export function processDirs(dir: string): string[] {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^(redis|sentinel)-\d+$|^commander$|^pods$/.test(e))
    .map((e) => path.join(dir, e));
}

/**
 * Fails, touching nothing, when a process that is not a leftover of `previous` (an ended sandbox
 * on `dir`) holds one of the dir's process directories.
 */
export function refuseForeignHolders(dir: string, previous: PreviousRun | undefined): void {
  const live = listProcesses();
  const bootId = currentBootId();
  const ended = previous && !sandboxRuns(previous.sandboxPid, previous, bootId);
  const ours = new Set(
    ended ? leftoverGroups(previous, live, bootId, dir).flatMap((g) => g.pids) : [],
  );
  const holder = findHolder(processDirs(dir), live, ours);
  if (holder)
    throw new Error(
      `--dir ${dir}: process ${holder.pid} (${holder.comm}) holds ${holder.dir}, and no sandbox that used this dir started it: stop it, or choose another --dir.`,
    );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `signal` to each group (to the pids alone if the group is gone). */
function signalGroups(groups: readonly Leftover[], signal: NodeJS.Signals): void {
  for (const g of groups) {
    try {
      process.kill(-g.pgid, signal);
    } catch {
      for (const pid of g.pids) {
        try {
          process.kill(pid, signal);
        } catch {
          // ended meanwhile
        }
      }
    }
  }
}

/** The pids of `pids` still running, each still the process it was (same start time). */
function stillRunning(pids: ReadonlyMap<number, number>): number[] {
  return [...pids]
    .filter(([pid, start]) => {
      const p = readProcess(pid);
      return running(p) && p.startTime === start;
    })
    .map(([pid]) => pid);
}

/**
 * Stops what the ended sandbox `previous` left running on its dir, as the sandbox stops its own:
 * SIGTERM to each group, SIGKILL after the grace period. Resolves when all of it has ended.
 */
export async function stopLeftovers(
  dir: string,
  previous: PreviousRun | undefined,
  log: (line: string) => void,
): Promise<void> {
  if (!previous) return;
  const bootId = currentBootId();
  if (sandboxRuns(previous.sandboxPid, previous, bootId)) return;
  const live = listProcesses();
  const groups = leftoverGroups(previous, live, bootId, dir);
  if (groups.length === 0) return;
  const starts = new Map(live.map((p) => [p.pid, p.startTime]));
  const pids = new Map(groups.flatMap((g) => g.pids.map((pid) => [pid, starts.get(pid)!])));
  for (const g of groups)
    log(
      `stopping ${g.name} (pid ${g.pids.join(", ")}), left running by the sandbox that ended (pid ${previous.sandboxPid})`,
    );
  const began = Date.now();
  signalGroups(groups, "SIGTERM");
  const waitUntilEnded = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (stillRunning(pids).length > 0 && Date.now() < deadline) await sleep(50);
    return stillRunning(pids);
  };
  if ((await waitUntilEnded(STOP_GRACE_SECONDS * 1000)).length > 0) {
    signalGroups(groups, "SIGKILL");
    const left = await waitUntilEnded(2000);
    if (left.length > 0)
      throw new Error(
        `could not stop pid ${left.join(", ")}, left running by the sandbox that ended (pid ${previous.sandboxPid}).`,
      );
  }
  log(`stopped what the sandbox that ended left running, in ${Date.now() - began} ms`);
}
