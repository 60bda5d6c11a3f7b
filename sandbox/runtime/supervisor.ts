import { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { spawnTied } from "./lifetime";

export interface ProcessSpec {
  /** Unique name, used in logs ("redis-0", "sentinel-1", …). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** stdout and stderr are appended here. */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** How a process ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all (spawn error). */
  readonly error?: string;
}

/** A process that ended before its owner saw it ready (`markReady`): it is not restarted. */
export interface StartFailure {
  readonly name: string;
  readonly status: ExitStatus;
  readonly logFile: string;
  /** What the process wrote to its log in that run. */
  readonly output: string;
}

/**
 * When a process that died is started again. A process that ran at least `stableAfterMs` is
 * restarted after `baseDelayMs`; each further exit within `stableAfterMs` of its start doubles the
 * delay, up to `maxDelayMs` (like Kubernetes' CrashLoopBackOff, scaled to a sandbox).
 */
export interface RestartPolicy {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  stableAfterMs: 10_000,
};

/**
 * The delay before the next start of a process that ran `ranMs` and had `quickExits` exits in a
 * row before that one, each within `stableAfterMs` of its start; and the new count.
 */
export function nextRestart(
  policy: RestartPolicy,
  quickExits: number,
  ranMs: number,
): { delayMs: number; quickExits: number } {
  const streak = ranMs >= policy.stableAfterMs ? 0 : quickExits;
  return {
    delayMs: Math.min(policy.baseDelayMs * 2 ** streak, policy.maxDelayMs),
    quickExits: streak + 1,
  };
}

/** A Redis log line's prefix: "1234:M 01 Jan 2024 10:00:00.000 # ". */
const REDIS_LOG_PREFIX =
  /^\d+:[XCSM] \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}\.\d{3} [.\-*#] /;

/** The last line of a log that says something, without Redis's pid/time prefix. */
export function lastMeaningfulLine(output: string): string | undefined {
  const lines = output
    .split(/\r?\n/)
    .map((line) => line.replace(REDIS_LOG_PREFIX, "").trim())
    // Blank lines and Redis's banners ("*** FATAL CONFIG FILE ERROR ***") frame the message.
    .filter((line) => line !== "" && !/^\*+[^*]*\*+$/.test(line));
  return lines.at(-1);
}

/** "code 1", "SIGKILL", or the spawn error. */
export function describeExit(status: ExitStatus): string {
  if (status.error) return status.error;
  return status.signal ?? `code ${status.code}`;
}

export type ProcessState = "starting" | "running" | "restarting" | "failed" | "paused" | "stopped";

interface Managed {
  spec: ProcessSpec;
  /** Stopped on purpose (`pause`): not restarted until `resume`. */
  paused: boolean;
  /** The owner saw the process ready at least once: from then on an exit means a restart. */
  ready: boolean;
  child?: ChildProcess;
  /** False once the current child has exited. */
  alive: boolean;
  restarts: number;
  /** Exits in a row, each soon after its start: the exponent of the restart delay. */
  quickExits: number;
  startedAt: number;
  /** Where the current run's output begins in the log file. */
  logOffset: number;
  restartTimer?: NodeJS.Timeout;
  failure?: StartFailure;
  /** Resolves when the current child has exited. */
  exited: Promise<ExitStatus>;
}

export type Logger = (line: string) => void;

export interface SupervisorOptions {
  readonly restart?: Partial<RestartPolicy>;
  /** Called each time a process is (re)started, with its pid. */
  readonly onStart?: (name: string, pid: number) => void;
}

const STOP_TIMEOUT_MS = 10_000;
const STOP_RESEND_MS = 1_000;

/** The output a file got from `offset` on. */
function readFrom(file: string, offset: number): string {
  try {
    const fd = fs.openSync(file, "r");
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.max(0, size - offset);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, offset);
      return buffer.toString("utf8");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return "";
  }
}

/**
 * Runs processes like a container restart policy: a process that ran and exits while the
 * supervisor is running is logged and started again with the same spec, after a delay that grows
 * while it keeps exiting right after each start (`RestartPolicy`). A process that exits before its
 * owner called `markReady` never started properly (bad config, port in use, missing program):
 * restarting it would only repeat the failure, so it stays down and `startFailure` tells why.
 * `stopAll` ends every process it started; should this process end first, they end with it
 * (`spawnTied`).
 */
export class Supervisor {
  private readonly processes = new Map<string, Managed>();
  private readonly policy: RestartPolicy;
  private stopping = false;

  constructor(
    private readonly log: Logger = () => undefined,
    private readonly options: SupervisorOptions = {},
  ) {
    this.policy = { ...DEFAULT_RESTART_POLICY, ...options.restart };
  }

  start(spec: ProcessSpec): void {
    if (this.processes.has(spec.name))
      throw new Error(`process ${spec.name} is already supervised`);
    const managed: Managed = {
      spec,
      paused: false,
      ready: false,
      alive: false,
      restarts: 0,
      quickExits: 0,
      startedAt: 0,
      logOffset: 0,
      exited: Promise.resolve({ code: null, signal: null }),
    };
    this.processes.set(spec.name, managed);
    this.launch(managed);
  }

  /** The owner saw the process ready: from now on an exit is followed by a restart. */
  markReady(name: string): void {
    this.get(name).ready = true;
  }

  /** Why the process ended before it was ready, once it has. */
  startFailure(name: string): StartFailure | undefined {
    return this.get(name).failure;
  }

