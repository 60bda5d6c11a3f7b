import { ChildProcess, SpawnOptions, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Every process the sandbox starts ends with it, however it ends (a stop, a crash, `kill -9`, a
 * test runner killed while a sandbox runs in it). Two ties, each enough for the servers:
 *
 * - The kernel's parent-death signal (PR_SET_PDEATHSIG), which util-linux `setpriv --pdeathsig`
 *   sets before it execs the program. It fires when the *thread* that forked the process ends;
 *   Node forks from its main thread, which ends only with the process. It holds across exec
 *   (`sh start-redis.sh` execs redis-server; `nsenter` and `chroot` exec), but is cleared by a
 *   fork (a start script's stand-in server, `timeout`'s child, backup.sh's redis-cli) and by a
 *   change of user (`chroot --userspec` of pods mode, whose janitor stops those processes).
 * - A reaper: a shell in a session of its own that reads, from a pipe only this process holds,
 *   the process group of each process as it starts and ends. When the pipe closes (this process
 *   ended), it stops every group still listed, the forked helpers in them included.
 *
 * The signal is SIGTERM, then SIGKILL after STOP_GRACE_SECONDS, as kubelet stops a pod (and as the
 * pods janitor does): on SIGTERM Redis ends cleanly (AOF flushed, final RDB), so the next start on
 * the same --dir is a clean whole-group restart rather than a crash recovery; SIGKILL makes the end
 * certain, since Redis 7 stays up when its final save fails (a full disk). Without the reaper (it
 * was killed too) the parent-death SIGTERM alone still stops every server whose save succeeds; a
 * sandbox that starts on the same --dir later stops whatever is left (`stopLeftovers`).
 */

/** How long a process may take to end on SIGTERM before it gets SIGKILL. */
export const STOP_GRACE_SECONDS = 10;

const SETPRIV = "setpriv";

/** Why the sandbox cannot tie its processes to itself here, or undefined when it can. */
export function setprivMissing(): string | undefined {
  const found = spawnSync(SETPRIV, ["--version"], { encoding: "utf8" });
  if (found.error === undefined && found.status === 0) return undefined;
  return `${SETPRIV} not found in PATH: the sandbox starts every process through it so that none outlives the sandbox (on Debian/Ubuntu: apt-get install -y util-linux).`;
}

/**
 * The reaper's script, POSIX sh: the groups known when it starts as its arguments after $1 (so a
 * reaper started again knows them from its first instant, even if the sandbox dies before it could
 * write to it), then "+PGID" and "-PGID" lines while the sandbox lives; at the end of its input,
 * SIGTERM to every group with a process still running, and SIGKILL after $1 seconds to those still
 * running then. A zombie has ended (it only waits for init to collect it).
 */
export const REAPER_SCRIPT = fs.readFileSync(path.join(__dirname, "reaper.sh"), "utf8");

/** The reaper of this process's groups; restarted with every group still listed if it dies. */
class Reaper {
  private child?: ChildProcess;
  private readonly groups = new Set<number>();

  constructor(private readonly graceSeconds: number) {}

  add(pgid: number): void {
    this.groups.add(pgid);
    this.send(`+${pgid}`);
  }

  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.send(`-${pgid}`);
  }

  private send(line: string): void {
    if (this.child) this.child.stdin?.write(`${line}\n`);
    else if (this.groups.size > 0) this.start();
  }

  private start(): void {
    // Its own session: a Ctrl-C of the sandbox's terminal, or a kill of its process group,
    // spares it.
    const known = [...this.groups].map(String);
    const child = spawn(
      "sh",
      ["-c", REAPER_SCRIPT, "reaper", String(this.graceSeconds), ...known],
      {
        detached: true,
        stdio: ["pipe", "ignore", "ignore"],
      },
    );
    this.child = child;
    // A reaper that was killed: the next line finds the pipe closed, the restart lists again.
    child.stdin?.on("error", () => undefined);
    child.once("exit", () => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.groups.size > 0) this.start();
    });
    // Neither keeps this process alive.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }
}

let reaper: Reaper | undefined;

/** Where `command` is, as spawn would find it; fails like spawn when it is not there. */
function resolveProgram(command: string, options: SpawnOptions): string {
  const candidates = command.includes("/")
    ? [path.resolve(String(options.cwd ?? process.cwd()), command)]
    : ((options.env ?? process.env).PATH ?? "")
        .split(":")
        .filter((d) => d !== "")
        .map((d) => path.join(d, command));
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: "ENOENT" });
}

/**
 * Spawns `command` tied to this process's life (see above), as the leader of a process group of
 * its own. When it exits, whatever it left in its group (a start script's stand-in) is killed, as
 * a container's processes end with its main process. Throws like spawn when `command` is not found.
 */
export function spawnTied(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const program = resolveProgram(command, options);
  const child = spawn(SETPRIV, ["--pdeathsig", "TERM", "--", program, ...args], {
    ...options,
    detached: true,
  });
  const pgid = child.pid;
  if (pgid === undefined) return child;
  reaper ??= new Reaper(STOP_GRACE_SECONDS);
  reaper.add(pgid);
  child.once("exit", () => {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // nothing left in the group
    }
    reaper?.remove(pgid);
  });
  return child;
}
