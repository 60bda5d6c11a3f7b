import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { EXPORTER_NODE_RULES, EXPORTER_USER } from "../../render/acl";
import { exporterArgs, renderExporterPasswordFile } from "../../render/metrics";
import { currentMasterPort } from "../../sandbox/drills/failover";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { PROD, resolve } from "../helpers/config";
import { platformClient, directClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

const EXPORTER = "/usr/bin/prometheus-redis-exporter";
/** A value only the app may read: it must appear in no metric and no reply to the exporter user. */
const SECRET_VALUE = "s3cr3t-value-only-the-app-reads";

/** Free ports for the exporters' listeners: above the sandbox's ranges. */
let nextListenPort = 13000 + Math.floor(Math.random() * 500) * 2;

interface RunningExporter {
  readonly process: ChildProcess;
  readonly url: string;
  readonly log: () => string;
}

/** redis_exporter with the rendered flags and password file, against one server of the sandbox. */
function startExporter(dir: string, serverPort: number, password: string): RunningExporter {
  const listen = `127.0.0.1:${nextListenPort++}`;
  const passwordFile = path.join(dir, `exporter-${serverPort}.json`);
  fs.writeFileSync(passwordFile, renderExporterPasswordFile(serverPort, password), { mode: 0o600 });
  let output = "";
  const child = spawn(EXPORTER, exporterArgs(serverPort, passwordFile, listen), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  return { process: child, url: `http://${listen}/metrics`, log: () => output };
}

/** One scrape, once redis_up is 1 (the exporter listens and reached the server). */
async function scrapeUp(exporter: RunningExporter): Promise<string> {
  return waitFor(
    `redis_up 1 from ${exporter.url}`,
    async () => {
      const body = await (await fetch(exporter.url)).text();
      return /^redis_up 1$/m.test(body) ? body : undefined;
    },
    20_000,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nexporter log:\n${exporter.log()}`);
  });
}

/** The value of one series line, e.g. `redis_db_keys{db="db3"}`. */
function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("redis_exporter as the exporter user, against a production sandbox group", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;
  const exporters: RunningExporter[] = [];
  const clients: Redis[] = [];
  let masterPort: number;
  let masterMetrics: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-exporter-"));
    sandbox = await startSandbox(resolve(PROD, "prod"), { dir, basePort: await freeBasePort(3) });
    masterPort = await currentMasterPort(sandbox.connection);
    // Keys in every platform database: per database, 3 without TTL and 2 with.
    for (const [purpose, db] of Object.entries(sandbox.connection.databases)) {
      const app = platformClient(sandbox.connection, "app", db);
      clients.push(app);
      for (let i = 0; i < 3; i++) await app.set(`${purpose}:fixed-${i}`, SECRET_VALUE);
      for (let i = 0; i < 2; i++) await app.set(`${purpose}:ttl-${i}`, SECRET_VALUE, "EX", 600);
    }
    const exporter = startExporter(dir, masterPort, sandbox.secrets.exporterPassword!);
    exporters.push(exporter);
    masterMetrics = await scrapeUp(exporter);
  });

  after(async () => {
    for (const e of exporters) e.process.kill("SIGKILL");
    for (const c of clients) c.disconnect();
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the master: redis_up 1, its role, maxmemory from INFO, no scrape error", () => {
    assert.equal(sample(masterMetrics, "redis_up"), 1);
    assert.match(masterMetrics, /^redis_instance_info\{[^}]*role="master"[^}]*\} 1$/m);
    assert.equal(sample(masterMetrics, "redis_memory_max_bytes"), 384 * 1024 * 1024);
    assert.equal(sample(masterMetrics, 'redis_exporter_last_scrape_error{err=""}'), 0);
  });

  it("key counts per platform database: all keys, and those with a TTL", () => {
    for (const db of Object.values(sandbox!.connection.databases)) {
      assert.equal(sample(masterMetrics, `redis_db_keys{db="db${db}"}`), 5, `db${db}`);
      assert.equal(sample(masterMetrics, `redis_db_keys_expiring{db="db${db}"}`), 2, `db${db}`);
    }
  });

  it("no value reaches the metrics", () => {
    assert.ok(!masterMetrics.includes(SECRET_VALUE));
  });

  it("a replica: its link to the master is up", async () => {
    const replica = sandbox!.nodes.find((n) => n.port !== masterPort)!;
    const exporter = startExporter(dir, replica.port, sandbox!.secrets.exporterPassword!);
    exporters.push(exporter);
    const body = await scrapeUp(exporter);
    assert.match(body, /^redis_master_link_up\{[^}]*\} 1$/m);
    assert.match(body, /^redis_instance_info\{[^}]*role="slave"[^}]*\} 1$/m);
  });

  it("a sentinel: the master is ok, seen by every sentinel, with its replicas", async () => {
    const exporter = startExporter(
      dir,
      sandbox!.sentinels[0].port,
      sandbox!.secrets.exporterPassword!,
    );
    exporters.push(exporter);
    const body = await waitFor(
      "the sentinel's view of 3 sentinels",
      async () => {
        const text = await scrapeUp(exporter);
        return /^redis_sentinel_master_ok_sentinels\{[^}]*master_name="lowcode-master"[^}]*\} 3$/m.test(
          text,
        )
          ? text
          : undefined;
      },
      30_000,
      500,
    );
    assert.match(
      body,
      /^redis_sentinel_master_status\{[^}]*master_name="lowcode-master"[^}]*master_status="ok"\} 1$/m,
    );
    assert.match(body, /^redis_sentinel_master_ok_slaves\{[^}]*\} 2$/m);
  });

  it("the exporter user holds exactly the rendered rules on the nodes and the sentinels", async () => {
    const admin = directClient(masterPort, sandbox!.connection.users.admin);
    clients.push(admin);
    const node = (await admin.call("ACL", "GETUSER", EXPORTER_USER)) as unknown[];
    const field = (reply: unknown[], name: string) => reply[reply.indexOf(name) + 1];
    assert.equal(field(node, "keys"), "");
    assert.equal(field(node, "channels"), "");
    const commands = String(field(node, "commands")).split(" ").sort();
    assert.deepEqual(
      commands,
      EXPORTER_NODE_RULES.split(" ")
        .filter((r) => r.startsWith("+") || r.startsWith("-"))
        .sort(),
    );
  });

  describe("as an attacker holding the exporter's password", () => {
    let attacker: Redis;
    before(() => {
      attacker = directClient(masterPort, {
        username: EXPORTER_USER,
        password: sandbox!.secrets.exporterPassword!,
      });
      clients.push(attacker);
    });

    const refused = async (what: string, ...args: (string | number)[]) => {
      await assert.rejects(
        attacker.call(args[0] as string, ...args.slice(1)),
        (err: Error) => /NOPERM|unknown command/.test(err.message),
        `${what} was not refused`,
      );
    };

    it("reads no value, no key name and no other user's secret", async () => {
      await refused("GET", "GET", "sessions:fixed-0");
      await refused("MGET", "MGET", "sessions:fixed-0");
      await refused("DUMP", "DUMP", "sessions:fixed-0");
      await refused("GETRANGE", "GETRANGE", "sessions:fixed-0", 0, -1);
      await refused("SCAN", "SCAN", 0);
      await refused("KEYS", "KEYS", "*");
      await refused("RANDOMKEY", "RANDOMKEY");
      await refused("TYPE", "TYPE", "sessions:fixed-0");
      await refused("SLOWLOG GET (arguments, values included)", "SLOWLOG", "GET");
      await refused("CONFIG GET (masterauth)", "CONFIG", "GET", "masterauth");
      await refused("the renamed CONFIG", sandbox!.connection.renamedCommands.CONFIG, "GET", "*");
      await refused("CLIENT LIST", "CLIENT", "LIST");
      await refused("MONITOR", "MONITOR");
      await refused("SYNC (the whole dataset)", "SYNC");
      await refused("EVAL", "EVAL", "return redis.call('get', KEYS[1])", 1, "sessions:fixed-0");
      await refused("SUBSCRIBE to keyspace events", "SUBSCRIBE", "__keyevent@0__:expired");
      await refused("SELECT", "SELECT", 1);
      await refused("MEMORY USAGE", "MEMORY", "USAGE", "sessions:fixed-0");
      await refused("ACL LIST", "ACL", "LIST");
    });

    it("reads LATENCY HISTOGRAM (the newer exporter's): command names and timings, no argument", async () => {
      const app = platformClient(sandbox!.connection, "app", 0);
      clients.push(app);
      await app.get("sessions:fixed-0");
      const reply = JSON.stringify(await attacker.call("LATENCY", "HISTOGRAM", "get"));
      assert.match(reply, /"get".*"calls"/);
      assert.ok(!reply.includes("sessions:fixed-0") && !reply.includes(SECRET_VALUE), reply);
    });

    it("writes and deletes nothing", async () => {
      await refused("SET", "SET", "sessions:fixed-0", "x");
      await refused("DEL", "DEL", "sessions:fixed-0");
      await refused("FLUSHALL", "FLUSHALL");
      await refused("SHUTDOWN", "SHUTDOWN");
      const app = platformClient(sandbox!.connection, "app", 0);
      clients.push(app);
      assert.equal(await app.get("sessions:fixed-0"), SECRET_VALUE);
    });

    it("on a sentinel: no failover, no reconfiguration, no other command", async () => {
      const onSentinel = directClient(sandbox!.sentinels[0].port, {
        username: EXPORTER_USER,
        password: sandbox!.secrets.exporterPassword!,
      });
      clients.push(onSentinel);
      for (const args of [
        ["SENTINEL", "FAILOVER", "lowcode-master"],
        ["SENTINEL", "SET", "lowcode-master", "quorum", "1"],
        ["SENTINEL", "REMOVE", "lowcode-master"],
        ["SENTINEL", "CONFIG", "GET", "*"],
        ["PUBLISH", "__sentinel__:hello", "x"],
        ["SUBSCRIBE", "+switch-master"],
      ])
        await assert.rejects(onSentinel.call(args[0], ...args.slice(1)), /NOPERM/, args.join(" "));
      assert.ok(Array.isArray(await onSentinel.call("SENTINEL", "MASTERS")));
    });
  });
});
