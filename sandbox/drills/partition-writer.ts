import Redis from "ioredis";

/**
 * The partition drill's client, run inside a pod of its own (`nsenter --net`): it writes to one
 * node directly, as an application's connection to the master does, and prints one JSON line per
 * write: `acknowledged` (a replica holds it: WAIT 1 answered 1), `accepted` (the node said OK, no
 * replica acknowledged it in time), `refused` (NOREPLICAS, READONLY…) or `failed` (no answer).
 * It stops at SIGTERM. Arguments: one JSON object (host, port, username, password, db, prefix,
 * waitMs).
 */
interface WriterArgs {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly db: number;
  readonly prefix: string;
  readonly waitMs: number;
}

export type WriteOutcome = "acknowledged" | "accepted" | "refused" | "failed";

export interface WriteRecord {
  readonly key: string;
  readonly outcome: WriteOutcome;
  /** When the write was sent, and when its outcome was known (ms since the epoch). */
  readonly sentAt: number;
  readonly at: number;
  readonly error?: string;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as WriterArgs;
  const client = new Redis({
    host: args.host,
    port: args.port,
    username: args.username,
    password: args.password,
    db: args.db,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: args.waitMs + 1000,
    retryStrategy: () => 100,
  });
  client.on("error", () => undefined);
  let running = true;
  process.once("SIGTERM", () => (running = false));
  const print = (r: WriteRecord) => process.stdout.write(`${JSON.stringify(r)}\n`);
  await client.connect().catch(() => undefined);
  for (let i = 0; running; i++) {
    const key = `${args.prefix}:${i}`;
    const sentAt = Date.now();
    try {
      await client.set(key, String(i));
    } catch (err) {
      const message = (err as Error).message;
      const refused = /^(NOREPLICAS|READONLY|MISCONF|OOM)/.test(message);
      print({
        key,
        outcome: refused ? "refused" : "failed",
        sentAt,
        at: Date.now(),
        error: message,
      });
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    try {
      const replicas = (await client.call("WAIT", "1", String(args.waitMs))) as number;
      print({ key, outcome: replicas >= 1 ? "acknowledged" : "accepted", sentAt, at: Date.now() });
    } catch (err) {
      print({ key, outcome: "accepted", sentAt, at: Date.now(), error: (err as Error).message });
    }
  }
  client.disconnect();
}

void main();