  state(name: string): ProcessState {
    const m = this.get(name);
    if (m.paused) return "paused";
    if (m.failure) return "failed";
    if (m.alive) return m.ready ? "running" : "starting";
    if (m.restartTimer) return "restarting";
    return "stopped";
  }

  /** Replaces the spec of a supervised process; used from its next (re)start on. */
  updateSpec(name: string, spec: Partial<ProcessSpec>): void {
    const managed = this.get(name);
    managed.spec = { ...managed.spec, ...spec, name };
  }

  spec(name: string): ProcessSpec {
    return this.get(name).spec;
  }

  pid(name: string): number | undefined {
    return this.get(name).child?.pid;
  }

  restarts(name: string): number {
    return this.get(name).restarts;
  }

  names(): string[] {
    return [...this.processes.keys()];
  }

  /** Sends a signal (e.g. SIGKILL to simulate node loss); the restart policy applies. */
  signal(name: string, signal: NodeJS.Signals): void {
    const managed = this.get(name);
    if (managed.alive && managed.child) signalGroup(managed.child, signal);
  }

  /** Resolves when the named process's current child has exited. */
  exited(name: string): Promise<ExitStatus> {
    return this.get(name).exited;
  }

  /**
   * Stops a process without restarting it (an outage that lasts), until `resume`: SIGKILL (a
   * crash), or SIGTERM (a clean stop; SIGKILL after the stop timeout).
   */
  async pause(name: string, signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    const managed = this.get(name);
    managed.paused = true;
    clearTimeout(managed.restartTimer);
    managed.restartTimer = undefined;
    const child = managed.child;
    if (managed.alive && child) {
      signalGroup(child, signal);
      const timer = setTimeout(() => signalGroup(child, "SIGKILL"), STOP_TIMEOUT_MS);
      await managed.exited;
      clearTimeout(timer);
    }
    await managed.exited;
  }

  resume(name: string): void {
    const managed = this.get(name);
    if (!managed.paused) return;
    managed.paused = false;
    this.launch(managed);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.processes.values()].map(async (m) => {
        clearTimeout(m.restartTimer);
        m.restartTimer = undefined;
        const child = m.child;
        if (!child || !m.alive) return;
        signalGroup(child, "SIGTERM");
        // A start script that gets SIGTERM just before it execs Redis may lose it (the shell
        // defers its trap, exec replaces the shell): ask again each second, then kill.
        const again = setInterval(() => child.kill("SIGTERM"), STOP_RESEND_MS);
        const timer = setTimeout(() => signalGroup(child, "SIGKILL"), STOP_TIMEOUT_MS);
        await m.exited;
        clearInterval(again);
        clearTimeout(timer);
      }),
    );
  }

  private get(name: string): Managed {
    const managed = this.processes.get(name);
    if (!managed) throw new Error(`no supervised process ${name}`);
    return managed;
  }

  private launch(managed: Managed): void {
    const { spec } = managed;
    let settle: (status: ExitStatus) => void = () => undefined;
    managed.exited = new Promise((resolve) => (settle = resolve));
    managed.startedAt = Date.now();
    managed.failure = undefined;
    let ended = false;
    const end = (status: ExitStatus) => {
      if (ended) return;
      ended = true;
      managed.alive = false;
      settle(status);
      this.afterExit(managed, status);
    };

    let child: ChildProcess;
    try {
      // Owner-only like the rest of the sandbox dir: a log is no place for others to look either.
      const out = fs.openSync(spec.logFile, "a", 0o600);
      try {
        fs.fchmodSync(out, 0o600);
        managed.logOffset = fs.fstatSync(out).size;
        // Its own process group, signalled as a whole like a container: a start script's
        // helpers (the stand-in server of a choosing node) go with it.
        child = spawnTied(spec.command, spec.args, {
          cwd: spec.cwd,
          env: spec.env ?? process.env,
          stdio: ["ignore", out, out],
        });
      } finally {
        fs.closeSync(out);
      }
    } catch (err) {
      managed.child = undefined;
      end({ code: null, signal: null, error: (err as Error).message });
      return;
    }
    managed.child = child;
    managed.alive = true;
    child.once("exit", (code, signal) => end({ code, signal }));
    child.on("error", (err) => {
      // Without a pid the program never ran; otherwise a signal could not be sent.
      if (child.pid === undefined) end({ code: null, signal: null, error: err.message });
      else this.log(`${spec.name}: ${err.message}`);
    });
    if (child.pid !== undefined) this.options.onStart?.(spec.name, child.pid);
  }

  private afterExit(managed: Managed, status: ExitStatus): void {
    const { spec } = managed;
    if (this.stopping || managed.paused) return;
    if (!managed.ready) {
      managed.failure = {
        name: spec.name,
        status,
        logFile: spec.logFile,
        output: readFrom(spec.logFile, managed.logOffset),
      };
      this.log(`${spec.name} exited during start-up (${describeExit(status)}); not restarting`);
      return;
    }
    const ranMs = Date.now() - managed.startedAt;
    const next = nextRestart(this.policy, managed.quickExits, ranMs);
    managed.quickExits = next.quickExits;
    managed.restarts += 1;
    this.log(
      `${spec.name} exited (${describeExit(status)}) after ${ranMs} ms; restarting in ${next.delayMs} ms`,
    );
    managed.restartTimer = setTimeout(() => {
      managed.restartTimer = undefined;
      if (!this.stopping && !managed.paused) this.launch(managed);
    }, next.delayMs);
  }
}

/** Sends `signal` to the process group `child` leads (see launch), or to the child alone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    child.kill(signal);
  }
}
