import { spawnSync } from "node:child_process";
import { ResolvedConfig } from "../config/resolve";

/** The Redis programs, from PATH: the rendered start and probe scripts call them by these names. */
export const BINARIES = {
  server: "redis-server",
  sentinel: "redis-sentinel",
  cli: "redis-cli",
} as const;

/** A setting the sandbox runs differently from the rendered deployment, how, and why. */
export interface Deviation {
  readonly setting: string;
  readonly reason: string;
  /** Extra redis-server arguments. */
  readonly args?: readonly string[];
  /**
   * A line of redis.conf replaced in the sandbox's copy: needed where redis-server rejects the
   * rendered line itself while parsing, before any argument could override it.
   */
  readonly replaceLine?: { readonly from: string; readonly to: string };
}

/** The sandbox's copy of redis.conf: the rendered bytes with each deviation's line replaced. */
export function applyDeviations(redisConf: string, deviations: readonly Deviation[]): string {
  let text = redisConf;
  for (const d of deviations) {
    if (!d.replaceLine) continue;
    const lines = text.split("\n");
    const index = lines.indexOf(d.replaceLine.from);
    if (index < 0)
      throw new Error(`deviation ${d.setting}: line "${d.replaceLine.from}" not in redis.conf`);
    lines[index] = `# sandbox deviation: ${d.reason}\n${d.replaceLine.to}`;
    text = lines.join("\n");
  }
  return text;
}

/** What a program printed (or why it could not run). */
function outputOf(binary: string, args: string[]): string {
  const result = spawnSync(binary, args, { encoding: "utf8", timeout: 10_000 });
  return result.error ? result.error.message : `${result.stdout}${result.stderr}`;
}

/** Fails with a clear message when a Redis binary the sandbox needs is missing. */
export function requireBinaries(sentinel: boolean): void {
  const needed = [BINARIES.server, BINARIES.cli, ...(sentinel ? [BINARIES.sentinel] : [])];
  for (const binary of needed) {
    const output = outputOf(binary, ["--version"]);
    if (!/v=7\.|redis-cli 7\./.test(output)) {
      throw new Error(
        `The sandbox needs Redis 7 (${binary} --version said: ${output.trim() || "nothing"}). On Debian/Ubuntu: apt-get install -y redis-server redis-sentinel`,
      );
    }
  }
}

/**
 * Probes what this redis-server can do. Debian builds against the system jemalloc and refuse
 * `activedefrag yes`; the official images accept it. Each setting the sandbox must change is a
 * deviation, reported in connection.json.
 */
export function detectDeviations(cfg: ResolvedConfig): Deviation[] {
  const deviations: Deviation[] = [];
  if (cfg.redis.activedefrag) {
    // Port 0: the server validates its config and exits without listening.
    const output = outputOf(BINARIES.server, [
      "--port",
      "0",
      "--save",
      "",
      "--activedefrag",
      "yes",
    ]);
    if (/Active defragmentation cannot be enabled/i.test(output)) {
      deviations.push({
        setting: "activedefrag",
        replaceLine: { from: "activedefrag yes", to: "activedefrag no" },
        reason:
          "this redis-server build has no active defragmentation (it refuses activedefrag yes)",
      });
    }
  }
  if (cfg.bind.join(" ") !== "127.0.0.1") {
    deviations.push({
      setting: "bind",
      reason: `the sandbox listens on loopback only (deployment binds ${cfg.bind.join(" ")})`,
    });
  }
  return deviations;
}
