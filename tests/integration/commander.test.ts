import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { ResolvedConfig } from "../../config/resolve";
import {
  COMMANDER_FILES,
  COMMANDER_SESSION_SECONDS,
  commanderPasswordHash,
} from "../../render/commander";
import { ConnectionInfo } from "../../render/connection";
import { commanderHealthy, commanderHome, commanderPaths } from "../../sandbox/runtime/commander";
import { currentMasterPort, failoverDrill } from "../../sandbox/drills/failover";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { DEV, PROD, resolve } from "../helpers/config";
import {
  claimsOf,
  connections,
  consoleExec,
  countingListener,
  gateOf,
  keyDetails,
  request,
  signIn,
} from "../helpers/commander";
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
/**
 * A POST with the request target exactly as given: fetch drops a fragment and never sends a
 * whole URL as the target, an attacker's own client does.
 */
function rawPost(
  base: string,
  target: string,
  token: string,
  form: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  const body = new URLSearchParams(form).toString();
  return new Promise((done) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: "POST",
        path: target,
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/x-www-form-urlencoded",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => done({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", (err) => done({ status: 0, body: String(err) }));
    req.on("timeout", () => req.destroy(new Error("no answer in 10 s")));
    req.end(body);
  });
}

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

/** One directive of a Content-Security-Policy, as written. */
function directive(policy: string, name: string): string | undefined {
  return policy
    .split(";")
    .map((d) => d.trim())
    .find((d) => d === name || d.startsWith(`${name} `));
}

/** What Commander's console shows for a command, and how long it took to show it. */
async function timedConsole(base: string, token: string, conId: string, cmd: string) {
  const started = Date.now();
  const reply = await consoleExec(base, token, conId, cmd);
  return { data: String(JSON.parse(reply.body).data), ms: Date.now() - started };
}

