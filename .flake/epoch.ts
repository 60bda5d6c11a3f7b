import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { masterRecordOf } from "../sandbox/drills/failover";
import { startSandbox } from "../sandbox/sandbox";
import { PROD, resolve } from "../tests/helpers/config";
import { freeBasePort } from "../tests/helpers/ports";

async function main() {
  const cfg = resolve(PROD, "prod");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flake-"));
  const sandbox = await startSandbox(cfg, { dir, basePort: await freeBasePort(3) });
  const show = async (t: string) =>
    console.log(
      t,
      JSON.stringify(
        await Promise.all(
          sandbox.connection.sentinels.map((s) =>
            masterRecordOf(sandbox.connection, s).catch((e) => String(e)),
          ),
        ),
      ),
    );
  await show("start");
  sandbox.supervisor.signal("redis-0", "SIGKILL");
  for (let i = 0; i < 14; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    await show(`t${i}`);
  }
  await sandbox.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
main().then(() => process.exit(0));
