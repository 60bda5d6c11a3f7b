import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { createRequire } from "node:module";
import * as path from "node:path";
import { AddressInfo } from "node:net";
import { hashSync } from "bcryptjs";
import { COMMANDER_SESSION_SECONDS, renderCommanderLauncher } from "../../render/commander";
import {
  COMMANDER_GATE_PARTS,
  CommanderGateParts,
  commanderGate,
} from "../../render/commander-gate";
import { commanderHome } from "../../sandbox/runtime/commander";
import { commanderModules, gateOf, gateOptions, request, signIn } from "../helpers/commander";
import { DEV, PROD, resolve } from "../helpers/config";

const PASSWORD = "a-sign-in-password-0123";
const HASH = hashSync(PASSWORD, 4);
const TEMPLATES = path.join(commanderHome(), "web", "static", "templates");
const ejs = createRequire(path.join(commanderHome(), "package.json"))("ejs") as {
  render(template: string, data: object): string;
};
const { jwt } = commanderModules();
const TOKEN = { issuer: "Redis Commander", subject: "Session Token" };
const now = () => Math.floor(Date.now() / 1000);

/** What the browser reads from an attribute value: EJS's five escapes undone. */
const unescapeHtml = (s: string) =>
  s
    .replace(/&#34;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
const handlers = (html: string) => [...html.matchAll(/\son[a-z]+="([^"]*)"/g)].map((m) => m[1]);
const sha256 = (s: string) => `'sha256-${createHash("sha256").update(s).digest("base64")}'`;
const directive = (policy: string, name: string) =>
  policy
    .split(";")
    .map((d) => d.trim())
    .find((d) => d.startsWith(`${name} `));

describe("Commander's gate: key names as text, a strict policy, sessions of a bounded age", () => {
  const gate = gateOf({ passwordHash: HASH });

  it("every template's handlers read their arguments from JSON: the code is the same whatever the key", () => {
    const keys = ["session:1", "x');alert(1);('", '"><img src=x onerror=alert(2)>', "a\\'b"];
    const files = fs.readdirSync(TEMPLATES).filter((f) => f.endsWith(".ejs"));
    assert.ok(files.length >= 10, "Commander's key view templates");
    for (const file of files) {
      const patched = gate.patchTemplate(file, fs.readFileSync(path.join(TEMPLATES, file), "utf8"));
      for (const code of handlers(patched)) assert.doesNotMatch(code, /<%/, `${file}: ${code}`);
    }
    const branch = gate.patchTemplate(
      "editBranch.ejs",
      fs.readFileSync(path.join(TEMPLATES, "editBranch.ejs"), "utf8"),
    );
    const codes = new Set<string>();
    for (const key of keys) {
      const html = ejs.render(branch, {
        connectionId: "R:redis:6379:0",
        key,
        redisReadOnly: false,
      });
      for (const code of handlers(html)) codes.add(code);
      const args = [...html.matchAll(/data-args-onclick="([^"]*)"/g)].map((m) =>
        JSON.parse(unescapeHtml(m[1])),
      );
      assert.deepEqual(args, [
        ["R:redis:6379:0", key],
        ["R:redis:6379:0", key],
      ]);
      assert.doesNotMatch(html, /<img/, "the name is escaped where shown");
    }
    assert.deepEqual(
      [...codes],
      [
        "addKey(JSON.parse(this.dataset.argsOnclick)[0],JSON.parse(this.dataset.argsOnclick)[1])",
        "deleteBranch(JSON.parse(this.dataset.argsOnclick)[0],JSON.parse(this.dataset.argsOnclick)[1])",
      ],
    );
  });

  it("refuses a template whose handler interpolates other than a quoted argument", () => {
    assert.throws(
      () => gate.patchTemplate("x.ejs", `<a onclick="go(<%= key %>)">x</a>`),
      /x\.ejs: an onclick handler interpolates other than a quoted argument/,
    );
  });

  it("the page's policy: its own inline scripts and handlers by hash, nothing inline else; no framing, plugins or base", () => {
    const page = `<script src="scripts/a.js"></script><script>start();</script><button onclick="refreshTree()">`;
    const policy = gate.pagePolicy(page);
    const scripts = directive(policy, "script-src")!;
    assert.ok(scripts.startsWith("script-src 'self' 'unsafe-eval' 'unsafe-hashes' "), scripts);
    assert.ok(!scripts.includes("'unsafe-inline'"));
    for (const allowed of ["start();", "refreshTree()", gate.patchedHandlers[0]])
      assert.ok(scripts.includes(sha256(allowed)), allowed);
    assert.ok(!scripts.includes(sha256("alert(1)")));
    for (const [name, value] of [
      ["default-src", "'none'"],
      ["object-src", "'none'"],
      ["base-uri", "'none'"],
      ["frame-ancestors", "'none'"],
      ["connect-src", "'self'"],
      ["img-src", "'self' data:"],
    ])
      assert.equal(directive(policy, name), `${name} ${value}`);
  });

  it("the signing key changes with the password hash, the user and the generated secret", () => {
    const key = gate.signingKey;
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(gateOf({ passwordHash: HASH }).signingKey, key);
    assert.notEqual(gateOf({ passwordHash: hashSync("another-password-0123", 4) }).signingKey, key);
    assert.notEqual(gateOf({ passwordHash: HASH, username: "ops" }).signingKey, key);
    assert.notEqual(
      gateOf({ passwordHash: HASH, sessionSecret: "another-secret" }).signingKey,
      key,
    );
  });

  it(`a session refreshes only within ${COMMANDER_SESSION_SECONDS / 3600} h of its password sign-in, and no token outlives it`, () => {
    const t = now();
    const sign = (claims: object, key = gate.signingKey) =>
      jwt.sign(claims, key, { ...TOKEN, algorithm: "HS256" });
    const lifetime = COMMANDER_SESSION_SECONDS;
    assert.equal(gate.sessionOf(gate.mint(t, false)), t);
    assert.equal(
      gate.sessionOf(sign({ signedInAt: t - lifetime + 30, exp: t + 30 })),
      t - lifetime + 30,
    );
    assert.equal(gate.sessionOf(sign({ signedInAt: t - lifetime - 1, exp: t + 60 })), undefined);
    // Commander's own tokens carry no sign-in time; single-use tokens are for downloads.
    assert.equal(gate.sessionOf(sign({ exp: t + 60 })), undefined);
    assert.equal(gate.sessionOf(gate.mint(t, true)), undefined);
    assert.equal(gate.sessionOf(sign({ signedInAt: t, exp: t + 60 }, "another-key")), undefined);
    assert.equal(gate.sessionOf(sign({ signedInAt: t, exp: t - 1 })), undefined);
    // Near its end a session's token lasts to the end, not a minute more.
    const late = jwt.verify(gate.mint(t - lifetime + 10, false), gate.signingKey, TOKEN) as {
      exp: number;
    };
    assert.equal(late.exp, t + 10);
  });

  it("the gate and each of its parts use nothing but their arguments: built from their sources alone, it answers as the module's", async () => {
    /** A function as the launcher has it: its source, evaluated where no module-level name is. */
    const fromSource = <T>(f: T): T => new Function(`return (${String(f)});`)() as T;
    const parts = Object.fromEntries(
      Object.entries(COMMANDER_GATE_PARTS).map(([name, part]) => [name, fromSource(part)]),
    ) as CommanderGateParts;
    const embedded = fromSource(commanderGate)(
      commanderModules(),
      gateOptions({ passwordHash: HASH }),
      parts,
    );
    assert.equal(embedded.signingKey, gate.signingKey);
    assert.deepEqual(embedded.patchedHandlers, gate.patchedHandlers);
    const page = `<script>start();</script><button onclick="refreshTree()">`;
    assert.equal(embedded.pagePolicy(page), gate.pagePolicy(page));
    const t = now();
    assert.equal(gate.sessionOf(embedded.mint(t, false)), t);
    assert.equal(embedded.sessionOf(gate.mint(t, false)), t);

    const server = http.createServer((req, res) =>
      embedded.handle(req, res, () => res.setHeader("Content-Type", "text/html").end(page)),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const refused = await fetch(`${base}/login`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get("x-frame-options"), "DENY");
      assert.match(refused.headers.get("content-security-policy")!, /^default-src 'none'; /);
      assert.equal(await signIn(base, "admin", "a-wrong-password-0123"), undefined);
      const token = await signIn(base, "admin", PASSWORD);
      assert.ok(token, "signed in");
      assert.equal(embedded.sessionOf(token), gate.sessionOf(token));
      const detect = await request(`${base}/login/detectDb`, { method: "POST", token });
      assert.equal(detect.status, 403);
      const branch = await request(`${base}/templates/editBranch.ejs`);
      const source = fs.readFileSync(path.join(TEMPLATES, "editBranch.ejs"), "utf8");
      assert.equal(branch.body, gate.patchTemplate("editBranch.ejs", source));
      const shown = await fetch(`${base}/`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(await shown.text(), page);
      assert.equal(shown.headers.get("content-security-policy"), gate.pagePolicy(page));
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("the launcher embeds the gate and its parts, hands Commander the derived key and installs the gate before Commander starts", () => {
    for (const cfg of [resolve(DEV), resolve(PROD)]) {
      const launcher = renderCommanderLauncher(cfg);
      assert.ok(launcher.includes("gate = (function commanderGate(modules, options, parts)"));
      for (const name of Object.keys(COMMANDER_GATE_PARTS))
        assert.match(launcher, new RegExp(`^    ${name}: \\((async )?function ${name}\\(`, "m"));
      assert.ok(launcher.includes("    gateParts,\n  );\n"));
      assert.ok(launcher.includes(`sessionSeconds: ${COMMANDER_SESSION_SECONDS},`));
      const order = ["jwtSecret = gate.signingKey;", "gate.install();", "require(app);"].map((s) =>
        launcher.indexOf(s),
      );
      assert.ok(order[0] > 0 && order[0] < order[1] && order[1] < order[2], String(order));
    }
  });
});
