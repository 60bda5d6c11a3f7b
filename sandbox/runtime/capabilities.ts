import { spawnSync } from "node:child_process";
import { ResolvedConfig } from "../../config/resolve";

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

/** What a program printed, or why it could not run. */
function run(binary: string, args: string[]): { output: string; missing: boolean } {
  const result = spawnSync(binary, args, { encoding: "utf8", timeout: 10_000 });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === "ENOENT";
    return { output: result.error.message, missing };
  }
  return { output: `${result.stdout}${result.stderr}`, missing: false };
}

function outputOf(binary: string, args: string[]): string {
  return run(binary, args).output;
}

const INSTALL_HINT = "on Debian/Ubuntu: apt-get install -y redis-server redis-sentinel redis-tools";

/**
 * Fails with a one-line message when a Redis program the sandbox needs is missing from PATH or is
 * not Redis 7, before anything starts.
 */
export function requireBinaries(sentinel: boolean): void {
  const needed = [BINARIES.server, BINARIES.cli, ...(sentinel ? [BINARIES.sentinel] : [])];
  for (const binary of needed) {
    const { output, missing } = run(binary, ["--version"]);
    if (missing) {
      throw new Error(`${binary} not found in PATH: the sandbox needs Redis 7 (${INSTALL_HINT}).`);
    }
    if (!/v=7\.|redis-cli 7\./.test(output)) {
      const said = output.trim().split("\n")[0] || "nothing";
      throw new Error(
        `${binary} --version said "${said}": the sandbox needs Redis 7 (${INSTALL_HINT}).`,
      );
    }
  }
}

/** The version of the redis-server in PATH, e.g. "7.0.15"; undefined when it does not say. */
export function localRedisVersion(): string | undefined {
  return /v=(\d+\.\d+\.\d+)/.exec(outputOf(BINARIES.server, ["--version"]))?.[1];
}

/** The Redis version of an image reference pinned to a version tag: "redis:7.2.5-alpine" -> "7.2.5". */
export function imageRedisVersion(image: string): string | undefined {
  return /:(\d+\.\d+\.\d+)(?:[-._@]|$)/.exec(image)?.[1];
}

/** A version deviation when the sandbox's redis-server is not the version of the deployed image. */
export function versionDeviation(image: string, local: string | undefined): Deviation | undefined {
  const deployed = imageRedisVersion(image);
  if (local === deployed) return undefined;
  return {
    setting: "version",
    reason: `the sandbox runs redis-server ${local ?? "of an unknown version"}, the deployment ${image} (Redis ${deployed ?? "of an unknown version"})`,
  };
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
  const version = versionDeviation(cfg.image, localRedisVersion());
  if (version) deviations.push(version);
  if (cfg.bind.join(" ") !== "127.0.0.1") {
    deviations.push({
      setting: "bind",
      reason: `the sandbox listens on loopback only (deployment binds ${cfg.bind.join(" ")})`,
    });
  }
  return deviations;
}
