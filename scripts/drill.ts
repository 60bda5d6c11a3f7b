import * as path from "node:path";
import { rollingRestart, runningSandboxTarget } from "../sandbox/drill";
import { UsageError, runCommand } from "./cli";

const USAGE = "npm run drill -- rolling-restart --dir DIR [--no-pre-stop]";

/**
 * Drills on a running sandbox (the --dir of `npm run sandbox`). rolling-restart restarts every
 * Redis node as a StatefulSet rolling update does and prints one line per node; --no-pre-stop is
 * the baseline of a pod without the hook.
 */
runCommand(async () => {
  const [drill, ...rest] = process.argv.slice(2);
  if (drill !== "rolling-restart")
    throw new UsageError(`Unknown drill ${JSON.stringify(drill ?? "")}.\nUsage: ${USAGE}`);
  let dir: string | undefined;
  let preStop = true;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--dir" && rest[i + 1]) dir = rest[++i];
    else if (rest[i] === "--no-pre-stop") preStop = false;
    else throw new UsageError(`Unknown option ${JSON.stringify(rest[i])}.\nUsage: ${USAGE}`);
  }
  if (!dir) throw new UsageError(`--dir is required.\nUsage: ${USAGE}`);
  const target = runningSandboxTarget(path.resolve(dir));
  await rollingRestart(target, { preStop, log: (line) => process.stdout.write(`${line}\n`) });
});
