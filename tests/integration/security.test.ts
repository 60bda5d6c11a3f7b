import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { ResolvedConfig } from "../../config/resolve";
import { ConnectionInfo } from "../../render/connection";
import { currentMasterPort, failoverDrill } from "../../sandbox/drills/failover";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { terminationGraceSeconds } from "../../render/sentinel";
import { PROD, resolve } from "../helpers/config";
import { directClient, exercisePlatform, expectExpiredEvent } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

const NOPERM = /NOPERM|can't publish to the channel/;

async function refused(promise: Promise<unknown>, what: string, pattern = NOPERM): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.match(err.message, pattern, `${what}: ${err.message}`);
    return true;
  });
}

/** A client of one server as `username`, connected; closed by `closeAll`. */
function opened(clients: Redis[], port: number, username: string, password: string): Redis {
  const client = directClient(port, { username, password });
  client.on("error", () => undefined);
  clients.push(client);
  return client;
}

/** Every file and directory under `dir`, with its mode. */
function modesUnder(dir: string): Array<{ file: string; mode: number }> {
  const out: Array<{ file: string; mode: number }> = [];
  const walk = (d: string) => {
    out.push({ file: d, mode: fs.statSync(d).mode & 0o777 });
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push({ file: full, mode: fs.lstatSync(full).mode & 0o777 });
    }
  };
  walk(dir);
  return out;
}

