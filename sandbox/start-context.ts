import { ResolvedConfig } from "../config/resolve";
import type { SandboxOptions } from "./sandbox";
import { ProcessList } from "./process-list";
import { RunningProcesses } from "./running";
import { PodNetwork } from "./runtime/pod-network";
import { Logger } from "./runtime/supervisor";

/** What every phase of a sandbox's start reads, once DIR is claimed and its processes listed. */
export interface StartContext {
  readonly cfg: ResolvedConfig;
  readonly options: SandboxOptions;
  /** The absolute DIR. */
  readonly dir: string;
  /** A sentinel group (not a standalone server). */
  readonly grouped: boolean;
  readonly inPods: boolean;
  /** How long each process, and the group, may take to be ready. */
  readonly timeoutMs: number;
  readonly log: Logger;
  /** Pods mode only. */
  readonly network?: PodNetwork;
  readonly processes: ProcessList;
  readonly running: RunningProcesses;
}
