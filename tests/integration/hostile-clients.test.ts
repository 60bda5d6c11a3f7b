import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import Redis from "ioredis";
import { ResolvedConfig } from "../../config/resolve";
import { ConnectionInfo } from "../../render/connection";
import { SENTINEL_MEMORY_MI } from "../../render/kubernetes";
import { parseInfo } from "../../lib/redis-clients";
import { currentMasterPort } from "../../sandbox/drills/failover";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { SandboxProcess } from "../../sandbox/process-list";
import { PROD, resolve } from "../helpers/config";
import { fillClientSlots, floodUnread, peakResidentBytes, resp } from "../../sandbox/drills/flood";
import { directClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

/** The dataset every flood must leave whole: 20,000 keys in each of the six databases. */
const KEYS_PER_DATABASE = 20_000;
const DATABASES = 6;
const TOTAL_KEYS = KEYS_PER_DATABASE * DATABASES;

describe("production group against clients that flood memory, connections and time: no key evicted, every process within its memory limit, no failover on demand", function () {
  this.timeout(180_000);
  let cfg: ResolvedConfig;
  let dir: string;
  let sandbox: Sandbox | undefined;
  let connection: ConnectionInfo;
  const clients: Redis[] = [];

  const password = (key: keyof Sandbox["secrets"]) => sandbox!.secrets[key]!;
  const client = (port: number, username: string, pass: string, db = 0) => {
    const c = directClient(port, { username, password: pass, db });
    clients.push(c);
    return c;
  };
  const admin = (port: number, db = 0) =>
    client(port, connection.users.admin.username, connection.users.admin.password, db);
  const app = (port: number, db = 0) =>
    client(port, connection.users.app.username, connection.users.app.password, db);

  /** Keys per node, evictions per node, and each process's peak memory against its limit. */
  async function assertDatasetWholeAndWithinLimits(what: string): Promise<void> {
    for (const node of sandbox!.nodes) {
      const c = admin(node.port);
      // Replicas apply what the master did: wait until they have caught up with it.
      const counted = await waitFor(
        `${node.name} to hold every key (${what})`,
        async () => {
          const info = parseInfo(await c.info("keyspace"));
          const keys = Object.values(info).reduce(
            (sum, v) => sum + Number(/keys=(\d+)/.exec(v)?.[1] ?? 0),
            0,
          );
          return keys >= TOTAL_KEYS ? keys : undefined;
        },
        10_000,
      );
      assert.equal(counted, TOTAL_KEYS, `${what}: ${node.name} holds ${counted} keys`);
      const stats = parseInfo(await c.info("stats"));
      assert.equal(stats.evicted_keys, "0", `${what}: ${node.name} evicted keys`);
    }
    for (const p of [...sandbox!.nodes, ...sandbox!.sentinels]) {
      const peak = peakResidentBytes(sandbox!.supervisor.pid(p.name)!);
      const limit = limitOf(p);
      assert.ok(
        peak <= limit,
        `${what}: ${p.name} peaked at ${(peak / 2 ** 20).toFixed(0)} MiB, over its ${limit / 2 ** 20} MiB limit`,
      );
    }
  }

  const limitOf = (p: SandboxProcess) =>
    p.kind === "redis" ? cfg.resources.memoryLimitBytes : SENTINEL_MEMORY_MI.limit * 2 ** 20;

  before(async () => {
    cfg = resolve(PROD, "prod");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-hostile-"));
    sandbox = await startSandbox(cfg, { dir, basePort: await freeBasePort(3) });
    connection = sandbox.connection;
    const master = await currentMasterPort(connection);
    for (let db = 0; db < DATABASES; db++) {
      const c = admin(master, db);
      for (let start = 0; start < KEYS_PER_DATABASE; start += 5000) {
        const pipeline = c.pipeline();
        for (let i = start; i < start + 5000; i++) pipeline.set(`key:${db}:${i}`, `value-${i}`);
        await pipeline.exec();
      }
    }
    await assertDatasetWholeAndWithinLimits("after loading");
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  after(async () => {
    await sandbox?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("INFO everything as exporter, never read: the master drops the client and evicts nothing", async () => {
    const master = await currentMasterPort(connection);
    const flood = await floodUnread(
      master,
      ["exporter", password("exporterPassword")],
      ["INFO", "everything"],
    );
    assert.ok(flood.droppedByServer, `the flood ran ${flood.ms} ms without being dropped`);
    await assertDatasetWholeAndWithinLimits("INFO flood as exporter");
  });

  it("HELLO as backup, never read: dropped, nothing evicted", async () => {
    const master = await currentMasterPort(connection);
    const flood = await floodUnread(master, ["backup", password("backupPassword")], ["HELLO", "3"]);
    assert.ok(flood.droppedByServer, `the flood ran ${flood.ms} ms without being dropped`);
    await assertDatasetWholeAndWithinLimits("HELLO flood as backup");
  });

  it("SENTINEL MASTER as sentinel-client (every application holds it), never read: the sentinel drops it, within its memory limit", async () => {
    const sentinel = connection.sentinels[0];
    const flood = await floodUnread(
      sentinel.port,
      [connection.sentinelUser!.username, connection.sentinelUser!.password],
      ["SENTINEL", "MASTER", cfg.sentinel.masterName],
    );
    assert.ok(flood.droppedByServer, `the flood ran ${flood.ms} ms without being dropped`);
    await assertDatasetWholeAndWithinLimits("SENTINEL MASTER flood as sentinel-client");
  });

  it("commands without a password, never read: the NOAUTH answers are bounded too", async () => {
    const master = await currentMasterPort(connection);
    const flood = await floodUnread(master, undefined, ["PING"]);
    assert.ok(flood.droppedByServer, `the flood ran ${flood.ms} ms without being dropped`);
    await assertDatasetWholeAndWithinLimits("unauthenticated flood");
  });

  it("the SETRANGE transaction as app is refused, and no command of any user makes a value past proto-max-bulk-len", async () => {
    const master = await currentMasterPort(connection);
    const c = app(master);
    await assert.rejects(
      c.multi().setrange("big1", 536870911, "x").setrange("big2", 536870911, "x").exec(),
      /EXECABORT|NOPERM/,
    );
    // Even an operator's command cannot make a value past proto-max-bulk-len (12mb here).
    await assert.rejects(
      admin(master).setrange("big1", 536870911, "x"),
      /string exceeds maximum allowed size/,
    );
    assert.equal(await admin(master).exists("big1", "big2"), 0);
    await assertDatasetWholeAndWithinLimits("SETRANGE transaction");
  });

  it("the app user may run none of appDeniedCommands, and still every command the platform's purposes use", async () => {
    const master = await currentMasterPort(connection);
    const dryrun = (...command: string[]) =>
      admin(master).call("ACL", "DRYRUN", "app", ...command) as Promise<string>;
    const args: Record<string, string[]> = {
      setrange: ["k", "0", "x"],
      setbit: ["k", "0", "1"],
      bitfield: ["k", "GET", "u8", "0"],
      copy: ["a", "b"],
      sintercard: ["1", "a"],
      zintercard: ["1", "a"],
      zunion: ["1", "a"],
      zinter: ["1", "a"],
      zdiff: ["1", "a"],
      zunionstore: ["d", "1", "a"],
      zinterstore: ["d", "1", "a"],
      zdiffstore: ["d", "1", "a"],
      zrangestore: ["d", "a", "0", "-1"],
      georadius: ["k", "0", "0", "1", "km"],
      georadiusbymember: ["k", "m", "1", "km"],
      geosearchstore: ["d", "k", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
      bitop: ["AND", "d", "a"],
    };
    for (const command of cfg.appDeniedCommands) {
      const reply = await dryrun(command, ...(args[command] ?? ["a", "b"]));
      assert.match(reply, /no permissions/, `app may run ${command}: ${reply}`);
    }
    for (const command of [
      ["HSET", "session:user:1", "token", "t"],
      ["GET", "refresh_token:x"],
      ["SMEMBERS", "s"],
      ["SCAN", "0"],
      ["BITFIELD_RO", "k", "GET", "u8", "0"],
      ["GEOSEARCH", "k", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
      ["INCR", "ratelimit:user:1:api:flows"],
    ])
      assert.equal(await dryrun(...command), "OK", command.join(" "));
  });

  it("the SUNIONSTORE transaction as app is refused before it runs: the master never stops answering, no failover", async () => {
    const master = await currentMasterPort(connection);
    // A set of 1M members, made by an operator: union-storing it eight times took the master's
    // event loop for seconds, past down-after-milliseconds.
    const a = admin(master, 5);
    for (let start = 0; start < 1_000_000; start += 50_000) {
      const members = Array.from({ length: 50_000 }, (_, i) => `m${start + i}`);
      await a.sadd("huge", ...members);
    }
    const epochBefore = pairs(await sentinelMaster())["config-epoch"];
    const watcher = app(master);
    let slowest = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const t = Date.now();
        await watcher.ping();
        slowest = Math.max(slowest, Date.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const transaction = app(master, 5).multi();
    for (let i = 0; i < 8; i++) transaction.sunionstore(`copy${i}`, "huge", "huge");
    await assert.rejects(transaction.exec(), /EXECABORT|NOPERM/);
    watching = false;
    await watch;
    assert.ok(slowest < 1000, `the master took ${slowest} ms to answer a PING`);
    assert.equal(await a.exists(...Array.from({ length: 8 }, (_, i) => `copy${i}`)), 0);
    assert.equal(await currentMasterPort(connection), master);
    const after = await sentinelMaster();
    const fields = pairs(after);
    assert.equal(fields["config-epoch"], epochBefore, "a failover happened");
    assert.doesNotMatch(fields.flags, /s_down|o_down/);
    await a.del("huge");
  });

  it("a connection flood needs no password and fills every client slot: liveness still passes (no restart), readiness fails", async () => {
    for (const target of [sandbox!.nodes[0], sandbox!.sentinels[0]]) {
      // The slots the process really has (Redis lowers maxclients to what its file limit allows).
      const maxclients = Number(
        parseInfo(
          (await client(target.port, "exporter", password("exporterPassword")).call(
            "INFO",
            "clients",
          )) as string,
        ).maxclients,
      );
      const pid = sandbox!.supervisor.pid(target.name);
      // Connected before the flood: afterwards there is no slot left.
      const observer = client(target.port, "exporter", password("exporterPassword"));
      await observer.ping();
      const flood = await fillClientSlots(target.port, maxclients + 50);
      try {
        const script = target.kind === "redis" ? "probe.sh" : "sentinel-probe.sh";
        const probe = (...args: string[]) =>
          spawnSync("sh", [path.join(target.confDir, script), ...args], {
            env: { ...process.env, PROBE_PORT: String(target.port) },
            encoding: "utf8",
            timeout: 15_000,
          });
        // kubelet restarts a container after failureThreshold (3) failed liveness probes in a row.
        for (let i = 0; i < 3; i++) {
          const live = probe("live");
          assert.equal(live.status, 0, `${target.name} liveness: ${live.stderr}`);
        }
        const ready = probe();
        assert.notEqual(ready.status, 0, `${target.name} readiness passed during the flood`);
        assert.match(
          ready.stderr,
          /max number of clients reached|Server closed the connection|Connection reset by peer/,
        );
        // Every slot taken by a new connection is still below maxmemory-clients: Redis evicts
        // no client, so the sentinels' and replicas' long-lived links stay.
        const stats = parseInfo((await observer.call("INFO", "stats")) as string);
        assert.equal(stats.evicted_clients, "0", `${target.name} evicted clients`);
      } finally {
        flood.close();
      }
      assert.equal(sandbox!.supervisor.pid(target.name), pid, `${target.name} was restarted`);
    }
  });

  it("sentinel-client subscribes to Sentinel's events only: a channel name of its own is refused, so it cannot fill a sentinel with names", async () => {
    const sentinel = connection.sentinels[0];
    const s = client(
      sentinel.port,
      connection.sentinelUser!.username,
      connection.sentinelUser!.password,
    );
    await s.subscribe("+switch-master", "+sdown");
    await assert.rejects(s.subscribe(`x:${"c".repeat(1024 * 1024 - 8)}`), /NOPERM/);
    await assert.rejects(s.psubscribe("*"), /NOPERM/);
  });

  it("a command of 3M empty arguments, never completed, as sentinel-client: the sentinel drops it within its limit", async () => {
    const sentinel = sandbox!.sentinels[1];
    const socket = net.connect(sentinel.port, "127.0.0.1");
    await new Promise((ok, fail) => socket.once("connect", ok).once("error", fail));
    socket.on("error", () => undefined);
    socket.on("data", () => undefined);
    socket.write(
      resp(["AUTH", connection.sentinelUser!.username, connection.sentinelUser!.password]),
    );
    socket.write(`*${2 ** 31 - 1}\r\n`);
    const chunk = Buffer.from("$0\r\n\r\n".repeat(100_000));
    try {
      for (let sent = 0; sent < 3_000_000 && !socket.destroyed; sent += 100_000)
        await new Promise<void>((ok) =>
          socket.write(chunk) ? ok() : socket.once("drain", ok).once("close", ok),
        );
      await waitFor(
        "the sentinel to drop the client",
        () => (socket.destroyed ? true : undefined),
        10_000,
      );
    } finally {
      socket.destroy();
    }
    await assertDatasetWholeAndWithinLimits("3M empty arguments to a sentinel");
  });

  it("property: a flood of unread replies as any user, on any process, evicts nothing and keeps every process within its limit", async () => {
    const master = await currentMasterPort(connection);
    const s = sandbox!.secrets;
    const sentinel = connection.sentinels[1].port;
    // Every user kind with a command it may run whose answer is larger than the command.
    const nodeUsers: Array<[string, string | undefined, string[]]> = [
      ["app", s.appPassword, ["CLIENT", "INFO"]],
      ["app", s.appPassword, ["INFO", "everything"]],
      ["admin", s.adminPassword, ["CLIENT", "LIST"]],
      ["probe", s.probePassword, ["INFO", "replication"]],
      ["failover", s.failoverPassword, ["INFO", "everything"]],
      ["replication", s.replicationPassword, ["PING"]],
      ["sentinel", s.sentinelNodePassword, ["ROLE"]],
      ["backup", s.backupPassword, ["HELLO", "3"]],
      ["commander", s.commanderRedisPassword, ["COMMAND", "DOCS", "GET"]],
      ["exporter", s.exporterPassword, ["INFO", "everything"]],
      ["nobody", undefined, ["GET", "key:0:1"]],
    ];
    const sentinelUsers: Array<[string, string | undefined, string[]]> = [
      [
        "sentinel-client",
        s.sentinelClientPassword,
        ["SENTINEL", "REPLICAS", cfg.sentinel.masterName],
      ],
      ["sentinel-peer", s.sentinelPeerPassword, ["PING"]],
      ["failover", s.failoverPassword, ["SENTINEL", "REPLICAS", cfg.sentinel.masterName]],
      ["exporter", s.exporterPassword, ["SENTINEL", "MASTERS"]],
      ["nobody", undefined, ["PING"]],
    ];
    const replica = sandbox!.nodes.find((n) => n.port !== master)!.port;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(fc.constantFrom(master, replica), fc.constantFrom(...nodeUsers)),
          fc.tuple(fc.constant(sentinel), fc.constantFrom(...sentinelUsers)),
        ),
        async ([port, [user, pass, command]]) => {
          // Dropped, or (small answers) sent for the whole bound: either way within the limits.
          await floodUnread(port, pass === undefined ? undefined : [user, pass], command, 2000);
          await assertDatasetWholeAndWithinLimits(`${user} ${command.join(" ")} on ${port}`);
        },
      ),
      { numRuns: 10 },
    );
  });

  async function sentinelMaster(): Promise<string[]> {
    const sentinel = connection.sentinels[0];
    return (await client(
      sentinel.port,
      connection.sentinelUser!.username,
      connection.sentinelUser!.password,
    ).call("SENTINEL", "MASTER", cfg.sentinel.masterName)) as string[];
  }
});

/** A flat [field, value, …] reply as a record. */
function pairs(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}
