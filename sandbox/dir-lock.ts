import * as fs from "node:fs";
import * as path from "node:path";
import { PROCESSES_FILE } from "./contract";
import { writeFile } from "./private-files";
import { PreviousRun, refuseForeignHolders, sandboxRuns } from "./runtime/leftovers";

/** DIR/sandbox.pid: the pid of the sandbox using DIR, created exclusively, removed on stop. */
export const LOCK_FILE = "sandbox.pid";

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
export function readPreviousRun(dir: string): PreviousRun | undefined {
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
export function claimDir(dir: string, previous: PreviousRun | undefined): string {
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
export function releaseDir(dir: string): void {
  const lock = path.join(dir, LOCK_FILE);
  if (lockHolder(lock) === process.pid) fs.rmSync(lock, { force: true });
}
