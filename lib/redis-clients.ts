import Redis, { RedisOptions } from "ioredis";
import { ConnectionInfo } from "../render/connection";

/**
 * A client of exactly one server that sends nothing by itself: no AUTH unless credentials are
 * given, no ready check (sentinel users may not run INFO), no retries, connected on demand, and
 * no wait without bound (a frozen or overloaded process accepts connections and answers nothing).
 */
export function directClient(host: string, port: number, extra: RedisOptions = {}): Redis {
  const client = new Redis({
    host,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    retryStrategy: () => null,
    connectTimeout: 2_000,
    commandTimeout: 10_000,
    ...extra,
  });
  // Failures surface as rejected commands; the event would otherwise be unhandled.
  client.on("error", () => undefined);
  return client;
}

/** A direct client of one sentinel of `connection`, as its sentinel user (the contract's). */
export function sentinelClient(
  connection: ConnectionInfo,
  sentinel: { readonly host: string; readonly port: number },
  extra: RedisOptions = {},
): Redis {
  return directClient(sentinel.host, sentinel.port, {
    username: connection.sentinelUser?.username,
    password: connection.sentinelUser?.password,
    ...extra,
  });
}

/** INFO text as field -> value. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) fields[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return fields;
}

/**
 * Polls `check` every 100 ms until it returns a value, or fails after `timeoutMs` naming `what`
 * and the last error the check threw (a drill's message says why a node never answered).
 */
export async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = ` (${(err as Error).message})`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s${last}`);
}

/** `use` with a short-lived connection to one server, closed whatever `use` does. */
export async function withConnection<T>(
  at: { readonly host: string; readonly port: number },
  options: RedisOptions,
  use: (c: Redis) => Promise<T>,
): Promise<T> {
  const client = directClient(at.host, at.port, options);
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** `use` with a short-lived connection to one server as the admin user of `connection`. */
export async function withAdmin<T>(
  connection: ConnectionInfo,
  at: { readonly host: string; readonly port: number },
  use: (c: Redis) => Promise<T>,
  db = 0,
): Promise<T> {
  const options = { ...connection.users.admin, db, connectTimeout: 1000, commandTimeout: 3000 };
  return withConnection(at, options, use);
}
