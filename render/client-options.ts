import type { RedisOptions } from "ioredis";
import { ClientSettings, ConnectionInfo } from "./connection";

/**
 * Delay before reconnection attempt `attempt` (1, 2, …): the base delay doubling on each attempt,
 * capped. Always a number: ioredis stops reconnecting for good when a retry strategy returns
 * anything else, and for the sentinel strategy it even ends the client (status "end").
 */
export function retryDelayMs(settings: ClientSettings, attempt: number): number {
  return Math.min(
    settings.retryBaseDelayMs * 2 ** Math.max(0, attempt - 1),
    settings.retryMaxDelayMs,
  );
}

/**
 * ioredis's `reconnectOnError` for a group: a reconnection, through the sentinels, when the master
 * answers MISCONF (it cannot write its AOF or RDB: a full volume), at most once per `intervalMs`.
 * The sentinels fail such a master over, but reconfigure it only 8 s after it answers them again:
 * once it has room it takes writes again from the clients still connected to it, and the replica
 * still following it acknowledges them, until the sentinels make it a replica and they are lost.
 * A client that reconnects meanwhile goes to the new master. (ioredis's `failoverDetector` would
 * move at +switch-master, but can end a client for good: a switch during a reconnection closes
 * the connector in the middle of it.)
 */
export function reconnectOnMisconf(intervalMs: number): (err: Error) => 1 | false {
  let last = -Infinity;
  return (err) => {
    if (!err.message.startsWith("MISCONF") || Date.now() - last < intervalMs) return false;
    last = Date.now();
    return 1;
  };
}

/**
 * ioredis options for a platform service, from the connection contract: one server for a
 * standalone deployment, the master through the sentinels for a group. Every wait is bounded
 * (see `ClientSettings`); reconnection never gives up.
 *
 * How ioredis 5 uses them: `commandTimeout` starts when a command is issued, also while it waits
 * in the offline queue for a reconnection, and covers blocking commands too (`BLPOP k 10` fails
 * after commandTimeout): a connection for blocking commands needs `commandTimeout: undefined`.
 * A master lookup opens a short-lived connection to one sentinel after another; each gets
 * `connectTimeout` and, as its command timeout, `sentinelCommandTimeout`. Without the latter a
 * sentinel that accepts the connection but never answers holds the lookup, and every command
 * queued behind it, forever. When no sentinel answers, `sentinelRetryStrategy` decides the pause
 * before the next round.
 */
export function ioredisOptions(
  connection: ConnectionInfo,
  role: "app" | "admin",
  db = 0,
): RedisOptions {
  const settings = connection.client;
  if (!settings)
    throw new Error(
      "the connection has no client settings: it was written by an older version; start the sandbox again or run pulumi up",
    );
  const { username, password } = connection.users[role];
  const retryStrategy = (attempt: number) => retryDelayMs(settings, attempt);
  const common: RedisOptions = {
    username,
    password,
    db,
    connectTimeout: settings.connectTimeoutMs,
    commandTimeout: settings.commandTimeoutMs,
    maxRetriesPerRequest: settings.maxRetriesPerRequest,
    retryStrategy,
    // Auto-pipelining batches commands of unrelated requests: one slow or lost reply would then
    // fail them together.
    enableAutoPipelining: false,
    lazyConnect: true,
  };
  if (connection.topology !== "sentinel") {
    const [{ host, port }] = connection.redis;
    return { ...common, host, port };
  }
  return {
    ...common,
    sentinels: connection.sentinels.map(({ host, port }) => ({ host, port })),
    name: connection.masterName,
    sentinelUsername: connection.sentinelUser?.username,
    sentinelPassword: connection.sentinelUser?.password,
    sentinelCommandTimeout: settings.sentinelCommandTimeoutMs,
    sentinelRetryStrategy: retryStrategy,
    // The contract lists every sentinel. Adding the ones the sentinels report would add the same
    // sentinels spelt differently (announced name vs address) and lengthen a lookup round over
    // sentinels that do not answer beyond sentinels x sentinelCommandTimeout.
    updateSentinels: false,
    reconnectOnError: reconnectOnMisconf(settings.retryMaxDelayMs),
    ...(connection.natMap ? { natMap: { ...connection.natMap } } : {}),
  };
}