describe("production sentinel group against an attacker holding the app password, and files that stay owner-only", function () {
  let cfg: ResolvedConfig;
  let dir: string;
  let sandbox: Sandbox | undefined;
  let connection: ConnectionInfo;
  const clients: Redis[] = [];

  before(async () => {
    cfg = resolve(PROD, "prod");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-security-"));
    sandbox = await startSandbox(cfg, { dir, basePort: await freeBasePort(3) });
    connection = sandbox.connection;
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  after(async () => {
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const app = (port: number) =>
    opened(clients, port, connection.users.app.username, connection.users.app.password);
  const admin = (port: number) =>
    opened(clients, port, connection.users.admin.username, connection.users.admin.password);

  it("app cannot publish, subscribe or script its way onto __sentinel__:hello, on any node", async () => {
    const hello =
      "127.0.0.1,1,0123456789abcdef0123456789abcdef01234567,1,lowcode-master,127.0.0.1,1,1";
    for (const node of connection.redis) {
      const c = app(node.port);
      await refused(c.publish("__sentinel__:hello", hello), `PUBLISH on ${node.port}`);
      await refused(c.call("SPUBLISH", "__sentinel__:hello", hello), `SPUBLISH on ${node.port}`);
      await refused(
        c.eval("return redis.call('publish', '__sentinel__:hello', ARGV[1])", 0, hello),
        `PUBLISH from a script on ${node.port}`,
      );
      await refused(
        c.multi().publish("__sentinel__:hello", hello).exec(),
        "PUBLISH in MULTI",
        /NOPERM|EXECABORT/,
      );
      const subscriber = app(node.port);
      await refused(subscriber.subscribe("__sentinel__:hello"), "SUBSCRIBE __sentinel__:hello");
      await refused(subscriber.psubscribe("__sentinel__:*"), "PSUBSCRIBE __sentinel__:*");
      await refused(subscriber.psubscribe("*"), "PSUBSCRIBE *");
    }
    // Nor may anyone publish a hello to a sentinel directly, which Sentinel would also believe.
    const sentinel = opened(
      clients,
      connection.sentinels[0].port,
      connection.sentinelUser!.username,
      connection.sentinelUser!.password,
    );
    await refused(sentinel.publish("__sentinel__:hello", hello), "PUBLISH to a sentinel");
    // The group still has its own master, and no sentinel learned of a stranger.
    assert.equal(await currentMasterPort(connection), connection.redis[0].port);
    const peers = (await sentinel.call(
      "SENTINEL",
      "SENTINELS",
      cfg.sentinel.masterName,
    )) as unknown[];
    assert.equal(peers.length, connection.sentinels.length - 1);
  });

  it("app keeps its channels: collaboration publish/subscribe and keyspace events, but may not forge them", async () => {
    const port = connection.redis[0].port;
    const publisher = app(port);
    const subscriber = app(port);
    const received = new Promise<string>((resolve) =>
      subscriber.on("message", (_channel: string, message: string) => resolve(message)),
    );
    await subscriber.subscribe("flow:f-9:cursors");
    assert.equal(await publisher.publish("flow:f-9:cursors", '{"x":1}'), 1);
    assert.equal(await received, '{"x":1}');
    // Keyspace notifications: SUBSCRIBE to any, PSUBSCRIBE to the granted patterns as written.
    const events = app(port);
    await events.subscribe("__keyevent@0__:expired");
    await events.psubscribe("__keyevent@*__:*");
    await refused(
      publisher.publish("__keyevent@0__:expired", "session:user:1"),
      "a forged expired event",
    );
    await refused(publisher.publish("other:channel", "x"), "PUBLISH outside appChannels");
    // A function an operator loaded runs with the caller's channel permissions.
    await admin(port).call(
      "FUNCTION",
      "LOAD",
      "REPLACE",
      "#!lua name=relay\nredis.register_function('relay', function(keys, args) return redis.call('publish', args[1], args[2]) end)",
    );
    assert.equal(await publisher.call("FCALL", "relay", "0", "flow:f-9:cursors", "{}"), 1);
    await refused(
      publisher.call("FCALL", "relay", "0", "__sentinel__:hello", "x"),
      "PUBLISH __sentinel__:hello from a function",
    );
  });

  it("the six platform use cases and expired events still work as app through the sentinels", async () => {
    await exercisePlatform(connection);
    await expectExpiredEvent(connection);
  });

  it("app: no Lua of its own (a busy script would block the node), no client tracking, no cluster or memory diagnostics", async () => {
    const c = app(connection.redis[0].port);
    for (const [command, ...args] of [
      ["EVAL", "while true do end", "0"],
      ["EVAL_RO", "return 1", "0"],
      ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
      ["SCRIPT", "LOAD", "return 1"],
      ["SCRIPT", "FLUSH"],
      ["SCRIPT", "KILL"],
      ["SCRIPT", "DEBUG", "YES"],
      ["FUNCTION", "FLUSH"],
      ["FUNCTION", "DELETE", "lib"],
      [
        "FUNCTION",
        "LOAD",
        "#!lua name=evil\nredis.register_function('f', function() return 1 end)",
      ],
      ["FUNCTION", "RESTORE", "x"],
      ["FUNCTION", "KILL"],
      ["CLUSTER", "INFO"],
      ["MEMORY", "STATS"],
      ["MEMORY", "PURGE"],
      ["MEMORY", "DOCTOR"],
      ["MEMORY", "MALLOC-STATS"],
      [connection.renamedCommands.CONFIG, "SET", "save", ""],
      ["SWAPDB", "0", "1"],
      ["MONITOR"],
      ["ACL", "SETUSER", "app", "+@all"],
      ["CLIENT", "KILL", "TYPE", "normal"],
      ["CLIENT", "TRACKING", "ON", "REDIRECT", "1", "BCAST"],
      ["CLIENT", "CACHING", "YES"],
      ["BGSAVE"],
    ]) {
      await refused(c.call(command, ...args), `app ${command} ${args.join(" ")}`);
    }
    // What applications use stays: FCALL of functions an operator loaded, MEMORY USAGE.
    await c.set("ratelimit:user:1:api:flows", "1");
    assert.ok(((await c.call("MEMORY", "USAGE", "ratelimit:user:1:api:flows")) as number) > 0);
    const operator = admin(connection.redis[0].port);
    await operator.call(
      "FUNCTION",
      "LOAD",
      "REPLACE",
      "#!lua name=platform\nredis.register_function('platform_ping', function() return 'pong' end)",
    );
    assert.equal(await c.call("FCALL", "platform_ping", "0"), "pong");
  });

  it("admin operates but cannot rewrite users, load modules, debug, replicate, take roles from Sentinel or publish a hello", async () => {
    const c = admin(connection.redis[0].port);
    for (const [command, ...args] of [
      ["ACL", "SETUSER", "intruder", "on", ">password-password", "+@all"],
      ["ACL", "DELUSER", "app"],
      ["ACL", "LOAD"],
      ["ACL", "SAVE"],
      ["MODULE", "LIST"],
      ["DEBUG", "SLEEP", "0"],
      ["SCRIPT", "DEBUG", "YES"],
      ["SYNC"],
      ["PSYNC", "?", "-1"],
      ["REPLCONF", "listening-port", "1"],
      ["REPLICAOF", "127.0.0.1", "1"],
      ["SLAVEOF", "127.0.0.1", "1"],
      ["FAILOVER"],
      ["PUBLISH", "__sentinel__:hello", "x"],
    ]) {
      // DEBUG and MODULE are also off for everyone (enable-*-command no), which answers first.
      await refused(
        c.call(command, ...args),
        `admin ${command} ${args.join(" ")}`,
        /NOPERM|not allowed/,
      );
    }
    // The operator's tools work: renamed CONFIG, INFO, SLOWLOG, and reading any channel.
    const renamed = connection.renamedCommands.CONFIG;
    assert.deepEqual(await c.call(renamed, "GET", "maxmemory-policy"), [
      "maxmemory-policy",
      "allkeys-lru",
    ]);
    assert.match(await c.info("replication"), /^role:master/m);
    await c.call("SLOWLOG", "GET", "1");
    const watcher = admin(connection.redis[0].port);
    await watcher.subscribe("__sentinel__:hello");
  });

  it("probe, replication and sentinel users hold only what their role sends", async () => {
    const port = connection.redis[0].port;
    const secrets = sandbox!.secrets;
    const probe = opened(clients, port, "probe", secrets.probePassword!);
    assert.equal(await probe.ping(), "PONG");
    // INFO: a replica is ready only when its link to the master is up.
    assert.match((await probe.call("INFO", "replication")) as string, /^role:master/m);
    for (const [command, ...args] of [
      ["GET", "k"],
      ["SET", "k", "v"],
      ["SUBSCRIBE", "flow:1:cursors"],
      ["CLIENT", "PAUSE", "10"],
    ])
      await refused(probe.call(command, ...args), `probe ${command}`);

    // The pre-stop hook's user: INFO and CLIENT PAUSE/UNPAUSE on its node, nothing more.
    const failover = opened(clients, port, "failover", secrets.failoverPassword!);
    assert.equal(await failover.call("CLIENT", "UNPAUSE"), "OK");
    for (const [command, ...args] of [
      ["GET", "k"],
      ["SET", "k", "v"],
      ["CLIENT", "KILL", "TYPE", "normal"],
      ["REPLICAOF", "NO", "ONE"],
      ["PUBLISH", "__sentinel__:hello", "x"],
      [connection.renamedCommands.CONFIG, "GET", "*"],
    ])
      await refused(failover.call(command, ...args), `failover ${command}`);

    const replication = opened(clients, port, "replication", secrets.replicationPassword!);
    assert.equal(await replication.ping(), "PONG");
    for (const [command, ...args] of [
      ["GET", "k"],
      ["SET", "k", "v"],
      ["INFO"],
      ["SUBSCRIBE", "__sentinel__:hello"],
      ["PUBLISH", "__sentinel__:hello", "x"],
      ["CLIENT", "KILL", "TYPE", "normal"],
    ])
      await refused(replication.call(command, ...args), `replication ${command}`);

    const sentinelUser = opened(clients, port, "sentinel", secrets.sentinelNodePassword!);
    assert.equal(((await sentinelUser.call("ROLE")) as unknown[])[0], "master");
    for (const [command, ...args] of [
      ["GET", "k"],
      ["SET", "k", "v"],
      ["KEYS", "*"],
      [connection.renamedCommands.CONFIG, "SET", "maxmemory", "1mb"],
      [connection.renamedCommands.CONFIG, "GET", "masterauth"],
      ["PUBLISH", "flow:1:cursors", "x"],
      ["SUBSCRIBE", "flow:1:cursors"],
      ["ACL", "LIST"],
    ])
      await refused(sentinelUser.call(command, ...args), `sentinel ${command}`);
  });

  it("on the sentinels, sentinel-client looks up and sentinel-peer talks to peers, nothing more", async () => {
    const port = connection.sentinels[0].port;
    const secrets = sandbox!.secrets;
    const name = cfg.sentinel.masterName;
    const client = opened(clients, port, "sentinel-client", secrets.sentinelClientPassword!);
    const peer = opened(clients, port, "sentinel-peer", secrets.sentinelPeerPassword!);
    // The pre-stop hook's user may start a failover (not tried here: it would move the master).
    const failover = opened(clients, port, "failover", secrets.failoverPassword!);
    assert.equal(
      ((await failover.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)) as string[]).length,
      2,
    );
    for (const [command, ...args] of [
      ["SENTINEL", "SET", name, "quorum", "1"],
      ["SENTINEL", "REMOVE", name],
      ["SENTINEL", "RESET", "*"],
      ["SENTINEL", "MASTERS"],
      ["PUBLISH", "__sentinel__:hello", "x"],
    ])
      await refused(failover.call(command, ...args), `failover ${command}`);
    for (const c of [client, peer]) {
      for (const [command, ...args] of [
        ["SENTINEL", "FAILOVER", name],
        ["SENTINEL", "SET", name, "quorum", "1"],
        ["SENTINEL", "REMOVE", name],
        ["SENTINEL", "RESET", "*"],
        ["SENTINEL", "MONITOR", "evil", "127.0.0.1", "1", "1"],
        ["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "no"],
        ["SENTINEL", "DEBUG"],
        ["ACL", "LIST"],
        ["SHUTDOWN"],
      ])
        await refused(
          c.call(command, ...args),
          `${c.options.username} ${command} ${args[0] ?? ""}`,
        );
    }
    await refused(client.call("PUBLISH", "__sentinel__:hello", "x"), "sentinel-client PUBLISH");
    assert.equal(
      ((await client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)) as string[]).length,
      2,
    );
  });

  it("after a failover and a restart of every process, no file or directory under the sandbox dir is open to group or others", async function () {
    // A failover, then six restarts; the restarted master waits for the sentinels (bounded).
    this.timeout(180_000);
    const result = await failoverDrill(sandbox!, {
      keyPrefix: "modes",
      writesBeforeKill: 20,
      writesAfter: 20,
    });
    assert.equal(result.lost, 0);
    console.log(
      `      failover: ${result.killedPort} -> ${result.newMasterPort} in ${result.outageMs} ms`,
    );
    // Sentinel rewrote the promoted node's redis.conf (CONFIG REWRITE), masterauth included.
    const promoted = sandbox!.nodes.find((n) => n.port === result.newMasterPort)!;
    const promotedConf = path.join(promoted.confDir, "redis.conf");
    await waitFor("CONFIG REWRITE of the promoted node, masterauth included", () => {
      const text = fs.readFileSync(promotedConf, "utf8");
      return text.includes("# Generated by CONFIG REWRITE") && /^masterauth /m.test(text)
        ? true
        : undefined;
    });
    const killed = sandbox!.nodes.find((n) => n.port === result.killedPort)!;
    // Restart every process, one at a time, each back and answering before the next.
    const supervisor = sandbox!.supervisor;
    for (const p of [...sandbox!.nodes, ...sandbox!.sentinels]) {
      const started = Date.now();
      const before = supervisor.pid(p.name);
      supervisor.signal(p.name, "SIGTERM");
      // As kubelet: SIGKILL once the pod's grace period is over (logged: a slow stop is news).
      const graceMs = (p.kind === "redis" ? terminationGraceSeconds() : 30) * 1000;
      const stopped = await Promise.race([
        supervisor.exited(p.name).then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), graceMs)),
      ]);
      if (!stopped) {
        console.log(`      ${p.name} still running ${graceMs / 1000} s after SIGTERM: SIGKILL`);
        supervisor.signal(p.name, "SIGKILL");
        await supervisor.exited(p.name);
      }
      await waitFor(`${p.name} restarted`, () =>
        supervisor.pid(p.name) !== before ? true : undefined,
      );
      const user = p.name.startsWith("sentinel")
        ? connection.sentinelUser!
        : { username: "probe", password: sandbox!.secrets.probePassword! };
      await waitFor(
        `${p.name} answering`,
        async () => {
          const c = directClient(p.port, { ...user, connectTimeout: 500 });
          c.on("error", () => undefined);
          try {
            await c.connect();
            return (await c.ping()) === "PONG" ? true : undefined;
          } finally {
            c.disconnect();
          }
        },
        45_000,
        100,
      );
      console.log(`      ${p.name} restarted and answering in ${Date.now() - started} ms`);
    }
    // Files that hold secrets now: rewritten configs and sentinel state, data, secrets, logs.
    const sentinelState = fs.readFileSync(
      path.join(sandbox!.sentinels[0].dataDir, "sentinel.conf"),
      "utf8",
    );
    assert.match(sentinelState, /^sentinel sentinel-pass /m);
    assert.ok(fs.existsSync(path.join(killed.dataDir, "appendonlydir")));
    const open = modesUnder(dir).filter((f) => (f.mode & 0o077) !== 0);
    assert.deepEqual(
      open.map((f) => `${path.relative(dir, f.file)} ${f.mode.toString(8)}`),
      [],
    );
  });
});
