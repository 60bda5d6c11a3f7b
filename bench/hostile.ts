import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { loadStackConfig } from "../config/stack-file";
import { SENTINEL_MEMORY_MI } from "../render/kubernetes";
import { directClient, parseInfo } from "../lib/redis-clients";
import { currentMasterPort } from "../sandbox/drills/failover";
import { floodUnread, peakResidentBytes, resp } from "../sandbox/drills/flood";
import { Sandbox, startSandbox } from "../sandbox/sandbox";

/**
 * Hostile clients against the prod stack's group holding 120,000 keys over the six databases:
 * for each flood, whether and when the server dropped the client, the keys evicted, and each
 * process's peak memory against its container limit; for the SUNIONSTORE transaction, the
 * longest time the master took to answer a PING and whether the group failed over.
 */

const KEYS_PER_DATABASE = 20_000;
const MIB = 2 ** 20;

interface Flood {
  readonly name: string;
  readonly user?: string;
  readonly password?: (s: Sandbox) => string;
  readonly command: (s: Sandbox) => string[];
  readonly on: "master" | "sentinel";
}

const FLOODS: readonly Flood[] = [
  {
    name: "INFO everything as exporter",
    user: "exporter",
    password: (s) => s.secrets.exporterPassword!,
    command: () => ["INFO", "everything"],
    on: "master",
  },
  {
    name: "HELLO as backup",
    user: "backup",
    password: (s) => s.secrets.backupPassword!,
    command: () => ["HELLO", "3"],
    on: "master",
  },
  {
    name: "SENTINEL MASTER as sentinel-client",
    user: "sentinel-client",
    password: (s) => s.secrets.sentinelClientPassword!,
    command: (s) => ["SENTINEL", "MASTER", s.config.sentinel.masterName],
    on: "sentinel",
  },
  { name: "PING without a password", command: () => ["PING"], on: "master" },
];

async function keysAndEvictions(sandbox: Sandbox) {
  const out: Record<string, { keys: number; evicted: number }> = {};
  for (const node of sandbox.nodes) {
    const c = admin(sandbox, node.port);
    try {
      const keyspace = parseInfo(await c.info("keyspace"));
      const keys = Object.values(keyspace).reduce(
        (sum, v) => sum + Number(/keys=(\d+)/.exec(v)?.[1] ?? 0),
        0,
      );
      out[node.name] = {
        keys,
        evicted: Number(parseInfo(await c.info("stats")).evicted_keys),
      };
    } finally {
      c.disconnect();
    }
  }
  return out;
}

function admin(sandbox: Sandbox, port: number, db = 0): Redis {
  const { username, password } = sandbox.connection.users.admin;
  return directClient("127.0.0.1", port, { username, password, db, commandTimeout: 60_000 });
}

/** Peak resident memory of every process, in MiB, and which exceeded its container limit. */
function peaks(sandbox: Sandbox) {
  const limitMib = {
    redis: sandbox.config.resources.memoryLimitBytes / MIB,
    sentinel: SENTINEL_MEMORY_MI.limit,
  };
  const out: Record<string, number> = {};
  const over: string[] = [];
  for (const p of [...sandbox.nodes, ...sandbox.sentinels]) {
    const mib = Math.round(peakResidentBytes(sandbox.supervisor.pid(p.name)!) / MIB);
    out[p.name] = mib;
    if (mib > limitMib[p.kind]) over.push(p.name);
  }
  return { peakMib: out, overLimit: over, limitMib };
}

async function load(sandbox: Sandbox, master: number) {
  for (let db = 0; db < 6; db++) {
    const c = admin(sandbox, master, db);
    try {
      for (let start = 0; start < KEYS_PER_DATABASE; start += 5000) {
        const p = c.pipeline();
        for (let i = start; i < start + 5000; i++) p.set(`key:${db}:${i}`, `value-${i}`);
        await p.exec();
      }
    } finally {
      c.disconnect();
    }
  }
}

