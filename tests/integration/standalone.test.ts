import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ResolvedConfig } from "../../config/resolve";
import { ConnectionInfo } from "../../render/connection";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { loadOrCreateSecrets } from "../../sandbox/secrets";
import { nodeConfigData } from "../../render/kubernetes";
import { nodeSecretFiles } from "../../render/files";
import { DEV, PROD_STANDALONE, resolve } from "../helpers/config";
import {
  directClient,
  exercisePlatform,
  expectExpiredEvent,
  platformClient,
} from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

/** CONFIG GET through the admin path: the renamed CONFIG in production. */
async function adminConfigGet(connection: ConnectionInfo, parameter: string): Promise<string> {
  const admin = platformClient(connection, "admin", 0);
  try {
    await admin.connect();
    const command = connection.renamedCommands.CONFIG || "CONFIG";
    const reply = (await admin.call(command, "GET", parameter)) as string[];
    assert.equal(reply.length, 2, `CONFIG GET ${parameter} returned ${JSON.stringify(reply)}`);
    return reply[1];
  } finally {
    admin.disconnect();
  }
}

async function expectError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.match(err.message, pattern);
    return true;
  });
}

const EXPECTED_SETTINGS: Record<string, string> = {
  maxmemory: String(384 * 1024 * 1024),
  "maxmemory-policy": "allkeys-lru",
  "maxmemory-samples": "5",
  save: "900 1 300 10 60 10000",
  appendonly: "yes",
  appendfsync: "everysec",
  "active-defrag-threshold-lower": "10",
  "notify-keyspace-events": "xE",
  maxclients: "10000",
  "tcp-keepalive": "300",
  "hash-max-listpack-entries": "512",
  "hash-max-listpack-value": "64",
  "list-max-listpack-size": "-2",
  "set-max-intset-entries": "512",
  "protected-mode": "yes",
  databases: "16",
};

