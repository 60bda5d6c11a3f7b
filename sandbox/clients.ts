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
