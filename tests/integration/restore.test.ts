import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startSandbox } from "../../sandbox/sandbox";
import { PROD_STANDALONE, resolve } from "../helpers/config";
import { platformClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";

describe("sandbox --restore-from: an RDB seeds the data of the AOF-on profile and survives the next restart", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-restore-"));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it("restores the keys of a snapshot, and keeps them after a restart with appendonly yes", async () => {
    const cfg = resolve(PROD_STANDALONE, "prod");
    assert.equal(cfg.redis.appendonly, true);

    // A source deployment with data, snapshotted by the admin user.
    const source = await startSandbox(cfg, { dir: tmp(), basePort: await freeBasePort(1) });
    const snapshot = path.join(tmp(), "backup.rdb");
    try {
      const app = platformClient(source.connection, "app", cfg.databaseIndex.components);
      const admin = platformClient(source.connection, "admin", 0);
      await app.connect();
      await admin.connect();
      await app.hset("ui:themes", "dark", "#000");
      await app.set("page:template:home", "<page/>");
      await admin.call("SAVE");
      app.disconnect();
      admin.disconnect();
      fs.copyFileSync(path.join(source.nodes[0].dataDir, "dump.rdb"), snapshot);
    } finally {
      await source.stop();
    }

    // A new deployment seeded from the snapshot.
    const dir = tmp();
    const basePort = await freeBasePort(1);
    let restored = await startSandbox(cfg, { dir, basePort, restoreFrom: snapshot });
    try {
      const read = async () => {
        const app = platformClient(restored.connection, "app", cfg.databaseIndex.components);
        try {
          await app.connect();
          return [await app.hget("ui:themes", "dark"), await app.get("page:template:home")];
        } finally {
          app.disconnect();
        }
      };
      assert.deepEqual(await read(), ["#000", "<page/>"]);
      assert.ok(
        fs.existsSync(path.join(restored.nodes[0].dataDir, "appendonlydir")),
        "AOF written from the restored data",
      );

      // Restarted without --restore-from: AOF on, and the data is still there.
      await restored.stop();
      restored = await startSandbox(cfg, { dir, basePort });
      assert.deepEqual(await read(), ["#000", "<page/>"]);
    } finally {
      await restored.stop();
    }
  });
});
