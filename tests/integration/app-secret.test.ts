import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis, { RedisOptions } from "ioredis";
import { appConnectionEnv } from "../../render/app-secret";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { PROD, PROD_STANDALONE, resolve } from "../helpers/config";
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
type OptionsFromEnv = (env: NodeJS.ProcessEnv, database: Purpose) => RedisOptions;

const ROOT = path.join(__dirname, "..", "..");

/**
 * The README's `redis-options.ts`, verbatim: the code block whose first line is that comment.
 * Compiled inside the project so that it imports the project's ioredis.
 */
function loadReadmeModule(): { optionsFromEnv: OptionsFromEnv; cleanup: () => void } {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const block = /```ts\n(\/\/ redis-options\.ts\n[\s\S]*?)```/.exec(readme);
  assert.ok(block, "README.md has no ```ts block starting with // redis-options.ts");
  const dir = fs.mkdtempSync(path.join(ROOT, "tests", ".readme-"));
  const file = path.join(dir, "redis-options.ts");
  fs.writeFileSync(file, block[1]);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(file) as { redisOptionsFromEnv?: OptionsFromEnv };
  assert.equal(typeof loaded.redisOptionsFromEnv, "function", "it exports redisOptionsFromEnv");
  return {
    optionsFromEnv: loaded.redisOptionsFromEnv!,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

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
  describe(`The connection Secret's variables and the README's NestJS options: ${what}`, function () {
    let dir: string;
    let sandbox: Sandbox | undefined;
    let readme: ReturnType<typeof loadReadmeModule> | undefined;
    const clients: Redis[] = [];

    before(async () => {
      readme = loadReadmeModule();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-app-secret-"));
      sandbox = await startSandbox(resolve(values, "prod"), {
        dir,
        basePort: await freeBasePort(3),
      });
    });

    after(async () => {
      for (const c of clients) c.disconnect();
      await sandbox?.stop();
      readme?.cleanup();
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
        const client = new Redis(readme!.optionsFromEnv(env, purpose));
        clients.push(client);
        assert.equal(await whoami(client), "app");
        await client.set(`probe:${purpose}`, purpose);
        const db = Number(env[`REDIS_DB_${purpose}`]);
        await admin.select(db);
        assert.equal(await admin.get(`probe:${purpose}`), purpose, `${purpose} in db${db}`);
      }
    });

    it("a missing variable is named in the error", () => {
      const env = { ...envOf(sandbox!) };
      delete env.REDIS_PASSWORD;
      assert.throws(() => readme!.optionsFromEnv(env, "SESSIONS"), /REDIS_PASSWORD/);
    });
  });
}

/** The user a client is signed in as. */
async function whoami(client: Redis): Promise<string> {
  return (await client.call("ACL", "WHOAMI")) as string;
}
