import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { failoverDrill } from "../../sandbox/failover";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { PROD, resolve } from "../helpers/config";
import { freeBasePort } from "../helpers/ports";

describe("sentinel group: a second master loss right after a failover is handled as fast as the first", function () {
  this.timeout(180_000);
  let dir: string;
  let sandbox: Sandbox | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-second-"));
    sandbox = await startSandbox(resolve(PROD, "prod"), { dir, basePort: await freeBasePort(3) });
  });

  after(async () => {
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("kill -9 of the master, then at once of the promoted one: both fail over within down-after + 4 s, nothing lost", async () => {
    // Sentinel's 2 x failover-timeout pause applies to a failover attempt that did not complete;
    // a completed failover resets it, so the new master is covered at once.
    const downAfterMs = sandbox!.config.sentinel.downAfterMs;
    const outages: number[] = [];
    for (const prefix of ["first", "second"]) {
      const result = await failoverDrill(sandbox!, {
        keyPrefix: prefix,
        writesBeforeKill: 30,
        writesAfter: 30,
        timeoutMs: 60_000,
      });
      assert.equal(result.lost, 0, `${prefix}: lost ${result.lost} of ${result.acknowledged}`);
      assert.notEqual(result.newMasterPort, result.killedPort);
      outages.push(result.outageMs);
    }
    console.log(`      outages ${outages.join(" ms, ")} ms (down-after ${downAfterMs} ms)`);
    for (const outage of outages) assert.ok(outage < downAfterMs + 4000, `outage ${outage} ms`);
  });
});