for (const [profile, values, stack] of [
  ["dev", DEV, "dev"],
  ["production", PROD_STANDALONE, "prod"],
] as const) {
  describe(`standalone Redis, ${profile} profile: the rendered files run on a real redis-server`, function () {
    let cfg: ResolvedConfig;
    let dir: string;
    let basePort: number;
    let sandbox: Sandbox | undefined;
    let connection: ConnectionInfo;

    before(async () => {
      cfg = resolve(values, stack);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `lowcode-redis-${profile}-`));
      basePort = await freeBasePort(1);
      sandbox = await startSandbox(cfg, { dir, basePort });
      connection = sandbox.connection;
    });

    after(async () => {
      await sandbox?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("requires authentication", async () => {
      const anonymous = directClient(connection.redis[0].port);
      try {
        await anonymous.connect();
        await expectError(anonymous.get("session:user:1"), /NOAUTH/);
      } finally {
        anonymous.disconnect();
      }
    });

    it("refuses a wrong password", async () => {
      const wrong = directClient(connection.redis[0].port);
      try {
        await wrong.connect();
        await expectError(
          wrong.call("AUTH", connection.users.app.username, "not-the-password"),
          /WRONGPASS/,
        );
        await expectError(wrong.get("session:user:1"), /NOAUTH/);
      } finally {
        wrong.disconnect();
      }
    });

    it("serves the six platform use cases as the app user", async () => {
      await exercisePlatform(connection);
    });

    it("delivers keyspace expired events for sessions", async () => {
      await expectExpiredEvent(connection);
    });

    it("runs every platform setting of docs/profiles.md (checked as admin)", async () => {
      for (const [parameter, expected] of Object.entries(EXPECTED_SETTINGS)) {
        assert.equal(await adminConfigGet(connection, parameter), expected, parameter);
      }
      const defragDeviation = connection.deviations.some((d) => d.startsWith("activedefrag:"));
      assert.equal(
        await adminConfigGet(connection, "activedefrag"),
        defragDeviation ? "no" : "yes",
      );
    });

    it("runs redis.conf byte for byte as rendered, except declared deviations", async () => {
      const { renderRedisConf } = await import("../../render/redis-conf");
      const running = fs
        .readFileSync(path.join(sandbox!.nodes[0].confDir, "redis.conf"), "utf8")
        .split("\n");
      const rendered = renderRedisConf(cfg).split("\n");
      const changed = rendered
        .filter((line) => !running.includes(line))
        .map((line) => line.split(" ")[0]);
      const declared = connection.deviations.map((d) => d.split(":")[0]);
      for (const setting of changed)
        assert.ok(declared.includes(setting), `${setting} differs without a declared deviation`);
    });

    it("the rendered health check (probe.sh) authenticates and passes, and fails when Redis does not answer", () => {
      const probe = path.join(sandbox!.nodes[0].confDir, "probe.sh");
      const run = (port: number) =>
        spawnSync("sh", [probe], {
          env: { ...process.env, PROBE_PORT: String(port) },
          encoding: "utf8",
        });
      const ok = run(connection.redis[0].port);
      assert.equal(ok.status, 0, ok.stderr);
      const down = run(1);
      assert.notEqual(down.status, 0);
      assert.match(down.stderr, /^probe: /);
    });

    it("keeps the secret files owner-only", () => {
      for (const file of [
        "secrets.conf",
        "probe.pass",
        "../../connection.json",
        "../../secrets.json",
      ]) {
        const mode = fs.statSync(path.join(sandbox!.nodes[0].confDir, file)).mode & 0o777;
        assert.equal(mode, 0o600, file);
      }
    });

    if (profile === "production") {
      it("denies FLUSHALL, FLUSHDB and CONFIG to the app user and every @dangerous command", async () => {
        const app = platformClient(connection, "app", 0);
        try {
          await app.connect();
          await expectError(app.call("FLUSHALL"), /unknown command/i);
          await expectError(app.call("FLUSHDB"), /unknown command/i);
          await expectError(app.call("CONFIG", "GET", "maxmemory"), /unknown command/i);
          await expectError(
            app.call(connection.renamedCommands.CONFIG, "GET", "maxmemory"),
            /NOPERM/,
          );
          await expectError(app.call("KEYS", "*"), /NOPERM/);
          await expectError(app.call("SWAPDB", "0", "1"), /NOPERM/);
          await expectError(app.call("ACL", "LIST"), /NOPERM/);
          await expectError(app.call("REPLICAOF", "127.0.0.1", "1"), /NOPERM/);
          await expectError(app.call("SHUTDOWN"), /NOPERM/);
          assert.match((await app.call("INFO", "server")) as string, /redis_version:7\./);
        } finally {
          app.disconnect();
        }
      });

      it("lets the admin use the renamed CONFIG, while FLUSHALL stays disabled for everyone", async () => {
        assert.match(connection.renamedCommands.CONFIG, /^CONFIG_[A-F0-9]{20}$/);
        assert.deepEqual(connection.renamedCommands, {
          CONFIG: connection.renamedCommands.CONFIG,
          FLUSHALL: "",
          FLUSHDB: "",
        });
        assert.equal(await adminConfigGet(connection, "maxmemory-policy"), "allkeys-lru");
        const admin = platformClient(connection, "admin", 0);
        try {
          await admin.connect();
          await expectError(admin.call("FLUSHALL"), /unknown command/i);
        } finally {
          admin.disconnect();
        }
      });

      it("turns the default user off and gives the probe user PING and INFO only", async () => {
        const port = connection.redis[0].port;
        const probe = directClient(port, {
          username: "probe",
          password: sandbox!.secrets.probePassword,
        });
        const asDefault = directClient(port);
        try {
          await probe.connect();
          assert.equal(await probe.ping(), "PONG");
          await expectError(probe.get("session:user:12345"), /NOPERM/);
          await asDefault.connect();
          await expectError(asDefault.call("AUTH", "default", "anything"), /WRONGPASS/);
          await expectError(asDefault.ping(), /NOAUTH/);
        } finally {
          probe.disconnect();
          asDefault.disconnect();
        }
      });
    }

    it("restarts a killed redis-server like a restart policy, serving again", async () => {
      const supervisor = sandbox!.supervisor;
      const before = supervisor.pid("redis-0");
      supervisor.signal("redis-0", "SIGKILL");
      await supervisor.exited("redis-0");
      const after = await waitFor("a new redis-0 process", () => {
        const pid = supervisor.pid("redis-0");
        return pid !== before ? pid : undefined;
      });
      assert.notEqual(after, before);
      await waitFor("redis-0 answering again", async () => {
        const app = platformClient(connection, "app", 0, {
          retryStrategy: () => null,
          maxRetriesPerRequest: 0,
        });
        app.on("error", () => undefined);
        try {
          await app.connect();
          return (await app.ping()) === "PONG" ? true : undefined;
        } finally {
          app.disconnect();
        }
      });
      assert.equal(supervisor.restarts("redis-0"), 1);
    });

    it("keeps data written before a restart", async () => {
      const app = platformClient(connection, "app", connection.databases.components);
      await app.connect();
      await app.hset("ui:themes", "dark", JSON.stringify({ bg: "#000" }));
      app.disconnect();
      await sandbox!.stop();
      sandbox = await startSandbox(cfg, { dir, basePort });
      assert.deepEqual(
        sandbox.connection.users,
        connection.users,
        "the same dir keeps its secrets",
      );
      const again = platformClient(sandbox.connection, "app", connection.databases.components);
      try {
        await again.connect();
        assert.deepEqual(JSON.parse((await again.hget("ui:themes", "dark"))!), { bg: "#000" });
      } finally {
        again.disconnect();
      }
    });
  });
}

