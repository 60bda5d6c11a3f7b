import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { ioredisOptions } from "../../render/client-options";
import {
  rollingRestart,
  sandboxDrillTarget,
  startAcknowledgedWriter,
} from "../../sandbox/drills/drill";
import { startSyncCounter } from "../../sandbox/drills/sync-counter";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { PROD, resolve } from "../helpers/config";
import { freeBasePort } from "../helpers/ports";

describe("rolling restart of a sentinel group with the pre-stop hook: the master hands over first, no write lost", function () {
  this.timeout(180_000);
  let dir: string;
  let sandbox: Sandbox | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-rolling-"));
    sandbox = await startSandbox(resolve(PROD, "prod"), { dir, basePort: await freeBasePort(3) });
  });

  after(async () => {
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("restarts every node, highest ordinal first; writes pause briefly when the master's turn comes", async () => {
    const client = new Redis({
      ...ioredisOptions(sandbox!.connection, "app"),
      retryStrategy: () => 50,
    });
    client.on("error", () => undefined);
    await client.connect();
    const counter = startSyncCounter(sandbox!.connection, sandbox!.nodes);
    await counter.ready;
    const writer = startAcknowledgedWriter(client, "rolling");
    try {
      const lines: string[] = [];
      const restarts = await rollingRestart(sandboxDrillTarget(sandbox!), {
        log: (line) => lines.push(line),
      });
      const lost = await writer.stop();
      const syncs = await counter.stop();
      console.log(`      resyncs: ${syncs.full} full, ${syncs.partial} partial`);
      // Each restarted node resyncs in full, whatever the backlog: it loads its AOF, which
      // records no replication position. The replica that follows the new master after the
      // handover continues from the backlog.
      assert.equal(syncs.full, 3, `full resyncs: ${JSON.stringify(syncs)}`);
      assert.ok(syncs.partial >= 1, `partial resyncs: ${JSON.stringify(syncs)}`);
      console.log(lines.map((l) => `      ${l}`).join("\n"));
      console.log(`      longest write pause ${writer.longestPauseMs()} ms`);
      assert.deepEqual(
        restarts.map((r) => r.name),
        ["redis-2", "redis-1", "redis-0"],
      );
      const masters = restarts.filter((r) => r.wasMaster);
      assert.equal(masters.length, 1);
      assert.match(masters[0].preStop, /^pre-stop: failed over to /);
      for (const replica of restarts.filter((r) => !r.wasMaster))
        assert.match(replica.preStop, /^pre-stop: not the master/);
      // The master's writes wait while the sentinels promote a replica that has them all
      // (about 2 s here; without the hook a client waits down-after-milliseconds and more).
      assert.ok(writer.longestPauseMs() < 3000, `writes paused ${writer.longestPauseMs()} ms`);
      assert.equal(lost, 0, `lost ${lost} of ${writer.acknowledged.length} acknowledged writes`);
      assert.ok(writer.acknowledged.length > 100);
    } finally {
      await writer.stop().catch(() => undefined);
      client.disconnect();
    }
  });
});
