import { strict as assert } from "node:assert";
import Redis, { RedisOptions } from "ioredis";
import { ConnectionInfo } from "../../render/connection";
import { directClient as sandboxDirectClient } from "../../lib/redis-clients";
import { ioredisOptions } from "../../render/client-options";
import { waitFor } from "./wait";

/** An ioredis client as the platform's NestJS services configure it. */
export function platformClient(
  connection: ConnectionInfo,
  role: "app" | "admin",
  db: number,
  extra: RedisOptions = {},
): Redis {
  return new Redis({ ...ioredisOptions(connection, role, db), ...extra });
}

/** A client of one server on 127.0.0.1 that sends nothing by itself (see lib/redis-clients). */
export function directClient(port: number, extra: RedisOptions = {}): Redis {
  return sandboxDirectClient("127.0.0.1", port, extra);
}

/**
 * The platform's six use cases, one per database (docs/configuration.md#databases), run as the
 * app user against a running deployment.
 * Each assertion checks what the platform depends on, not only that a command ran.
 */
export async function exercisePlatform(connection: ConnectionInfo): Promise<void> {
  const db = connection.databases;
  const clients: Redis[] = [];
  const client = async (database: number) => {
    const c = platformClient(connection, "app", database);
    clients.push(c);
    await c.connect();
    return c;
  };
  try {
    // 0: sessions — hash with a 1 h TTL, refresh token, login attempts.
    const sessions = await client(db.sessions);
    await sessions.hset("session:user:12345", {
      token: "t-1",
      last_activity: "1700000000",
      ip_address: "10.0.0.1",
      user_agent: "jest",
    });
    await sessions.expire("session:user:12345", 3600);
    await sessions.set("refresh_token:abc", "user:12345", "EX", 7 * 24 * 3600);
    assert.equal(await sessions.hget("session:user:12345", "token"), "t-1");
    const ttl = await sessions.ttl("session:user:12345");
    assert.ok(ttl > 3590 && ttl <= 3600, `session TTL ${ttl}`);

    // 1: flow execution state and queue.
    const flows = await client(db.flowCache);
    await flows.hset("flow:execution:run-1", {
      flow_id: "f-1",
      current_step: "2",
      variables: JSON.stringify({ a: 1 }),
      start_time: "1700000000",
    });
    await flows.expire("flow:execution:run-1", 300);
    await flows.rpush("flow:queue", "run-1", "run-2");
    assert.equal(await flows.lpop("flow:queue"), "run-1");
    assert.deepEqual(JSON.parse((await flows.hget("flow:execution:run-1", "variables"))!), {
      a: 1,
    });

    // 2: component templates.
    const components = await client(db.components);
    await components.hset("component:button", {
      definition: JSON.stringify({ type: "button" }),
      version: "3",
      updated_at: "1700000000",
    });
    await components.expire("component:button", 86400);
    await components.set("page:template:home", "<page/>", "EX", 86400);
    assert.equal(await components.hget("component:button", "version"), "3");

    // 3: real-time collaboration — presence hash and cursor pub/sub on a duplicated connection.
    const collab = await client(db.collaboration);
    await collab.hset(
      "flow:f-1:users",
      "user:1",
      JSON.stringify({ cursor: [1, 2], editing_node: "n1", last_seen: 1 }),
    );
    await collab.expire("flow:f-1:users", 60);
    const subscriber = collab.duplicate();
    clients.push(subscriber);
    const received = new Promise<string>((resolve) =>
      subscriber.on("message", (_channel, message) => resolve(message)),
    );
    await subscriber.subscribe("flow:f-1:cursors");
    assert.equal(await collab.publish("flow:f-1:cursors", JSON.stringify({ user: 1, x: 5 })), 1);
    assert.deepEqual(JSON.parse(await received), { user: 1, x: 5 });

    // 4: rate limiting — INCR + EXPIRE on the first hit; the 11th request in a minute is over the limit.
    const limits = await client(db.rateLimiting);
    const key = "ratelimit:user:12345:api:flows";
    const verdicts: boolean[] = [];
    for (let i = 0; i < 11; i++) {
      const count = await limits.incr(key);
      if (count === 1) await limits.expire(key, 60);
      verdicts.push(count <= 10);
    }
    assert.deepEqual(verdicts, [...Array(10).fill(true), false]);
    assert.ok((await limits.ttl(key)) > 0);

    // 5: query cache — SETEX 300 of a JSON result.
    const cache = await client(db.queryCache);
    await cache.setex("query:5f2b", 300, JSON.stringify({ rows: [1, 2] }));
    assert.deepEqual(JSON.parse((await cache.get("query:5f2b"))!), { rows: [1, 2] });
    const cacheTtl = await cache.ttl("query:5f2b");
    assert.ok(cacheTtl > 290 && cacheTtl <= 300);

    // Databases are separate: the session key is not visible from the query cache.
    assert.equal(await cache.exists("session:user:12345"), 0);
  } finally {
    for (const c of clients) c.disconnect();
  }
}

/** Session expiry as the platform observes it: `__keyevent@<db>__:expired` arrives for an expired key. */
export async function expectExpiredEvent(connection: ConnectionInfo): Promise<void> {
  const db = connection.databases.sessions;
  const app = platformClient(connection, "app", db);
  const subscriber = platformClient(connection, "app", db);
  try {
    await app.connect();
    await subscriber.connect();
    const expired = new Promise<string>((resolve) =>
      subscriber.on("message", (_c, key) => key === "session:user:expiring" && resolve(key)),
    );
    await subscriber.subscribe(`__keyevent@${db}__:expired`);
    await app.set("session:user:expiring", "x", "PX", 100);
    // Redis expires keys actively (10 times a second) or on access; a bounded wait either way.
    const key = await waitFor(
      "the expired event",
      async () => {
        await app.exists("session:user:expiring");
        return Promise.race([
          expired,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
        ]);
      },
      5000,
      1,
    );
    assert.equal(key, "session:user:expiring");
  } finally {
    app.disconnect();
    subscriber.disconnect();
  }
}

/** AUTH's own answer on a server or sentinel at `port`: true for OK, false for WRONGPASS. */
export async function authAccepted(
  port: number,
  username: string,
  password: string,
): Promise<boolean> {
  const client = directClient(port);
  client.on("error", () => undefined);
  try {
    return (await client.call("AUTH", username, password)) === "OK";
  } catch (err) {
    if (/WRONGPASS/.test((err as Error).message)) return false;
    throw err;
  } finally {
    client.disconnect();
  }
}
