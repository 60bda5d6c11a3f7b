import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import NodeModule from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import * as path from "node:path";
import Redis from "ioredis";
import { redisOptionsFromEnv } from "../../examples/nestjs/redis-options";
import { appConnectionEnv } from "../../render/app-secret";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { PROD, PROD_STANDALONE, resolve } from "../helpers/config";
import { GLOBALS, MODULES, OnApplicationShutdown, Provider } from "../helpers/nestjs-common";
import { directClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";

type Purpose =
  "SESSIONS" | "FLOW_CACHE" | "COMPONENTS" | "COLLABORATION" | "RATE_LIMITING" | "QUERY_CACHE";
const PURPOSES: readonly Purpose[] = [
  "SESSIONS",
  "FLOW_CACHE",
  "COMPONENTS",
  "COLLABORATION",
  "RATE_LIMITING",
  "QUERY_CACHE",
];

/**
 * examples/nestjs/redis.module.ts with the tests' stand-in for `@nestjs/common`
 * (tests/helpers/nestjs-common.ts): its one client per database, and its shutdown hook.
 */
function loadNestModule(): { module: OnApplicationShutdown; providers: readonly Provider[] } {
  const loader = NodeModule as unknown as { _resolveFilename: Resolve };
  const resolve = loader._resolveFilename;
  loader._resolveFilename = function (this: unknown, request, ...rest) {
    if (request === "@nestjs/common") return require.resolve("../helpers/nestjs-common");
    return resolve.call(this, request, ...rest);
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require("../../examples/nestjs/redis.module") as {
      RedisModule: new () => OnApplicationShutdown;
    };
    assert.ok(GLOBALS.has(loaded.RedisModule), "RedisModule is @Global()");
    const metadata = MODULES.get(loaded.RedisModule);
    assert.ok(metadata, "RedisModule is a @Module()");
    assert.deepEqual(
      metadata.exports,
      PURPOSES.map((p) => `REDIS_${p}`),
    );
    return { module: new loaded.RedisModule(), providers: metadata.providers };
  } finally {
    loader._resolveFilename = resolve;
  }
}
type Resolve = (this: unknown, request: string, ...rest: unknown[]) => string;

/** What the Kubernetes Secret would hold, with the sandbox's addresses in place of the pods'. */
function envOf(sandbox: Sandbox): NodeJS.ProcessEnv {
  return appConnectionEnv(sandbox.config, sandbox.secrets, {
    redis: sandbox.connection.redis[0],
    sentinels: sandbox.connection.sentinels,
  });
}

for (const [what, values] of [
  ["a sentinel group, through the sentinels", PROD],
  ["a standalone server", PROD_STANDALONE],
] as const) {
  describe(`The connection Secret's variables and the NestJS example (examples/nestjs): ${what}`, function () {
    let dir: string;
    let sandbox: Sandbox | undefined;
    const clients: Redis[] = [];

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-app-secret-"));
      sandbox = await startSandbox(resolve(values, "prod"), {
        dir,
        basePort: await freeBasePort(3),
      });
    });

    after(async () => {
      for (const c of clients) c.disconnect();
      await sandbox?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("each purpose's client writes into its own platform database, as the app user", async () => {
      const env = envOf(sandbox!);
      const admin = directClient(
        sandbox!.connection.redis.find((r) => r.role === "master")!.port,
        sandbox!.connection.users.admin,
      );
      clients.push(admin);
      for (const purpose of PURPOSES) {
        const client = new Redis(redisOptionsFromEnv(env, purpose));
        clients.push(client);
        assert.equal(await whoami(client), "app");
        await client.set(`probe:${purpose}`, purpose);
        const db = Number(env[`REDIS_DB_${purpose}`]);
        await admin.select(db);
        assert.equal(await admin.get(`probe:${purpose}`), purpose, `${purpose} in db${db}`);
      }
    });

    it("the NestJS module gives one client per database, as the app user, and closes them all at shutdown", async () => {
      const env = envOf(sandbox!);
      const saved = { ...process.env };
      Object.assign(process.env, env);
      let nest: ReturnType<typeof loadNestModule>;
      let made: Redis[];
      try {
        nest = loadNestModule();
        made = nest.providers.map((p) => p.useFactory() as Redis);
      } finally {
        for (const name of Object.keys(env)) if (!(name in saved)) delete process.env[name];
        Object.assign(process.env, saved);
      }
      clients.push(...made);
      assert.deepEqual(
        nest.providers.map((p) => p.provide),
        PURPOSES.map((p) => `REDIS_${p}`),
      );
      for (const [i, purpose] of PURPOSES.entries()) {
        assert.equal(await whoami(made[i]), "app", purpose);
        assert.equal(made[i].options.db, Number(env[`REDIS_DB_${purpose}`]), purpose);
      }
      await nest.module.onApplicationShutdown();
      // QUIT is answered before the connection closes: give the closes a moment.
      for (let i = 0; i < 40 && made.some((c) => c.status !== "end"); i++) await sleep(50);
      assert.deepEqual(
        made.map((c) => c.status),
        made.map(() => "end"),
      );
    });

    it("a missing variable is named in the error", () => {
      const env = { ...envOf(sandbox!) };
      delete env.REDIS_PASSWORD;
      assert.throws(() => redisOptionsFromEnv(env, "SESSIONS"), /REDIS_PASSWORD/);
    });
  });
}

/** The user a client is signed in as. */
async function whoami(client: Redis): Promise<string> {
  return (await client.call("ACL", "WHOAMI")) as string;
}