/** Every @blocking command the server knows, asked of the ACL as the commander user. */
async function blockingVerdicts(asked: Redis): Promise<Record<string, string>> {
  const names = ((await asked.call("ACL", "CAT", "blocking")) as string[]).filter(
    (c) => !c.includes("|"),
  );
  const verdicts: Record<string, string> = {};
  for (const name of names) {
    const [[, arity]] = (await asked.call("COMMAND", "INFO", name)) as [string, number][];
    // As many arguments as the command takes; numbers parse wherever one is due.
    const args = Array.from({ length: Math.abs(arity) - 1 }, () => "1");
    verdicts[name] = String(
      await asked.call("ACL", "DRYRUN", "commander", name, ...args).catch((e) => e.message),
    );
  }
  return verdicts;
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

  it("every response forbids framing, sniffing and referrers; the page runs no inline script but its own, by hash", async () => {
    const token = await login();
    for (const p of ["/", "/connections", "/signin", "/templates/editString.ejs", "/nowhere"]) {
      const res = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      assert.equal(res.headers.get("x-frame-options"), "DENY", p);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", p);
      assert.equal(res.headers.get("referrer-policy"), "no-referrer", p);
      const policy = res.headers.get("content-security-policy") ?? "";
      for (const d of ["default-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"])
        assert.equal(directive(policy, d.split(" ")[0]), d, `${p}: ${policy}`);
      assert.doesNotMatch(policy, /script-src[^;]*'unsafe-inline'/, p);
    }
    const page = await fetch(`${base}/`);
    const html = await page.text();
    const scripts = directive(page.headers.get("content-security-policy")!, "script-src")!;
    assert.match(
      scripts,
      /^script-src 'self' 'unsafe-eval' 'unsafe-hashes'( 'sha256-[A-Za-z0-9+/]{43}=')+$/,
    );
    assert.equal(
      directive(page.headers.get("content-security-policy")!, "object-src"),
      "object-src 'none'",
    );
    assert.match(
      html,
      /<script type="text\/javascript">/,
      "the page has inline scripts, allowed by hash",
    );
    // Never a 304: a cached page would keep a policy without the hashes of its scripts.
    const again = await fetch(`${base}/`, {
      headers: { "if-none-match": page.headers.get("etag") ?? "*" },
    });
    assert.equal(again.status, 200);
  });

  it("adds no connection: /login and /login/detectDb reach no other host or port, signed in or not", async () => {
    const foreign = await countingListener();
    const token = await login();
    try {
      const redis = { label: "x", serverType: "redis", hostname: "127.0.0.1", dbIndex: "0" };
      const sentinel = {
        ...redis,
        serverType: "sentinel",
        sentinelName: "m",
        sentinelPWType: "none",
      };
      for (const p of ["/login", "/login/detectDb", "/LOGIN", "/login/", "/Login/DetectDB/"])
        for (const form of [
          { ...redis, port: String(foreign.port) },
          { ...sentinel, sentinels: `127.0.0.1:${foreign.port}` },
        ]) {
          assert.equal(
            (await request(`${base}${p}`, { token, form })).status,
            403,
            `${p} signed in`,
          );
          assert.equal((await request(`${base}${p}`, { form })).status, 401, `${p} no token`);
        }
      assert.equal(foreign.connections(), 0, "Commander connected to the foreign port");
      const list = await connections(base, token);
      assert.deepEqual(
        list.map((c) => c.label),
        LABELS,
      );
    } finally {
      await foreign.close();
    }
  });

  it("refuses request targets Express would still route: a fragment or a whole URL reaches neither /login nor Commander's own /signin", async () => {
    const foreign = await countingListener();
    const token = await login();
    try {
      const form = {
        label: "x",
        serverType: "redis",
        hostname: "127.0.0.1",
        port: String(foreign.port),
        dbIndex: "0",
      };
      for (const target of [
        "/login/detectDb#x",
        "/login#x",
        `${base}/login/detectDb`,
        `${base}/login`,
        "/signin#x",
        `${base}/signin`,
      ]) {
        const reply = await rawPost(base, target, token, form);
        assert.equal(reply.status, 400, `${target}: ${reply.status} ${reply.body}`);
      }
      assert.equal(foreign.connections(), 0, "Commander connected to the foreign port");
    } finally {
      await Promise.race([foreign.close(), new Promise((r) => setTimeout(r, 2000))]);
    }
  });

  it("refuses a blocking command in the console at once, and every @blocking command by ACL; the database stays served", async () => {
    const token = await login();
    const [sessions] = await connections(base, token);
    for (const cmd of [
      "blpop session:queue 0",
      "brpop session:queue 0",
      "blmove session:a session:b left left 0",
      "bzpopmin session:z 0",
      "xread block 0 streams session:events $",
      "xreadgroup group g c block 0 streams session:events >",
      "wait 1 0",
    ]) {
      const shown = await timedConsole(base, token, sessions.conId, cmd);
      assert.match(shown.data, /NOPERM/, cmd);
      assert.ok(shown.ms < 5000, `${cmd}: answered after ${shown.ms} ms`);
    }
    const admin = asUser(connection.redis[0].port, connection.users.admin);
    try {
      const verdicts = await blockingVerdicts(admin);
      assert.ok(Object.keys(verdicts).length >= 10, JSON.stringify(verdicts));
      for (const [name, verdict] of Object.entries(verdicts))
        assert.match(verdict, new RegExp(`no permissions to run the '${name}' command`), name);
    } finally {
      admin.disconnect();
    }
    const app = asUser(connection.redis[0].port, connection.users.app, 0);
    try {
      await app.set("session:still-served", "yes");
      const reply = await keyDetails(base, token, sessions.conId, "session:still-served");
      assert.equal(JSON.parse(reply.body).value, "yes");
    } finally {
      app.disconnect();
    }
  });

  it(`a session lasts ${COMMANDER_SESSION_SECONDS / 3600} h from the password sign-in: a refresh keeps its start, no token reaches past it`, async () => {
    const first = await login();
    const started = claimsOf(first).signedInAt as number;
    assert.equal(typeof started, "number", "the token names its sign-in time");
    const reply = JSON.parse((await request(`${base}/signin`, { token: first, json: {} })).body);
    assert.equal(reply.ok, true);
    for (const token of [first, reply.bearerToken, reply.queryToken]) {
      assert.equal(claimsOf(token).signedInAt, started);
      assert.ok((claimsOf(token).exp as number) <= started + COMMANDER_SESSION_SECONDS);
    }
    // The single-use token (downloads) starts no new session.
    const viaQuery = await request(`${base}/signin`, { token: reply.queryToken, json: {} });
    assert.equal(JSON.parse(viaQuery.body).ok, false);
  });

  // Last: it restarts Commander twice.
  it("a new sign-in password revokes every token, across Commander's restart", async () => {
    const { username, password } = connection.commander!;
    const hashFile = path.join(commanderPaths(dir).confDir, COMMANDER_FILES.passwordHash);
    const hash = fs.readFileSync(hashFile, "utf8");
    const newPassword = "a-new-sign-in-password-0123";
    const restart = async () => {
      const pid = sandbox!.supervisor.pid("commander");
      sandbox!.supervisor.signal("commander", "SIGTERM");
      await waitFor(
        "Commander to serve again after its restart",
        async () => {
          const now = sandbox!.supervisor.pid("commander");
          if (now === undefined || now === pid) return undefined;
          return (await commanderHealthy(sandbox!.commander!.port)) || undefined;
        },
        30_000,
        200,
      );
    };
    const old = await login();
    assert.equal((await request(`${base}/connections`, { token: old })).status, 200);
    try {
      // As a changed commanderPassword does: a new hash in the Secret, and the pod rolled.
      fs.writeFileSync(
        hashFile,
        commanderPasswordHash(newPassword, sandbox!.commander!.secrets.salt),
      );
      await restart();
      assert.equal((await request(`${base}/connections`, { token: old })).status, 401);
      const refresh = await request(`${base}/signin`, { token: old, json: {} });
      assert.equal(JSON.parse(refresh.body).ok, false, "the old token is refreshed");
      assert.equal(await signIn(base, username, password), undefined);
      const renewed = await signIn(base, username, newPassword);
      assert.equal((await request(`${base}/connections`, { token: renewed })).status, 200);
    } finally {
      fs.writeFileSync(hashFile, hash);
      await restart();
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

  it("refuses XREAD BLOCK 0 in the read-only console at once, and every @blocking command by ACL; a stream is still shown", async () => {
    const token = await login();
    const shown = await timedConsole(
      base,
      token,
      sessionsId,
      "xread block 0 streams session:events $",
    );
    assert.match(shown.data, /NOPERM/);
    assert.ok(shown.ms < 5000, `answered after ${shown.ms} ms`);
    const port = await currentMasterPort(connection);
    const admin = asUser(port, connection.users.admin);
    try {
      for (const [name, verdict] of Object.entries(await blockingVerdicts(admin)))
        assert.match(verdict, new RegExp(`no permissions to run the '${name}' command`), name);
      // Commander shows a stream with XRANGE and XLEN, never XREAD.
      await admin.xadd("session:events", "*", "user", "u-42", "action", "login");
      const reply = await keyDetails(base, token, sessionsId, "session:events");
      assert.equal(reply.status, 200, reply.body);
      const stream = JSON.parse(reply.body) as { type: string; items: unknown[] };
      assert.equal(stream.type, "stream");
      assert.match(JSON.stringify(stream.items), /u-42/);
    } finally {
      admin.disconnect();
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

describe("Commander's sign-in gate alone, with a 2 s session: refreshes stop when the session ends", function () {
  const SESSION_SECONDS = 2;
  let server: http.Server;
  let base: string;
  const password = "a-sign-in-password-0123";

  before(async () => {
    const gate = gateOf({
      passwordHash: commanderPasswordHash(password, "abcdefghijklmnopqrstuv"),
      sessionSeconds: SESSION_SECONDS,
    });
    server = http.createServer((req, res) => gate.handle(req, res, () => res.writeHead(404).end()));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((r) => server.close(() => r())));

  it("signs in with the password, refreshes within the session, refuses the refresh once it is over", async () => {
    let token = (await signIn(base, "admin", password))!;
    const started = claimsOf(token).signedInAt as number;
    const refused = await waitFor(
      "the refresh to be refused",
      async () => {
        const reply = JSON.parse((await request(`${base}/signin`, { token, json: {} })).body);
        if (!reply.ok) return Date.now() / 1000 - started;
        token = reply.bearerToken;
        assert.equal(claimsOf(token).signedInAt, started);
        assert.ok((claimsOf(token).exp as number) <= started + SESSION_SECONDS);
        return undefined;
      },
      10_000,
      250,
    );
    assert.ok(refused >= SESSION_SECONDS - 1 && refused < SESSION_SECONDS + 2, `${refused} s`);
    // A new password sign-in starts a new session.
    assert.ok(await signIn(base, "admin", password));
  });
});
