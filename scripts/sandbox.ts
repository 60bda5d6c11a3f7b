import { ISOLATIONS, Isolation, startSandbox } from "../sandbox/sandbox";
import { readProcess } from "../sandbox/runtime/leftovers";
import { UsageError, loadConfigForCommand, parseCommandLine, runCommand } from "./cli";

const USAGE =
  "npm run sandbox -- --stack <name> [--config FILE] --dir DIR [--base-port N] [--restore-from FILE] [--isolation loopback|pods]";

const log = (line: string) =>
  process.stdout.write(`[sandbox ${new Date().toISOString()}] ${line}\n`);

runCommand(async () => {
  const args = parseCommandLine(
    process.argv.slice(2),
    ["stack", "config", "dir", "base-port", "restore-from", "isolation"],
    USAGE,
  );
  const cfg = loadConfigForCommand(args.stack, args.config, USAGE);
  if (!args.dir) throw new UsageError(`--dir is required.\nUsage: ${USAGE}`);
  let basePort: number | undefined;
  if (args["base-port"] !== undefined) {
    basePort = Number(args["base-port"]);
    if (!Number.isInteger(basePort) || basePort < 1024 || basePort > 45000) {
      throw new UsageError(
        `--base-port ${JSON.stringify(args["base-port"])}: must be a whole number from 1024 to 45000 (sentinels use base-port + 20000).`,
      );
    }
  }

  const isolation = (args.isolation ?? "loopback") as Isolation;
  if (!ISOLATIONS.includes(isolation))
    throw new UsageError(
      `--isolation ${JSON.stringify(args.isolation)}: must be one of ${ISOLATIONS.join(", ")}.\nUsage: ${USAGE}`,
    );
  if (isolation === "pods" && basePort !== undefined)
    throw new UsageError(
      "--base-port applies to --isolation loopback only: in pods mode every process listens on its deployed port at its pod's address.",
    );

  // Installed before the start, so that SIGINT/SIGTERM while starting stops what was started.
  const interrupt = new AbortController();
  let stopRequested: (signal: string) => void = (signal) => interrupt.abort(signal);
  process.once("SIGINT", () => stopRequested("SIGINT"));
  process.once("SIGTERM", () => stopRequested("SIGTERM"));
  // Under `npm run sandbox`, npm only waits for this process: if npm is killed, stop as on
  // SIGTERM. Its end shows as a new parent (the kernel hands an orphan to a reaper of orphans).
  if (process.env.npm_lifecycle_event === "sandbox") {
    const parent = readProcess(process.pid)?.ppid;
    const watch = setInterval(() => {
      if (readProcess(process.pid)?.ppid === parent) return;
      clearInterval(watch);
      stopRequested(`npm (pid ${parent}) ended`);
    }, 500);
    watch.unref();
  }

  const sandbox = await startSandbox(cfg, {
    dir: args.dir,
    basePort,
    restoreFrom: args["restore-from"],
    isolation,
    log,
    signal: interrupt.signal,
  });
  const c = sandbox.connection;
  log(
    `stack ${cfg.stack} (${cfg.profile}, ${cfg.topology}) ready: ${c.redis.map((r) => `${r.role} ${r.host}:${r.port}`).join(", ")}`,
  );
  log(`connection details (with passwords): ${sandbox.connectionFile}`);
  log(`processes and their pids: ${sandbox.processesFile}`);
  if (c.backup)
    log(
      `backups: "${cfg.backup.schedule}" (UTC) into ${c.backup.dir}, keeping ${cfg.backup.retention}; one now: sh ${c.backup.script}`,
    );
  if (c.commander)
    log(
      `Redis Commander${cfg.commander.readOnly ? " (read-only)" : ""}: ${c.commander.url} — sign in as "${c.commander.username}"; the password: node -p 'require(${JSON.stringify(sandbox.connectionFile)}).commander.password'`,
    );
  for (const deviation of c.deviations) log(`deviation: ${deviation}`);

  await new Promise<void>((resolve) => {
    stopRequested = (signal: string) => {
      log(`${signal}: stopping`);
      resolve();
    };
  });
  await sandbox.stop();
  log("stopped");
});