describe("Kubernetes init step: prepare.sh copies the mounted ConfigMap and Secret into the writable conf dir", () => {
  it("copies every file through the mounts' symlinks, owner-only and byte-identical", () => {
    const cfg = resolve(PROD_STANDALONE, "prod");
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-prepare-"));
    try {
      // The layout kubelet gives ConfigMap and Secret volumes: files are links into ..data/.
      const mount = (dir: string, files: Record<string, string>) => {
        fs.mkdirSync(path.join(dir, "..2026_01_01", ""), { recursive: true });
        for (const [file, content] of Object.entries(files)) {
          fs.writeFileSync(path.join(dir, "..2026_01_01", file), content, { mode: 0o444 });
        }
        fs.symlinkSync("..2026_01_01", path.join(dir, "..data"));
        for (const file of Object.keys(files))
          fs.symlinkSync(path.join("..data", file), path.join(dir, file));
      };
      const secrets = loadOrCreateSecrets(cfg, root);
      const configData = nodeConfigData(cfg);
      mount(path.join(root, "config"), configData);
      mount(path.join(root, "secret"), nodeSecretFiles(cfg, secrets));
      const conf = path.join(root, "conf");
      // An emptyDir is created open (0777); a file left from an earlier start was 0644.
      fs.mkdirSync(conf);
      fs.chmodSync(conf, 0o777);
      fs.writeFileSync(path.join(conf, "secrets.conf"), "stale", { mode: 0o644 });
      const run = spawnSync("sh", [path.join(root, "config", "prepare.sh")], {
        env: {
          ...process.env,
          CONFIG_MOUNT: path.join(root, "config"),
          SECRET_MOUNT: path.join(root, "secret"),
          CONF_DIR: conf,
        },
        encoding: "utf8",
      });
      assert.equal(run.status, 0, run.stderr);
      const copied = fs.readdirSync(conf).sort();
      assert.deepEqual(copied, [
        // The exporter sidecar's password file (it mounts that one item of the Secret itself).
        "exporter.json",
        "prepare.sh",
        "probe.pass",
        "probe.sh",
        "redis.conf",
        "secrets.conf",
        "start-redis.sh",
        "users.acl",
      ]);
      assert.equal(fs.statSync(conf).mode & 0o777, 0o700);
      for (const file of copied) {
        const stat = fs.lstatSync(path.join(conf, file));
        assert.ok(stat.isFile(), `${file} is a file, not a link`);
        assert.equal(stat.mode & 0o777, 0o600, file);
      }
      assert.equal(
        fs.readFileSync(path.join(conf, "redis.conf"), "utf8"),
        configData["redis.conf"],
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
