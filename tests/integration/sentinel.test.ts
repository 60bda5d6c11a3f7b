import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { ResolvedConfig } from "../../config/resolve";
import { ConnectionInfo } from "../../render/connection";
import { ioredisOptions } from "../../render/client-options";
import { currentMasterPort, failoverDrill } from "../../sandbox/drills/failover";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { readProcesses } from "../../sandbox/contract";
import { DEV, PROD, resolve } from "../helpers/config";
import { directClient, exercisePlatform } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

async function role(connection: ConnectionInfo, port: number): Promise<string> {
  const admin = directClient(port, connection.users.admin);
  admin.on("error", () => undefined);
  try {
    await admin.connect();
    const info = await admin.info("replication");
    return /^role:(\w+)/m.exec(info)![1];
  } finally {
    admin.disconnect();
  }
}

describe("sentinel group, production profile: failover on real redis-server and redis-sentinel processes", function () {
  let cfg: ResolvedConfig;
  let dir: string;
  let sandbox: Sandbox | undefined;
  let connection: ConnectionInfo;

  before(async () => {
    cfg = resolve(PROD, "prod");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-group-"));
    sandbox = await startSandbox(cfg, { dir, basePort: await freeBasePort(3) });
    connection = sandbox.connection;
  });

  after(async () => {
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes the sentinel fields of connection.json", () => {
    assert.equal(connection.topology, "sentinel");
    assert.equal(connection.masterName, "lowcode-master");
    assert.equal(connection.redis.length, 3);
    assert.deepEqual(
      connection.redis.map((r) => r.role),
      ["master", "replica", "replica"],
    );
    assert.equal(connection.sentinels.length, 3);
    assert.equal(connection.sentinelUser?.username, "sentinel-client");
    assert.ok((connection.sentinelUser?.password.length ?? 0) >= 16);
  });

  it("sentinels reject unauthenticated clients and wrong passwords", async () => {
    const client = directClient(connection.sentinels[0].port);
    try {
      await client.connect();
      await assert.rejects(
        client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "lowcode-master"),
        /NOAUTH/,
      );
      await assert.rejects(client.call("AUTH", "sentinel-client", "wrong-password"), /WRONGPASS/);
      await assert.rejects(client.call("AUTH", "default", "wrong-password"), /WRONGPASS/);
    } finally {
      client.disconnect();
    }
  });

  it("the rendered sentinel health check authenticates as sentinel-client and passes", () => {
    const sentinel = sandbox!.sentinels[0];
    const probe = spawnSync("sh", [path.join(sentinel.confDir, "sentinel-probe.sh")], {
      env: { ...process.env, PROBE_PORT: String(sentinel.port) },
      encoding: "utf8",
    });
    assert.equal(probe.status, 0, probe.stderr);
  });

  it("gives the sentinel-client user lookups only, not reconfiguration", async () => {
    const client = directClient(connection.sentinels[0].port, connection.sentinelUser!);
    try {
      await client.connect();
      const [, port] = (await client.call(
        "SENTINEL",
        "GET-MASTER-ADDR-BY-NAME",
        "lowcode-master",
      )) as string[];
      assert.equal(Number(port), connection.redis[0].port);
      await assert.rejects(client.call("SENTINEL", "FAILOVER", "lowcode-master"), /NOPERM/);
      await assert.rejects(
        client.call("SENTINEL", "SET", "lowcode-master", "quorum", "1"),
        /NOPERM/,
      );
    } finally {
      client.disconnect();
    }
  });

  it("renames commands identically on every node, and replicas authenticate as the replication user", async () => {
    const confs = sandbox!.nodes.map((n) =>
      fs.readFileSync(path.join(n.confDir, "secrets.conf"), "utf8"),
    );
    assert.ok(confs.every((c) => c === confs[0]));
    assert.match(
      confs[0],
      new RegExp(`^rename-command CONFIG ${connection.renamedCommands.CONFIG}$`, "m"),
    );
    assert.match(confs[0], /^masteruser replication$/m);
    for (const s of sandbox!.sentinels) {
      const state = fs.readFileSync(path.join(s.dataDir, "sentinel.conf"), "utf8");
      assert.match(
        state,
        new RegExp(
          `^sentinel rename-command lowcode-master CONFIG ${connection.renamedCommands.CONFIG}$`,
          "m",
        ),
      );
    }
    for (const replica of connection.redis.slice(1))
      assert.equal(await role(connection, replica.port), "slave");
  });

  it("serves the platform use cases to an ioredis sentinel client as the app user", async () => {
    const client = new Redis(ioredisOptions(connection, "app"));
    try {
      await client.connect();
      assert.equal(await client.ping(), "PONG");
    } finally {
      client.disconnect();
    }
    await exercisePlatform(connection);
  });

  it("kill -9 of the master: writes resume, no WAIT-acknowledged write is lost, the old master returns as a replica", async () => {
    const result = await failoverDrill(sandbox!, {
      keyPrefix: "drill:a",
      writesBeforeKill: 100,
      writesAfter: 50,
    });
    assert.equal(
      result.lost,
      0,
      `lost ${result.lost} of ${result.acknowledged} acknowledged writes`,
    );
    assert.notEqual(result.newMasterPort, result.killedPort);
    assert.ok(result.acknowledged >= 150);
    await waitFor(
      "the old master back as a replica",
      async () =>
        (await role(connection, result.killedPort).catch(() => "")) === "slave" ? true : undefined,
      45_000,
      200,
    );
    // Sentinel reconfigured the promoted node with the renamed CONFIG REWRITE.
    const promoted = sandbox!.nodes.find((n) => n.port === result.newMasterPort)!;
    await waitFor(
      "CONFIG REWRITE on the promoted node",
      () =>
        fs
          .readFileSync(path.join(promoted.confDir, "redis.conf"), "utf8")
          .includes("# Generated by CONFIG REWRITE")
          ? true
          : undefined,
      10_000,
    );
  });

  it("a sentinel that lost its state asks the others and monitors the current master", async () => {
    const master = await currentMasterPort(connection);
    // After the failover above: the answer differs from the initial master a fresh sentinel defaults to.
    assert.notEqual(master, connection.redis[0].port);
    const sentinel = sandbox!.sentinels[0];
    await sandbox!.supervisor.pause(sentinel.name);
    fs.rmSync(path.join(sentinel.dataDir, "sentinel.conf"));
    sandbox!.supervisor.resume(sentinel.name);
    const log = path.join(dir, "logs", `${sentinel.name}.log`);
    await waitFor("the restarted sentinel's choice", () =>
      fs.readFileSync(log, "utf8").includes(`start-sentinel: monitoring localhost ${master}`)
        ? true
        : undefined,
    );
    const client = directClient(sentinel.port, connection.sentinelUser!);
    try {
      const answer = await waitFor("the restarted sentinel answering", async () => {
        await client.connect().catch(() => undefined);
        return (await client.call(
          "SENTINEL",
          "GET-MASTER-ADDR-BY-NAME",
          "lowcode-master",
        )) as string[];
      });
      assert.equal(Number(answer[1]), master);
    } finally {
      client.disconnect();
    }
  });
});

