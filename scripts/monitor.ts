import * as fs from "node:fs";
import { collectReport, formatReport } from "../ops/monitor";
import { ConnectionInfo } from "../render/connection";
import { UsageError, parseCommandLine, runCommand } from "./cli";

const USAGE = "npm run monitor -- --connection FILE [--every SECONDS]";

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), ["connection", "every"], USAGE);
  if (!args.connection) throw new UsageError(`--connection is required.\nUsage: ${USAGE}`);
  let connection: ConnectionInfo;
  try {
    connection = JSON.parse(fs.readFileSync(args.connection, "utf8"));
  } catch (err) {
    throw new UsageError(
      `--connection ${args.connection}: not a readable connection JSON (${(err as Error).message}).`,
    );
  }
  if (!connection.users?.admin || !Array.isArray(connection.redis)) {
    throw new UsageError(
      `--connection ${args.connection}: not the connection contract (users.admin and redis are required).`,
    );
  }
  const every = args.every === undefined ? 0 : Number(args.every);
  if (!Number.isFinite(every) || every < 0 || every > 3600) {
    throw new UsageError(
      `--every ${JSON.stringify(args.every)}: must be a number of seconds from 0 to 3600.`,
    );
  }
  let stop = false;
  process.once("SIGINT", () => (stop = true));
  process.once("SIGTERM", () => (stop = true));
  do {
    process.stdout.write(
      `--- ${connection.stack} (${connection.topology}) ${new Date().toISOString()}\n`,
    );
    process.stdout.write(formatReport(await collectReport(connection)));
    if (every > 0) await new Promise((r) => setTimeout(r, every * 1000));
  } while (every > 0 && !stop);
});
