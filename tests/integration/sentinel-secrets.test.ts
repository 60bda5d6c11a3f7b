import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CLIENT_LIMIT_DIRECTIVES } from "../../config/client-limits";
import { EXPORTER_USER } from "../../render/acl";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { DEV, PROD, resolve } from "../helpers/config";
import { floodUnread } from "../../sandbox/drills/flood";
import { authAccepted, directClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";

for (const [what, values, rotated] of [
  ["production", PROD, ["sentinelClientPassword", "exporterPassword"]],
  [
    "dev",
    { ...DEV, topology: "sentinel", target: "kubernetes" },
    ["defaultPassword", "exporterPassword"],
  ],
] as const) {
  describe(`Sentinels restarted from their state take the users and passwords of the Secret, and the client limits of sentinel.conf, again (${what})`, function () {
    let dir: string;
    let sandbox: Sandbox | undefined;
    let basePort: number;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-sentinel-secrets-"));
      basePort = await freeBasePort(3);
    });

    after(async () => {
      await sandbox?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("after a whole-group restart with rotated passwords, the sentinels accept the new ones only", async () => {
      const cfg = resolve(values, "rotate");
      sandbox = await startSandbox(cfg, { dir, basePort });
      const before = { ...sandbox.secrets } as Record<string, string>;
      const sentinelPort = sandbox.sentinels[0].port;
      const sandbox0Sentinels = sandbox.sentinels.map((p) => p.dataDir);
      await sandbox.stop();
      sandbox = undefined;
      // The rotation: new values in the sandbox's secrets, as a new Secret in a pod.
      const file = path.join(dir, "secrets.json");
      const secrets = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
      for (const key of rotated) secrets[key] = `rotated-${key}-0123456789abcdef`;
      fs.writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
      // State files as a release without client limits wrote them.
      const stateFiles = sandbox0Sentinels.map((d) => path.join(d, "sentinel.conf"));
      for (const state of stateFiles) {
        const lines = fs.readFileSync(state, "utf8").split("\n");
        const old = lines.filter((l) => !new RegExp(CLIENT_LIMIT_DIRECTIVES).test(l));
        assert.ok(old.length < lines.length, `${state} held no client limit`);
        fs.writeFileSync(state, old.join("\n"));
      }

      sandbox = await startSandbox(cfg, { dir, basePort });
      const clientUser = sandbox.connection.sentinelUser!;
      assert.equal(
        clientUser.password,
        secrets[rotated[0]],
        "connection.json has the new password",
      );
      assert.equal(
        await authAccepted(sentinelPort, clientUser.username, clientUser.password),
        true,
      );
      assert.equal(
        await authAccepted(sentinelPort, clientUser.username, before[rotated[0]]),
        false,
      );
      assert.equal(await authAccepted(sentinelPort, EXPORTER_USER, secrets.exporterPassword), true);
      assert.equal(await authAccepted(sentinelPort, EXPORTER_USER, before.exporterPassword), false);
      // The client limits are back in every state file, and in force: an unread flood is dropped.
      for (const state of stateFiles)
        assert.match(fs.readFileSync(state, "utf8"), /^maxmemory-clients 10mb$/m);
      const flood = await floodUnread(
        sentinelPort,
        [clientUser.username, clientUser.password],
        ["SENTINEL", "MASTER", cfg.sentinel.masterName],
      );
      assert.ok(flood.droppedByServer, `a flood ran ${flood.ms} ms without being dropped`);
      // The state Sentinel keeps survived: the group knows its master and every peer.
      const sentinel = directClient(sentinelPort, clientUser);
      try {
        const master = (await sentinel.call(
          "SENTINEL",
          "MASTER",
          cfg.sentinel.masterName,
        )) as string[];
        const field = (name: string) => master[master.indexOf(name) + 1];
        assert.equal(field("num-other-sentinels"), "2");
        assert.equal(field("num-slaves"), "2");
      } finally {
        sentinel.disconnect();
      }
    });
  });
}