/** Each flood on a fresh group, so that one flood's damage does not count for the next. */
async function withGroup<T>(run: (sandbox: Sandbox, master: number) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-bench-hostile-"));
  const sandbox = await startSandbox(loadStackConfig("prod"), { dir, basePort: 13001 });
  try {
    const master = await currentMasterPort(sandbox.connection);
    await load(sandbox, master);
    return await run(sandbox, master);
  } finally {
    await sandbox.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function appTransaction(
  sandbox: Sandbox,
  port: number,
  build: (m: ReturnType<Redis["multi"]>) => void,
  db = 0,
) {
  const { username, password } = sandbox.connection.users.app;
  const c = directClient("127.0.0.1", port, { username, password, db, commandTimeout: 120_000 });
  const t = Date.now();
  try {
    const m = c.multi();
    build(m);
    await m.exec();
    return { result: "ran", ms: Date.now() - t };
  } catch (err) {
    return { result: (err as Error).message.slice(0, 120), ms: Date.now() - t };
  } finally {
    c.disconnect();
  }
}

export async function benchHostileClients(): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  for (const flood of FLOODS) {
    results[flood.name] = await withGroup(async (sandbox, master) => {
      const port = flood.on === "master" ? master : sandbox.connection.sentinels[0].port;
      const auth = flood.user ? ([flood.user, flood.password!(sandbox)] as const) : undefined;
      const r = await floodUnread(port, auth, flood.command(sandbox), 10_000);
      // Let eviction and replication settle before counting.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return {
        droppedAfterMs: r.droppedByServer ? r.ms : null,
        commandsSent: r.commandsSent,
        nodes: await keysAndEvictions(sandbox),
        ...peaks(sandbox),
      };
    });
    process.stderr.write(`hostile: ${flood.name}: ${JSON.stringify(results[flood.name])}\n`);
  }
  results["SETRANGE transaction as app"] = await withGroup(async (sandbox, master) => {
    const run = await appTransaction(sandbox, master, (m) =>
      m.setrange("big1", 536870911, "x").setrange("big2", 536870911, "x"),
    );
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return { ...run, nodes: await keysAndEvictions(sandbox), ...peaks(sandbox) };
  });
  process.stderr.write(
    `hostile: SETRANGE: ${JSON.stringify(results["SETRANGE transaction as app"])}\n`,
  );
  results["SUNIONSTORE transaction as app"] = await benchFailoverOnDemand();
  results["unfinished command of empty arguments as probe (not bounded)"] = await withGroup(
    async (sandbox, master) => {
      const sent = await unfinishedCommand(master, ["probe", sandbox.secrets.probePassword!]);
      return { ...sent, nodes: await keysAndEvictions(sandbox), ...peaks(sandbox) };
    },
  );
  results["PUBLISH of proto-max-bulk-len to 85 subscribers as app (not bounded)"] = await withGroup(
    async (sandbox, master) => {
      const { username, password } = sandbox.connection.users.app;
      const subscribers = Array.from({ length: 85 }, () =>
        directClient("127.0.0.1", master, { username, password }),
      );
      try {
        await Promise.all(subscribers.map((c) => c.subscribe("flow:1:cursors")));
        const publisher = directClient("127.0.0.1", master, { username, password });
        await publisher.publish(
          "flow:1:cursors",
          "x".repeat(sandbox.config.redis.clients.protoMaxBulkBytes - 64),
        );
        publisher.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return { nodes: await keysAndEvictions(sandbox), ...peaks(sandbox) };
      } finally {
        for (const c of subscribers) c.disconnect();
      }
    },
  );
  process.stderr.write(
    `hostile: SUNIONSTORE: ${JSON.stringify(results["SUNIONSTORE transaction as app"])}\n`,
  );
  return results;
}

/**
 * Failover on demand: a set of 1M members made by an operator, then the app user's transaction of
 * eight SUNIONSTOREs of it: the master's longest PING, and the config epoch before and after.
 */
export function benchFailoverOnDemand() {
  return withGroup(async (sandbox, master) => {
    const a = admin(sandbox, master, 5);
    for (let start = 0; start < 1_000_000; start += 50_000)
      await a.sadd("huge", ...Array.from({ length: 50_000 }, (_, i) => `m${start + i}`));
    a.disconnect();
    const epoch = async () => {
      const c = directClient("127.0.0.1", sandbox.connection.sentinels[0].port, {
        username: sandbox.connection.sentinelUser!.username,
        password: sandbox.connection.sentinelUser!.password,
      });
      try {
        const m = (await c.call(
          "SENTINEL",
          "MASTER",
          sandbox.config.sentinel.masterName,
        )) as string[];
        return m[m.indexOf("config-epoch") + 1];
      } finally {
        c.disconnect();
      }
    };
    const before = await epoch();
    const { username, password } = sandbox.connection.users.app;
    const watcher = directClient("127.0.0.1", master, {
      username,
      password,
      commandTimeout: 60_000,
    });
    let slowest = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const t = Date.now();
        await watcher.ping().catch(() => undefined);
        slowest = Math.max(slowest, Date.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const run = await appTransaction(
      sandbox,
      master,
      (m) => {
        for (let i = 0; i < 8; i++) m.sunionstore(`copy${i}`, "huge", "huge");
      },
      5,
    );
    watching = false;
    await watch;
    watcher.disconnect();
    // A failover, if one comes, is done within down-after + failover-timeout.
    await new Promise((r) =>
      setTimeout(
        r,
        sandbox.config.sentinel.downAfterMs + sandbox.config.sentinel.failoverTimeoutMs,
      ),
    );
    return {
      ...run,
      longestPingMs: slowest,
      configEpochBefore: before,
      configEpochAfter: await epoch(),
      masterAfter: await currentMasterPort(sandbox.connection),
      masterBefore: master,
    };
  });
}

/**
 * A command announced with 2^31 - 1 arguments, then empty arguments sent until the server drops
 * the client or 12M were sent: Redis counts each argument at a few bytes, where it holds about 40.
 */
async function unfinishedCommand(port: number, auth: readonly [string, string]) {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((ok, fail) => socket.once("connect", ok).once("error", fail));
  socket.on("error", () => undefined);
  socket.on("data", () => undefined);
  socket.write(resp(["AUTH", ...auth]));
  socket.write(`*${2 ** 31 - 1}\r\n`);
  const batch = 100_000;
  const chunk = Buffer.from("$0\r\n\r\n".repeat(batch));
  let sent = 0;
  const started = Date.now();
  while (sent < 12_000_000 && !socket.destroyed) {
    await new Promise<void>((ok) =>
      socket.write(chunk) ? ok() : socket.once("drain", ok).once("close", ok),
    );
    sent += batch;
  }
  const dropped = socket.destroyed;
  socket.destroy();
  return { argumentsSent: sent, droppedAfterMs: dropped ? Date.now() - started : null };
}
