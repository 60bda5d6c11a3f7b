import * as fs from "node:fs";
import * as path from "node:path";
import { ConnectionInfo } from "../render/connection";
import {
  describeGroupRestart,
  restartGroup,
  rollingRestart,
  runningSandboxTarget,
} from "../sandbox/drill";
import { UsageError, runCommand } from "./cli";

const USAGE =
  "npm run drill -- rolling-restart --dir DIR [--no-pre-stop]\n       npm run drill -- restart-all --dir DIR";

/**
 * Drills on a running sandbox (the --dir of `npm run sandbox`). rolling-restart restarts every
 * Redis node as a StatefulSet rolling update does and prints one line per node; --no-pre-stop is
 * the baseline of a pod without the hook. restart-all stops every node and sentinel at once and
 * lets them start again, writing through the sentinels meanwhile; it fails when an acknowledged
 * write is lost or a failover follows.
 */
runCommand(async () => {
  const [drill, ...rest] = process.argv.slice(2);
  if (drill !== "rolling-restart" && drill !== "restart-all")
    throw new UsageError(`Unknown drill ${JSON.stringify(drill ?? "")}.\nUsage: ${USAGE}`);
  let dir: string | undefined;
  let preStop = true;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--dir" && rest[i + 1]) dir = rest[++i];
    else if (rest[i] === "--no-pre-stop" && drill === "rolling-restart") preStop = false;
    else throw new UsageError(`Unknown option ${JSON.stringify(rest[i])}.\nUsage: ${USAGE}`);
  }
  if (!dir) throw new UsageError(`--dir is required.\nUsage: ${USAGE}`);
  const target = runningSandboxTarget(path.resolve(dir));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  if (drill === "rolling-restart") {
    await rollingRestart(target, { preStop, log });
    return;
  }
  const connection = JSON.parse(
    fs.readFileSync(path.join(path.resolve(dir), "connection.json"), "utf8"),
  ) as ConnectionInfo;
  if (connection.topology !== "sentinel")
    throw new UsageError("restart-all needs a sentinel group (the sandbox of a sentinel stack).");
  const result = await restartGroup(target, connection, { log });
  log(describeGroupRestart(result));
  if (result.lost > 0 || result.epochAfter !== result.epochBefore) process.exitCode = 1;
});
