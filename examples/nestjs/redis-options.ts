import type { RedisOptions } from "ioredis";

/** A variable of the connection Secret; a missing or empty one is named. */
function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === "")
    throw new Error(
      `Redis: the environment variable ${name} is not set (Secret lowcode-redis-connection)`,
    );
  return value;
}

function whole(env: NodeJS.ProcessEnv, name: string): number {
  const text = required(env, name);
  if (!/^\d+$/.test(text))
    throw new Error(`Redis: ${name}=${JSON.stringify(text)} is not a whole number`);
  return Number(text);
}

/** Reconnect (a new lookup through the sentinels) when the master answers MISCONF, at most once per interval. */
function onMisconf(intervalMs: number): (err: Error) => 1 | false {
  let last = -Infinity;
  return (err) => {
    if (!err.message.startsWith("MISCONF") || Date.now() - last < intervalMs) return false;
    last = Date.now();
    return 1;
  };
}

/** "host:port" of a sentinel: an IPv4 address or a host name. */
function endpoint(entry: string): { host: string; port: number } {
  const colon = entry.lastIndexOf(":");
  const host = entry.slice(0, colon);
  const port = Number(entry.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`Redis: REDIS_SENTINELS entry ${JSON.stringify(entry)} is not host:port`);
  return { host, port };
}

export function redisOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  database:
    "SESSIONS" | "FLOW_CACHE" | "COMPONENTS" | "COLLABORATION" | "RATE_LIMITING" | "QUERY_CACHE",
): RedisOptions {
  // Reconnect forever: the base delay, doubling, capped. Always a number: anything else ends the client.
  const base = whole(env, "REDIS_RETRY_BASE_DELAY_MS");
  const cap = whole(env, "REDIS_RETRY_MAX_DELAY_MS");
  const backoff = (times: number): number => Math.min(base * 2 ** (times - 1), cap);
  const common: RedisOptions = {
    username: required(env, "REDIS_USERNAME"),
    password: required(env, "REDIS_PASSWORD"),
    db: whole(env, `REDIS_DB_${database}`),
    connectTimeout: whole(env, "REDIS_CONNECT_TIMEOUT_MS"),
    commandTimeout: whole(env, "REDIS_COMMAND_TIMEOUT_MS"),
    maxRetriesPerRequest: whole(env, "REDIS_MAX_RETRIES_PER_REQUEST"),
    retryStrategy: backoff,
    enableAutoPipelining: false,
    lazyConnect: true,
  };
  const sentinels = env.REDIS_SENTINELS;
  if (sentinels === undefined || sentinels === "")
    return { ...common, host: required(env, "REDIS_HOST"), port: whole(env, "REDIS_PORT") };
  return {
    ...common,
    sentinels: sentinels.split(",").map((entry) => endpoint(entry.trim())),
    name: required(env, "REDIS_MASTER_NAME"),
    sentinelUsername: required(env, "REDIS_SENTINEL_USERNAME"),
    sentinelPassword: required(env, "REDIS_SENTINEL_PASSWORD"),
    sentinelCommandTimeout: whole(env, "REDIS_SENTINEL_COMMAND_TIMEOUT_MS"),
    sentinelRetryStrategy: backoff,
    enableTLSForSentinelMode: false,
    updateSentinels: false, // the Secret lists every sentinel
    reconnectOnError: onMisconf(cap), // a full master: ask the sentinels again (above)
  };
}
