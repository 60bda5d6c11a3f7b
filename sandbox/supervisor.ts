import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";

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

interface Managed {
  spec: ProcessSpec;
  /** Stopped on purpose (`pause`): not restarted until `resume`. */
  paused: boolean;
  child?: ChildProcess;
  restarts: number;
  /** Resolves when the current child has exited. */
  exited: Promise<void>;
}

export type Logger = (line: string) => void;

const RESTART_DELAY_MS = 200;
const STOP_TIMEOUT_MS = 10_000;

/**
 * Runs processes like a container restart policy: a process that exits while the supervisor is
 * running is logged and started again with the same spec. `stopAll` ends every process it started.
 */
export class Supervisor {
  private readonly processes = new Map<string, Managed>();
  private stopping = false;

  constructor(private readonly log: Logger = () => undefined) {}

  start(spec: ProcessSpec): void {
    if (this.processes.has(spec.name))
      throw new Error(`process ${spec.name} is already supervised`);
    const managed: Managed = { spec, paused: false, restarts: 0, exited: Promise.resolve() };
    this.processes.set(spec.name, managed);
    this.launch(managed);
  }

  /** Replaces the spec of a supervised process; used from its next (re)start on. */
  updateSpec(name: string, spec: Partial<ProcessSpec>): void {
    const managed = this.get(name);
    managed.spec = { ...managed.spec, ...spec, name };
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
    this.get(name).child?.kill(signal);
  }

  /** Resolves when the named process's current child has exited. */
  exited(name: string): Promise<void> {
    return this.get(name).exited;
  }

  /** Stops a process without restarting it (an outage that lasts), until `resume`. */
  async pause(name: string): Promise<void> {
    const managed = this.get(name);
    managed.paused = true;
    managed.child?.kill("SIGKILL");
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
        const child = m.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await m.exited;
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
    // Owner-only like the rest of the sandbox dir: a log is no place for others to look either.
    const out = fs.openSync(spec.logFile, "a", 0o600);
    fs.fchmodSync(out, 0o600);
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ["ignore", out, out],
    });
    fs.closeSync(out);
    managed.child = child;
    managed.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        resolve();
        if (this.stopping || managed.paused) return;
        this.log(`${spec.name} exited (${signal ?? `code ${code}`}); restarting`);
        managed.restarts += 1;
        setTimeout(() => {
          if (!this.stopping && !managed.paused) this.launch(managed);
        }, RESTART_DELAY_MS);
      });
      child.once("error", (err) => {
        this.log(`${spec.name} could not start: ${err.message}`);
      });
    });
  }
}
