import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { failoverDrill } from "../sandbox/drills/failover";
import { startSandbox } from "../sandbox/sandbox";
import { PROD, resolve } from "../tests/helpers/config";
import { freeBasePort } from "../tests/helpers/ports";

async function main() {
  const cfg = resolve(PROD, "prod");
  for (let run = 0; run < Number(process.argv[2] ?? 5); run++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flake-"));
    const basePort = await freeBasePort(3);
    const sandbox = await startSandbox(cfg, {
      dir,
      basePort,
      log: (l: string) => fs.appendFileSync(path.join(dir, "main.log"), l + "\n"),
    });
    let keep = false;
    try {
      const r = await failoverDrill(sandbox, {
        keyPrefix: "before",
        writesBeforeKill: 20,
        writesAfter: 20,
        timeoutMs: 60_000,
      });
      console.log(run, JSON.stringify(r), r.newMasterPort === basePort ? "SAME " + dir : "ok");
      keep = r.newMasterPort === basePort;
    } catch (e) {
      console.log(run, "error", e, dir);
      keep = true;
    }
    await sandbox.stop();
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
main().then(() => process.exit(0));
