import { strict as assert } from "node:assert";
import Redis from "ioredis";
import { ConnectionInfo } from "../../render/connection";
import { platformClient } from "./platform";

/** One key of the platform's data: its database, name, and whether it has a TTL. */
export interface SeededKey {
  readonly db: number;
  readonly key: string;
  readonly ttl: boolean;
}

/**
 * Writes keys of every type into each of the six databases, as the platform names them (docs/
 * configuration.md), most with a TTL, `perDatabase` of each kind; returns what was written.
 */
export async function seedPlatformData(
  connection: ConnectionInfo,
  perDatabase = 5,
): Promise<SeededKey[]> {
  const keys: SeededKey[] = [];
  for (const [purpose, db] of Object.entries(connection.databases)) {
    const app = platformClient(connection, "app", db);
    try {
      await app.connect();
      const batch = app.multi();
      for (let i = 0; i < perDatabase; i++) {
        const base = `${purpose}:${i}`;
        batch.set(`${base}:string`, `value-${db}-${i}`, "EX", 3600 + i);
        batch.hset(`${base}:hash`, { token: `t${i}`, last_activity: String(1700000000 + i) });
        batch.expire(`${base}:hash`, 600 + i);
        batch.rpush(`${base}:list`, "a", "b", String(i));
        batch.sadd(`${base}:set`, "x", "y", String(i));
        batch.pexpire(`${base}:set`, 86_400_000);
        batch.zadd(`${base}:zset`, i, "m1", i + 1, "m2");
        keys.push(
          { db, key: `${base}:string`, ttl: true },
          { db, key: `${base}:hash`, ttl: true },
          { db, key: `${base}:list`, ttl: false },
          { db, key: `${base}:set`, ttl: true },
          { db, key: `${base}:zset`, ttl: false },
        );
      }
      await batch.exec();
    } finally {
      app.disconnect();
    }
  }
  return keys;
}

/** A key's type and content in a form that does not depend on the encoding's iteration order. */
async function canonicalValue(client: Redis, key: string): Promise<string> {
  const type = await client.type(key);
  switch (type) {
    case "string":
      return `string:${await client.get(key)}`;
    case "hash":
      return `hash:${JSON.stringify(Object.entries(await client.hgetall(key)).sort())}`;
    case "list":
      return `list:${JSON.stringify(await client.lrange(key, 0, -1))}`;
    case "set":
      return `set:${JSON.stringify((await client.smembers(key)).sort())}`;
    case "zset":
      return `zset:${JSON.stringify(await client.zrange(key, 0, -1, "WITHSCORES"))}`;
    default:
      return type === "none" ? "(missing)" : `${type}:?`;
  }
}

/** Each key's type and content and its remaining TTL in ms (-1: none). */
export async function readKeys(
  connection: ConnectionInfo,
  keys: readonly SeededKey[],
): Promise<Map<string, { value: string; pttl: number }>> {
  const out = new Map<string, { value: string; pttl: number }>();
  const byDb = new Map<number, SeededKey[]>();
  for (const k of keys) byDb.set(k.db, [...(byDb.get(k.db) ?? []), k]);
  for (const [db, list] of byDb) {
    const app: Redis = platformClient(connection, "app", db);
    try {
      await app.connect();
      for (const k of list) {
        out.set(`${db}/${k.key}`, {
          value: await canonicalValue(app, k.key),
          pttl: await app.pttl(k.key),
        });
      }
    } finally {
      app.disconnect();
    }
  }
  return out;
}

/**
 * Every key of `before` is in `after` with the same value, and the same TTL less at most
 * `elapsedMs` (a key without TTL has none).
 */
export function assertSameData(
  before: Map<string, { value: string; pttl: number }>,
  after: Map<string, { value: string; pttl: number }>,
  elapsedMs: number,
): void {
  for (const [key, was] of before) {
    const now = after.get(key);
    assert.ok(now, `${key}: not read back`);
    assert.equal(now.value, was.value, `${key}: value differs`);
    if (was.pttl === -1) assert.equal(now.pttl, -1, `${key}: gained a TTL`);
    else
      assert.ok(
        now.pttl <= was.pttl && now.pttl >= was.pttl - elapsedMs,
        `${key}: TTL ${now.pttl} ms, was ${was.pttl} ms ${elapsedMs} ms earlier`,
      );
  }
}
