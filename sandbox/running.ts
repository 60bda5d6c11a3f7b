import * as fs from "node:fs";
import type { Server } from "node:net";
import * as path from "node:path";
import { PROCESSES_FILE, processesFileContent } from "./contract";
import { releaseDir } from "./dir-lock";
import { writeFileAtomic } from "./private-files";
import { SandboxProcess } from "./process-list";
import { BackupScheduler } from "./runtime/backup";
import { RunnablePod } from "./runtime/kubelet";
import { currentBootId, readProcess } from "./runtime/leftovers";
import { PodNetwork } from "./runtime/pod-network";
import { Logger, Supervisor } from "./runtime/supervisor";

/**
 * What a sandbox runs: its supervisor, which keeps DIR/processes.json current as processes
 * (re)start, and what stopping it ends.
 */
export class RunningProcesses {
  readonly supervisor: Supervisor;
  readonly processesFile: string;
  /** Pods mode: how each process runs, once its pod is prepared. */
  pods?: ReadonlyMap<string, RunnablePod>;
  /** The backup schedule, once the sandbox is ready. */
  scheduler?: BackupScheduler;
  /** Pods mode: the control socket drills recreate pods through, once the sandbox is ready. */
  control?: Server;
  private readonly pids = new Map<string, number>();
  private readonly startTimes = new Map<string, number | undefined>();
  private readonly identity = {
    bootId: currentBootId(),
    sandboxStartTime: readProcess(process.pid)?.startTime,
  };

  constructor(
    private readonly dir: string,
    private readonly processes: readonly SandboxProcess[],
    private readonly network: PodNetwork | undefined,
    log: Logger,
  ) {
    this.processesFile = path.join(dir, PROCESSES_FILE);
    this.supervisor = new Supervisor(log, {
      onStart: (name, pid) => {
        this.pids.set(name, pid);
        this.startTimes.set(name, readProcess(pid)?.startTime);
        log(`${name} started (pid ${pid})`);
        try {
          this.writeProcesses();
        } catch (err) {
          log(`could not write ${this.processesFile}: ${(err as Error).message}`);
        }
      },
    });
  }

  private writeProcesses(): void {
    const content = processesFileContent({
      processes: this.processes,
      pids: this.pids,
      startTimes: this.startTimes,
      envOf: (name) => this.supervisor.spec(name).env,
      pods: this.pods,
      network: this.network,
      identity: this.identity,
    });
    writeFileAtomic(this.processesFile, JSON.stringify(content, null, 2) + "\n", 0o600);
  }

  /** Stops every process the sandbox started, then removes processes.json and the lock. */
  async stop(): Promise<void> {
    this.control?.close();
    await this.scheduler?.stop();
    await this.supervisor.stopAll();
    await this.network?.destroy();
    fs.rmSync(this.processesFile, { force: true });
    releaseDir(this.dir);
  }
}
