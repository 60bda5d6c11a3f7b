import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { ResolvedConfig } from "../config/resolve";
import { ioredisOptions } from "../render/client-options";
import { ConnectionInfo } from "../render/connection";
import { runScript } from "../sandbox/runtime/backup";
import { directClient } from "../lib/redis-clients";
import { startSandbox } from "../sandbox/sandbox";
import { freeBasePort } from "../lib/ports";

/**
 * Backup and restore of about 100 MB over the six databases, on a production-profile
 * sandbox: `sh backup.sh` against a bare `redis-cli --rdb` to a file from the same master in the
 * same run (the floor); a sandbox restored from the backup (start to every key readable) against
 * a plain redis-server loading the same RDB with AOF off. Runs alternate; medians are reported.
 */

const VALUE_BYTES = 1024;
const KEYS_PER_DB = 17_000;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Fills each platform database with incompressible values, half of them with a TTL. */
async function fill(connection: ConnectionInfo): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  for (const db of Object.values(connection.databases)) {
    const app = new Redis({ ...ioredisOptions(connection, "app", db), commandTimeout: 60_000 });
    try {
      await app.connect();
      for (let batch = 0; batch < KEYS_PER_DB / 1000; batch++) {
        const pipe = app.pipeline();
        for (let i = 0; i < 1000; i++) {
          const value = randomBytes(VALUE_BYTES * 0.75).toString("base64");
          if (i % 2) pipe.set(`bench:${batch}:${i}`, value, "EX", 86_400);
          else pipe.set(`bench:${batch}:${i}`, value);
        }
        await pipe.exec();
      }
      counts[db] = await app.dbsize();
    } finally {
      app.disconnect();
    }
  }
  return counts;
}

/** Waits until every database holds its count of keys (LOADING, refused connections: not yet). */
async function untilReadable(
  port: number,
  auth: { username?: string; password?: string },
  counts: Record<number, number>,
  timeoutMs = 300_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = directClient("127.0.0.1", port, { ...auth, connectTimeout: 1000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      let ready = true;
      for (const [db, n] of Object.entries(counts)) {
        await client.select(Number(db));
        if ((await client.dbsize()) !== n) ready = false;
      }
      if (ready) return;
    } catch {
      // LOADING or not listening yet
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline)
      throw new Error(`keys not readable on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) =>
      code === 0 ? resolve(performance.now() - start) : reject(new Error(`${command}: ${err}`)),
    );
  });
}

/**
 * Each timing starts with the disk quiet: a stopped sandbox's shutdown save, or an earlier run's
 * files, must not be flushed inside the next run's fsyncs.
 */
const settle = () => spawnSync("sync");

export async function benchBackupRestore(cfg: ResolvedConfig, runs: number) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-bench-backup-"));
  const source = await startSandbox(cfg, {
    dir: path.join(root, "source"),
    basePort: await freeBasePort(1),
  });
  const backupMs: number[] = [];
  const bareMs: number[] = [];
  const restoreMs: number[] = [];
  const plainLoadMs: number[] = [];
  let bytes = 0;
  let counts: Record<number, number> = {};
  let backupFile = "";
  try {
    counts = await fill(source.connection);
    const { script, dir } = source.connection.backup!;
    const port = source.nodes[0].port;
    const bareEnv = { ...process.env, REDISCLI_AUTH: source.secrets.backupPassword! };
    for (let i = 0; i < runs; i++) {
      const bare = path.join(root, `bare-${i}.rdb`);
      settle();
      bareMs.push(
        await timed(
          "redis-cli",
          ["--no-auth-warning", "--user", "backup", "-p", String(port), "--rdb", bare],
          bareEnv,
        ),
      );
      fs.rmSync(bare);
      settle();
      const start = performance.now();
      const run = await runScript(script, [], { PATH: process.env.PATH });
      if (run.code !== 0) throw new Error(`backup.sh: ${run.stderr}`);
      backupMs.push(performance.now() - start);
      // Backups are named by the second.
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    }
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".rdb"))
      .sort();
    backupFile = path.join(dir, files[files.length - 1]);
    bytes = fs.statSync(backupFile).size;
  } finally {
    await source.stop();
  }

  for (let i = 0; i < runs; i++) {
    // A new production deployment restored from the backup: start to every key readable.
    settle();
    const start = performance.now();
    const restored = await startSandbox(cfg, {
      dir: path.join(root, `restored-${i}`),
      basePort: await freeBasePort(1),
      restoreFrom: backupFile,
    });
    try {
      await untilReadable(restored.nodes[0].port, restored.connection.users.admin, counts);
      restoreMs.push(performance.now() - start);
    } finally {
      await restored.stop();
    }
    // The floor: a plain redis-server loading a copy of the same RDB, AOF off.
    const plainDir = path.join(root, `plain-${i}`);
    fs.mkdirSync(plainDir);
    fs.copyFileSync(backupFile, path.join(plainDir, "dump.rdb"));
    const port = await freeBasePort(1);
    settle();
    const plainStart = performance.now();
    const plain = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        plainDir,
        "--appendonly",
        "no",
        "--save",
        "",
      ],
      { stdio: "ignore" },
    );
    try {
      await untilReadable(port, {}, counts);
      plainLoadMs.push(performance.now() - plainStart);
    } finally {
      const exited = new Promise((r) => plain.once("exit", r));
      plain.kill("SIGKILL");
      await exited;
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
  const r = (ms: number) => Math.round(ms);
  return {
    datasetBytes: bytes,
    keys: Object.values(counts).reduce((a, b) => a + b, 0),
    runs,
    backupMs: backupMs.map(r),
    bareRdbMs: bareMs.map(r),
    restoreMs: restoreMs.map(r),
    plainLoadMs: plainLoadMs.map(r),
    backupRatio: Number((median(backupMs) / median(bareMs)).toFixed(2)),
    restoreRatio: Number((median(restoreMs) / median(plainLoadMs)).toFixed(2)),
  };
}
