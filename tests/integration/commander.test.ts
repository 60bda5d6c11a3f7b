import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { ResolvedConfig } from "../../config/resolve";
import { COMMANDER_FILES } from "../../render/commander";
import { ConnectionInfo } from "../../render/connection";
import { commanderHome, commanderPaths } from "../../sandbox/commander";
import { currentMasterPort, failoverDrill } from "../../sandbox/failover";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { DEV, PROD, resolve } from "../helpers/config";
import { connections, keyDetails, request, signIn } from "../helpers/commander";
import { directClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

const LABELS = [
  "sessions (db0)",
  "flow cache (db1)",
  "component templates (db2)",
  "collaboration (db3)",
  "rate limiting (db4)",
  "query cache (db5)",
];

/** Every data endpoint of Commander, as its pages call them (connection and key filled in). */
function dataEndpoints(conId: string): { method: string; path: string }[] {
  const c = encodeURIComponent(conId);
  return [
    { method: "GET", path: "/connections" },
    { method: "GET", path: "/config" },
    { method: "POST", path: "/login" },
    { method: "GET", path: "/apiv1/connection" },
    { method: "GET", path: "/apiv2/connection" },
    { method: "GET", path: "/apiv2/server/info" },
    { method: "GET", path: `/apiv2/server/${c}/info` },
    { method: "GET", path: `/apiv2/keystree/${c}` },
    { method: "GET", path: `/apiv2/keys/${c}/session:*` },
    { method: "GET", path: `/apiv2/key/${c}/session:probe` },
    { method: "POST", path: `/apiv2/key/${c}/session:probe` },
    { method: "POST", path: `/apiv2/exec/${c}` },
    { method: "GET", path: "/apiv2/redisCommands" },
    { method: "GET", path: `/tools/export?connection=${c}` },
    { method: "POST", path: "/tools/import" },
  ];
}

async function startWith(cfg: ResolvedConfig, prefix: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const sandbox = await startSandbox(cfg, { dir, basePort: await freeBasePort(3) });
  return { dir, sandbox };
}

/** Signs in with the sign-in of connection.json; the session token (Commander's live 60 s). */
async function signInAs(connection: ConnectionInfo): Promise<string> {
  const { url, username, password } = connection.commander!;
  return (await signIn(url, username, password))!;
}

/** A file of the sandbox's Commander conf dir, trimmed. */
function commanderFile(dir: string, name: string): string {
  return fs.readFileSync(path.join(commanderPaths(dir).confDir, name), "utf8").trim();
}

function asUser(port: number, user: { username: string; password: string }, db = 0): Redis {
  const client = directClient(port, { ...user, db });
  client.on("error", () => undefined);
  return client;
}

describe("Redis Commander, dev sandbox: signed-in access to the six databases, read-write", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;
  let connection: ConnectionInfo;
  let base: string;
  const login = () => signInAs(connection);

  before(async () => {
    ({ dir, sandbox } = await startWith(resolve(DEV, "dev"), "lowcode-redis-commander-dev-"));
    connection = sandbox.connection;
    base = connection.commander!.url;
  });

  after(async () => {
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("connection.json names Commander's URL and a generated sign-in, never admin/admin123", () => {
    const c = connection.commander!;
    assert.equal(c.url, `http://127.0.0.1:${sandbox!.commander!.port}`);
    assert.equal(c.username, "admin");
    assert.ok(c.password.length >= 16, "a generated password");
    assert.notEqual(c.password, "admin123");
  });

  it("without a sign-in every data endpoint answers 401; a forged token too", async () => {
    const forged =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJSZWRpcyBDb21tYW5kZXIiLCJzdWIiOiJTZXNzaW9uIFRva2VuIn0.c2lnbmVkLXdpdGgtYW5vdGhlci1rZXk";
    for (const { method, path: p } of dataEndpoints("R:127.0.0.1:1:0")) {
      for (const token of [undefined, forged]) {
        const reply = await request(`${base}${p}`, {
          method,
          token,
          ...(method === "POST" ? { form: { cmd: "get x" } } : {}),
        });
        assert.equal(reply.status, 401, `${method} ${p} ${token ? "forged token" : "no token"}`);
      }
    }
  });

  it("refuses a wrong password, a wrong user, an empty password and the Redis passwords", async () => {
    const { username, password } = connection.commander!;
    assert.equal(await signIn(base, username, `${password}x`), undefined);
    assert.equal(await signIn(base, "root", password), undefined);
    assert.equal(await signIn(base, username, ""), undefined);
    assert.equal(await signIn(base, "admin", "admin123"), undefined);
    // Redis passwords open Commander no more than any other word.
    assert.equal(await signIn(base, username, connection.users.app.password), undefined);
    assert.equal(await signIn(base, username, connection.users.admin.password), undefined);
  });

  it("after sign-in lists the six databases by purpose and shows a key written through ioredis", async () => {
    const token = await login();
    assert.ok(token, "signed in");
    const list = await connections(base, token);
    assert.deepEqual(
      list.map((c) => [c.label, c.options.db]),
      LABELS.map((label, db) => [label, db]),
    );
    const app = asUser(connection.redis[0].port, connection.users.app, 0);
    try {
      await app.hset("session:commander-dev", { userId: "u-42", role: "editor" });
      const reply = await keyDetails(base, token, list[0].conId, "session:commander-dev");
      assert.equal(reply.status, 200);
      const shown = JSON.parse(reply.body) as { type: string; data: Record<string, string> };
      assert.equal(shown.type, "hash");
      assert.deepEqual(shown.data, { userId: "u-42", role: "editor" });
    } finally {
      app.disconnect();
    }
  });

  it("dev is read-write: a key saved through Commander reaches Redis", async () => {
    const token = await login();
    const [sessions] = await connections(base, token);
    const saved = await request(
      `${base}/apiv2/key/${encodeURIComponent(sessions.conId)}/ui:commander-saved`,
      { token, form: { stringValue: "from-commander", keyType: "string" } },
    );
    assert.equal(saved.status, 200, saved.body);
    const app = asUser(connection.redis[0].port, connection.users.app, 0);
    try {
      assert.equal(await app.get("ui:commander-saved"), "from-commander");
    } finally {
      app.disconnect();
    }
  });

  it("no reply after sign-in carries a Redis password or the password hash", async () => {
    const token = await login();
    const [sessions] = await connections(base, token);
    const hidden = [
      commanderFile(dir, COMMANDER_FILES.redisPassword),
      commanderFile(dir, COMMANDER_FILES.passwordHash),
      commanderFile(dir, COMMANDER_FILES.sessionSecret),
      connection.commander!.password,
    ];
    for (const p of [
      "/connections",
      "/config",
      "/apiv2/connection",
      "/apiv2/server/info",
      `/apiv2/server/${encodeURIComponent(sessions.conId)}/info`,
    ]) {
      const reply = await request(`${base}${p}`, { token });
      for (const value of hidden) assert.ok(!reply.body.includes(value), `${p} shows a secret`);
    }
    // Nor does Commander's log.
    const log = fs.readFileSync(commanderPaths(dir).logFile, "utf8");
    for (const value of hidden) assert.ok(!log.includes(value), "the log shows a secret");
  });

  it("the commander user has no @dangerous command, even in dev (KEYS, FLUSHALL, CONFIG, CLIENT LIST, DEBUG)", async () => {
    const password = commanderFile(dir, COMMANDER_FILES.redisPassword);
    const commander = asUser(connection.redis[0].port, { username: "commander", password });
    try {
      for (const command of [
        ["KEYS", "*"],
        ["FLUSHALL"],
        ["FLUSHDB"],
        ["CONFIG", "GET", "maxmemory"],
        ["CLIENT", "LIST"],
        ["SHUTDOWN"],
        ["ACL", "LIST"],
        ["EVAL", "return 1", "0"],
        ["PUBLISH", "flow:1:cursors", "x"],
      ])
        await assert.rejects(
          commander.call(command[0], ...command.slice(1)),
          /NOPERM/,
          command.join(" "),
        );
      assert.match(await commander.info("server"), /redis_version/);
    } finally {
      commander.disconnect();
    }
  });

  it("the launcher refuses to start without a password hash or session key, instead of serving without sign-in", () => {
    const confDir = commanderPaths(dir).confDir;
    for (const [file, content, message] of [
      [COMMANDER_FILES.passwordHash, "", /password\.bcrypt is empty/],
      [COMMANDER_FILES.passwordHash, "admin123", /not a bcrypt hash/],
      [COMMANDER_FILES.sessionSecret, "\n", /session\.secret is empty/],
    ] as const) {
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-commander-conf-"));
      try {
        for (const f of fs.readdirSync(confDir))
          fs.copyFileSync(path.join(confDir, f), path.join(copy, f));
        fs.writeFileSync(path.join(copy, file), content);
        const run = spawnSync(process.execPath, [path.join(copy, COMMANDER_FILES.launcher)], {
          env: { ...process.env, COMMANDER_CONF_DIR: copy, COMMANDER_HOME: commanderHome() },
          encoding: "utf8",
          timeout: 20_000,
        });
        assert.equal(run.status, 1, `${file} ${JSON.stringify(content)}: ${run.stderr}`);
        assert.match(run.stderr, message);
      } finally {
        fs.rmSync(copy, { recursive: true, force: true });
      }
    }
  });
});

describe("Redis Commander, prod sandbox: read-only, and it follows the master across a failover", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;
  let connection: ConnectionInfo;
  let base: string;
  let sessionsId: string;
  // Commander's session tokens live 60 s: each step signs in anew.
  const login = () => signInAs(connection);

  before(async () => {
    ({ dir, sandbox } = await startWith(resolve(PROD, "prod"), "lowcode-redis-commander-prod-"));
    connection = sandbox.connection;
    base = connection.commander!.url;
    sessionsId = (await connections(base, await login()))[0].conId;
  });

  after(async () => {
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function appClient(db = 0): Promise<Redis> {
    return asUser(await currentMasterPort(connection), connection.users.app, db);
  }

  it("lists the six databases through the sentinels", async () => {
    const list = await connections(base, await login());
    assert.deepEqual(
      list.map((c) => [c.label, c.options.type]),
      LABELS.map((label) => [label, "Sentinel"]),
    );
  });

  it("refuses every write through Commander: set, delete, rename, import, a write in its console", async () => {
    const app = await appClient();
    const c = encodeURIComponent(sessionsId);
    const token = await login();
    try {
      await app.set("session:readonly", "before");
      const attempts = [
        request(`${base}/apiv2/key/${c}/session:readonly`, {
          token,
          form: { stringValue: "after", keyType: "string" },
        }),
        request(`${base}/apiv2/key/${c}/session:readonly?action=delete`, { token, form: {} }),
        request(`${base}/apiv2/keys/${c}/session:*?action=delete`, { token, form: {} }),
        request(`${base}/apiv2/key/${c}/session:readonly`, {
          method: "PATCH",
          token,
          form: { key: "session:renamed" },
        }),
        request(`${base}/tools/import`, {
          token,
          form: { connection: sessionsId, data: "SET session:imported x", clear: "false" },
        }),
      ];
      for (const reply of await Promise.all(attempts)) assert.equal(reply.status, 403, reply.body);
      const exec = await request(`${base}/apiv2/exec/${c}`, {
        token,
        form: { cmd: "set session:readonly after" },
      });
      assert.match(exec.body, /not read-only/);
      assert.equal(await app.get("session:readonly"), "before");
      assert.equal(await app.exists("session:imported", "session:renamed"), 0);
    } finally {
      app.disconnect();
    }
  });

  it("bypassing Commander, the commander user may read and inspect only: no write, no @dangerous but INFO", async () => {
    const password = commanderFile(dir, COMMANDER_FILES.redisPassword);
    const port = await currentMasterPort(connection);
    const admin = asUser(port, connection.users.admin);
    const commander = asUser(port, { username: "commander", password });
    try {
      // Every command the server knows, asked of the ACL as the commander user would send it.
      const commands = (await admin.call("COMMAND")) as [string, number, string[]][];
      const refused: string[] = [];
      const allowed: string[] = [];
      for (const [name, arity, flags] of commands) {
        // As many arguments as the command takes (at least); numbers parse wherever one is due.
        const args = Array.from({ length: Math.abs(arity) - 1 }, () => "1");
        const verdict = String(
          await admin.call("ACL", "DRYRUN", "commander", name, ...args).catch((e) => e.message),
        );
        (verdict === "OK" ? allowed : refused).push(name);
        const write = flags.includes("write");
        if (write) assert.notEqual(verdict, "OK", `${name} writes, yet is allowed`);
      }
      const dangerous = ((await admin.call("ACL", "CAT", "dangerous")) as string[]).filter(
        (c) => !c.includes("|"),
      );
      // FLUSHALL, FLUSHDB and CONFIG are renamed away for everyone: the server lists no such name.
      for (const name of dangerous)
        if (name !== "info") assert.ok(!allowed.includes(name), `@dangerous ${name} is allowed`);
      assert.ok(refused.includes("keys") && refused.includes("client"), "KEYS and CLIENT refused");
      for (const name of ["get", "scan", "type", "ttl", "hgetall", "info", "select"])
        assert.ok(allowed.includes(name), `${name} is refused`);
      // And for real: a write and an inspection beyond INFO.
      await admin.set("session:readonly", "before");
      await assert.rejects(commander.set("session:bypass", "x"), /NOPERM/);
      await assert.rejects(commander.del("session:readonly"), /NOPERM/);
      await assert.rejects(commander.call("CLIENT", "LIST"), /NOPERM/);
      await assert.rejects(commander.call("SUBSCRIBE", "flow:1:cursors"), /NOPERM/);
      assert.equal(await commander.get("session:readonly"), "before");
    } finally {
      admin.disconnect();
      commander.disconnect();
    }
  });

  it("follows the master across a failover: a key written to the new master is shown", async () => {
    const before = await currentMasterPort(connection);
    const result = await failoverDrill(sandbox!, { keyPrefix: "flow:commander-failover" });
    assert.notEqual(result.newMasterPort, before);
    const app = asUser(result.newMasterPort, connection.users.app, 0);
    try {
      await app.hset("session:after-failover", { node: String(result.newMasterPort) });
    } finally {
      app.disconnect();
    }
    const shown = await waitFor(
      "Commander to show the key written after the failover",
      async () => {
        const reply = await keyDetails(base, await login(), sessionsId, "session:after-failover");
        if (reply.status !== 200) return undefined;
        const parsed = JSON.parse(reply.body) as { data?: Record<string, string> };
        return parsed.data?.node ? parsed.data : undefined;
      },
      60_000,
      500,
    );
    assert.deepEqual(shown, { node: String(result.newMasterPort) });
  });
});