// Sentinel starts no second failover of a master within twice failover-timeout of the last one,
// so this scenario has a group of its own.
describe("sentinel group, production profile: a failover with one sentinel lost", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-group-"));
    sandbox = await startSandbox(resolve(PROD, "prod"), { dir, basePort: await freeBasePort(3) });
  });

  after(async () => {
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the two remaining sentinels (a majority) fail over; no acknowledged write is lost", async () => {
    await sandbox!.supervisor.pause("sentinel-2");
    try {
      const before = await currentMasterPort(sandbox!.connection);
      const result = await failoverDrill(sandbox!, {
        keyPrefix: "drill:b",
        writesBeforeKill: 20,
        writesAfter: 20,
      });
      assert.equal(result.killedPort, before);
      assert.notEqual(result.newMasterPort, before);
      assert.equal(result.lost, 0);
    } finally {
      sandbox!.supervisor.resume("sentinel-2");
    }
  });
});

describe("sentinel group, dev profile: requirepass on nodes and sentinels, failover through the same scripts", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-group-dev-"));
    sandbox = await startSandbox(resolve({ ...DEV, topology: "sentinel" }, "dev-ha"), {
      dir,
      basePort: await freeBasePort(3),
    });
  });

  after(async () => {
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("serves the platform through the sentinels with the default user", async () => {
    const c = sandbox!.connection;
    assert.equal(c.sentinelUser?.username, "default");
    assert.deepEqual(c.renamedCommands, {});
    await exercisePlatform(c);
  });

  it("fails over after kill -9 of the master without losing acknowledged writes", async () => {
    const result = await failoverDrill(sandbox!, {
      keyPrefix: "drill:dev",
      writesBeforeKill: 20,
      writesAfter: 20,
    });
    assert.notEqual(result.newMasterPort, result.killedPort);
    assert.equal(result.lost, 0);
  });

  it("a replica Sentinel reconfigured (CONFIG REWRITE) starts again: no user lands in its redis.conf", async () => {
    const c = sandbox!.connection;
    const master = await currentMasterPort(c);
    const rewritten = await waitFor("a replica whose redis.conf Sentinel rewrote", () =>
      readProcesses(dir).processes.find(
        (p) =>
          p.kind === "redis" &&
          p.port !== master &&
          /Generated by CONFIG REWRITE/.test(
            fs.readFileSync(path.join(p.confDir, "redis.conf"), "utf8"),
          ),
      ),
    );
    // Users come from users.acl only (dev: default and Commander's): a user Redis copied into
    // redis.conf would be declared twice on the next start, and Redis would refuse to start.
    assert.doesNotMatch(
      fs.readFileSync(path.join(rewritten.confDir, "redis.conf"), "utf8"),
      /^user /m,
    );
    process.kill(rewritten.pid, "SIGKILL");
    // The sandbox starts it again through start-redis.sh, with the redis.conf Sentinel rewrote.
    await waitFor(
      `${rewritten.name} started again`,
      () => {
        const now = readProcesses(dir).processes.find((p) => p.name === rewritten.name)!;
        return now.pid !== rewritten.pid ? true : undefined;
      },
      30_000,
    );
    await waitFor(
      `${rewritten.name} back as a replica`,
      async () => ((await role(c, rewritten.port)) === "slave" ? true : undefined),
      30_000,
      250,
    );
    assert.doesNotMatch(fs.readFileSync(rewritten.logFile, "utf8"), /FATAL CONFIG FILE ERROR/);
  });
});
