import { strict as assert } from "node:assert";
import { ioredisOptions, reconnectOnMisconf, retryDelayMs } from "../../render/client-options";
import { ClientSettings, buildConnection, clientSettings } from "../../render/connection";
import { DEV, PROD, PROD_STANDALONE, resolve } from "../helpers/config";

const SECRETS = {
  defaultPassword: "dev-password-0123456789",
  appPassword: "app-password-0123456789",
  adminPassword: "admin-password-0123456789",
  sentinelClientPassword: "sentinel-client-password-0123456789",
  configCommand: "CONFIG_ABCDEF0123456789",
};

const standalone = buildConnection(resolve(PROD_STANDALONE, "prod-standalone"), SECRETS, {
  redis: [{ host: "10.0.0.5", port: 6379 }],
});
const group = buildConnection(resolve(PROD, "prod"), SECRETS, {
  redis: [0, 1, 2].map((i) => ({ host: `redis-${i}`, port: 6379 })),
  sentinels: [0, 1, 2].map((i) => ({ host: `sentinel-${i}`, port: 26379 })),
});

describe("client settings of the connection contract and the ioredis options built from them: every wait bounded, reconnection never given up", () => {
  it("standalone: bounded connect and commands, no sentinel settings", () => {
    assert.deepEqual(standalone.client, {
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
      maxRetriesPerRequest: 3,
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 1000,
    });
  });

  it("sentinel group (prod defaults): 500 ms per sentinel, a round over the 3 sentinels (1.5 s) well below the failover time", () => {
    assert.deepEqual(group.client, {
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
      sentinelCommandTimeoutMs: 500,
      maxRetriesPerRequest: 3,
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 1000,
    });
  });

  it("derives the sentinel timeout from down-after-milliseconds and the number of sentinels", () => {
    const settings = (values: Record<string, unknown>) =>
      clientSettings(resolve({ ...PROD, ...values }, "prod"));
    for (const [values, sentinelMs, commandMs] of [
      // A round over every sentinel takes at most half of down-after-milliseconds…
      [{ sentinels: 9, quorum: 5 }, 277, 2993],
      [{ sentinels: 5, quorum: 3, downAfterMs: 3000 }, 300, 2000],
      // …but no sentinel gets less than 200 ms, nor more than 500 ms.
      [{ downAfterMs: 1000, failoverTimeoutMs: 10000 }, 200, 2000],
      [{ downAfterMs: 30000, failoverTimeoutMs: 60000 }, 500, 2000],
    ] as const) {
      const s = settings(values);
      assert.equal(s.sentinelCommandTimeoutMs, sentinelMs, JSON.stringify(values));
      // A command queued during a lookup outlasts a round over every sentinel.
      assert.equal(s.commandTimeoutMs, commandMs, JSON.stringify(values));
    }
  });

  it("the dev stack (standalone, default user) gets the same settings", () => {
    assert.deepEqual(clientSettings(resolve(DEV, "dev")), standalone.client);
  });

  it("standalone options: the one server, the role's credentials, the contract's timeouts", () => {
    const options = ioredisOptions(standalone, "app", 4);
    const { retryStrategy, ...plain } = options;
    assert.deepEqual(plain, {
      host: "10.0.0.5",
      port: 6379,
      username: "app",
      password: "app-password-0123456789",
      db: 4,
      connectTimeout: 2000,
      commandTimeout: 2000,
      maxRetriesPerRequest: 3,
      enableAutoPipelining: false,
      lazyConnect: true,
    });
    assert.equal(typeof retryStrategy, "function");
    assert.equal(ioredisOptions(standalone, "admin").username, "admin");
    assert.equal(ioredisOptions(standalone, "admin").db, 0);
  });

  it("sentinel options: the sentinels of the contract only, bounded lookups, retries from scratch forever, a new lookup when the master answers MISCONF", () => {
    const options = ioredisOptions(group, "admin", 1);
    const { retryStrategy, sentinelRetryStrategy, reconnectOnError, ...plain } = options;
    assert.deepEqual(plain, {
      sentinels: [0, 1, 2].map((i) => ({ host: `sentinel-${i}`, port: 26379 })),
      name: "lowcode-master",
      sentinelUsername: "sentinel-client",
      sentinelPassword: "sentinel-client-password-0123456789",
      sentinelCommandTimeout: 500,
      updateSentinels: false,
      username: "admin",
      password: "admin-password-0123456789",
      db: 1,
      connectTimeout: 2000,
      commandTimeout: 2000,
      maxRetriesPerRequest: 3,
      enableAutoPipelining: false,
      lazyConnect: true,
    });
    assert.ok(!("host" in options) && !("port" in options));
    assert.ok(reconnectOnError);
    const misconf = new Error("MISCONF Errors writing to the AOF file: No space left on device");
    assert.equal(reconnectOnError(misconf), 1);
    // At most once per retryMaxDelayMs (1 s), and never for other errors.
    assert.equal(reconnectOnError(misconf), false);
    assert.equal(
      reconnectOnError(new Error("NOREPLICAS Not enough good replicas to write.")),
      false,
    );
    // Each client has its own limit.
    assert.equal(ioredisOptions(group, "app").reconnectOnError!(misconf), 1);
    assert.equal(ioredisOptions(standalone, "app").reconnectOnError, undefined);
    for (const strategy of [retryStrategy, sentinelRetryStrategy]) {
      assert.ok(strategy);
      assert.deepEqual(
        [1, 2, 3, 4, 5, 6, 100, 10_000].map((n) => strategy(n)),
        [50, 100, 200, 400, 800, 1000, 1000, 1000],
      );
    }
  });

  it("MISCONF reconnection: again once the interval has passed", async () => {
    const reconnect = reconnectOnMisconf(20);
    const misconf = new Error("MISCONF Errors writing to the AOF file: No space left on device");
    assert.equal(reconnect(misconf), 1);
    assert.equal(reconnect(misconf), false);
    await new Promise((r) => setTimeout(r, 25));
    assert.equal(reconnect(misconf), 1);
  });

  it("retry delay: doubles from the base up to the cap, always a number (ioredis gives up on anything else)", () => {
    const settings: ClientSettings = {
      connectTimeoutMs: 1,
      commandTimeoutMs: 1,
      maxRetriesPerRequest: 0,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 75,
    };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 2000].map((n) => retryDelayMs(settings, n)),
      [10, 10, 20, 40, 75, 75, 75],
    );
  });

  it("refuses a connection without client settings instead of building unbounded options", () => {
    const old: Record<string, unknown> = { ...group };
    delete old.client;
    assert.throws(
      () => ioredisOptions(old as unknown as typeof group, "app"),
      /no client settings/,
    );
  });
});
