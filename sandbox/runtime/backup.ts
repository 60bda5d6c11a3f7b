import { ChildProcess, SpawnOptions, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { nextRuns } from "../../config/backup";
import { ResolvedConfig } from "../../config/resolve";
import { backupPlainFiles, backupSecretFiles } from "../../render/backup";
import { SecretValues } from "../../render/redis-conf";
import { spawnTied } from "./lifetime";

/** The sandbox's backup conf dir and backup dir under DIR. */
export function backupPaths(dir: string) {
  return {
    confDir: path.join(dir, "backup", "conf"),
    backupDir: path.join(dir, "backups"),
    stagingDir: path.join(dir, "backup", "staging"),
    logFile: path.join(dir, "logs", "backup.log"),
  };
}

/**
 * Writes the rendered backup scripts (0600, as deployed) and a backup.env pointing at the
 * sandbox's processes and DIR/backups; returns the contract's `backup` entry.
 */
export function prepareBackup(
  cfg: ResolvedConfig,
  dir: string,
  secrets: SecretValues,
  site: { readonly nodes: string; readonly sentinels: string },
): { script: string; dir: string } {
  const paths = backupPaths(dir);
  for (const d of [paths.confDir, paths.backupDir]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    fs.chmodSync(d, 0o700);
  }
  const files = {
    ...backupPlainFiles(cfg, { ...site, backupDir: paths.backupDir, offsiteStep: "inline" }),
    ...backupSecretFiles(cfg, secrets),
  };
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(paths.confDir, file);
    fs.writeFileSync(target, content, { mode: 0o600 });
    fs.chmodSync(target, 0o600);
  }
  return { script: path.join(paths.confDir, "backup.sh"), dir: paths.backupDir };
}

type Launch = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/**
 * Runs a rendered script with sh (or `shell`, e.g. ["busybox", "sh"]); resolves with its exit
 * code and output. The sandbox's own runs are `spawnTied`: they end with the sandbox.
 */
export function runScript(
  script: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
  shell: readonly string[] = ["sh"],
  launch: Launch = spawn,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, ...shellArgs] = shell;
  return new Promise((resolve, reject) => {
    const child = launch(command, [...shellArgs, script, ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }),
    );
  });
}

const lastLine = (text: string) =>
  text
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .pop() ?? "";

/**
 * Seeds node 0's data dir as a deployment's restore step does: for an s3:// restoreFrom, fetch.sh
 * downloads the backup and its checksum first; then restore.sh. `file` (the sandbox's
 * --restore-from) takes the place of the config's restoreFrom.
 */
export async function restoreNode(
  cfg: ResolvedConfig,
  dir: string,
  dataDir: string,
  file: string | undefined,
): Promise<string> {
  const paths = backupPaths(dir);
  const restore = cfg.backup.restore;
  let source: string;
  if (file !== undefined) source = path.resolve(file);
  else if (restore?.kind === "s3") {
    fs.rmSync(paths.stagingDir, { recursive: true, force: true });
    fs.mkdirSync(paths.stagingDir, { recursive: true, mode: 0o700 });
    const fetched = await runScript(
      path.join(paths.confDir, "fetch.sh"),
      [paths.stagingDir],
      process.env,
      ["sh"],
      spawnTied,
    );
    if (fetched.code !== 0)
      throw new Error(`restoreFrom ${restore.key}: ${lastLine(fetched.stderr)}`);
    source = path.join(paths.stagingDir, restore.file);
  } else if (restore?.kind === "local") source = path.join(paths.backupDir, restore.file);
  else throw new Error("nothing to restore from");
  const result = await runScript(
    path.join(paths.confDir, "restore.sh"),
    [],
    { ...process.env, DATA_DIR: dataDir, RESTORE_SOURCE: source },
    ["sh"],
    spawnTied,
  );
  if (result.code !== 0)
    throw new Error(lastLine(result.stderr) || `restore.sh exited ${result.code}`);
  return lastLine(result.stdout);
}

/**
 * Runs backup.sh on the stack's schedule (UTC), one run at a time (a run still going when the next
 * is due skips it, as the CronJob's concurrencyPolicy Forbid does), output appended to a log.
 */
export class BackupScheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    private readonly schedule: string,
    private readonly script: string,
    private readonly logFile: string,
    private readonly log: (line: string) => void,
    /** The clock, in ms since the epoch (tests move it). */
    private readonly now: () => number = Date.now,
  ) {}

  /** When the next run is due. */
  next(now = new Date(this.now())): Date {
    return nextRuns(this.schedule, now, 1)[0];
  }

  start(): void {
    if (this.stopped) return;
    const due = this.next();
    // setTimeout holds at most ~24.8 days; a later run is re-armed on the way.
    const delay = Math.min(due.getTime() - this.now(), 2 ** 31 - 1);
    this.timer = setTimeout(
      () => {
        if (this.now() >= due.getTime()) this.fire(due);
        this.start();
      },
      Math.max(0, delay),
    );
    this.timer.unref();
  }

  private fire(due: Date): void {
    if (this.running) {
      this.log(`backup due at ${due.toISOString()} skipped: the previous run is still going`);
      return;
    }
    const out = fs.openSync(this.logFile, "a", 0o600);
    const run = runScript(this.script, [], process.env, ["sh"], spawnTied).then(
      ({ code, stdout, stderr }) => {
        fs.writeSync(out, stdout + stderr);
        this.log(`backup due at ${due.toISOString()}: ${lastLine(code === 0 ? stdout : stderr)}`);
      },
    );
    this.running = run.finally(() => {
      fs.closeSync(out);
      this.running = undefined;
    });
  }

  /** Stops the schedule and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
