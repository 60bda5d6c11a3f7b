import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";
import { ciStackStep, runWithStandInPulumi } from "../helpers/workflows";

/**
 * deploy.yml's smoke test of the throwaway stack, against a real Redis whose only user is `app`
 * (as the stack output `connection` gives it): it passes, and the key it wrote is there.
 */
describe("deploy.yml: the throwaway stack's smoke test on a real Redis", () => {
  let dir: string;
  let server: ChildProcess;
  let port: number;
  let admin: Redis;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-ci-smoke-"));
    port = await freeBasePort(1);
    server = spawn(
      "redis-server",
      [
        ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""],
        ...["--user", "default", "off"],
        ...["--user", "app", "on", ">app-password", "~*", "+@all"],
      ],
      { stdio: "ignore" },
    );
    admin = new Redis({ port, username: "app", password: "app-password", lazyConnect: true });
    admin.on("error", () => undefined);
    await waitFor("redis-server up", async () => {
      if (admin.status === "wait" || admin.status === "end") await admin.connect();
      return (await admin.ping()) === "PONG" ? true : undefined;
    });
  });

  after(async () => {
    admin?.disconnect();
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGKILL");
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("connects as the app user, writes ci-smoke:<run id> with a TTL and reads it back", async function () {
    this.timeout(30_000);
    const connection = {
      redis: [{ host: "127.0.0.1", port, role: "master" }],
      users: {
        app: { username: "app", password: "app-password" },
        admin: { username: "admin", password: "unused" },
      },
    };
    const run = runWithStandInPulumi(
      ciStackStep(/^\s*pulumi stack output connection\b/),
      path.join(dir, "step"),
      { STACK: "ci-42", GITHUB_RUN_ID: "42" },
      { stdout: JSON.stringify(connection) },
    );
    assert.equal(run.status, 0, run.out);
    assert.match(run.out, new RegExp(`Redis at 127\\.0\\.0\\.1:${port} answers the app user`));
    assert.equal(await admin.get("ci-smoke:42"), "ok");
    const ttl = await admin.ttl("ci-smoke:42");
    assert.ok(ttl > 0 && ttl <= 60, `TTL ${ttl}`);
  });

  it("fails when the password is wrong", async function () {
    this.timeout(30_000);
    const connection = {
      redis: [{ host: "127.0.0.1", port, role: "master" }],
      users: { app: { username: "app", password: "wrong" } },
    };
    const run = runWithStandInPulumi(
      ciStackStep(/^\s*pulumi stack output connection\b/),
      path.join(dir, "wrong"),
      { STACK: "ci-42", GITHUB_RUN_ID: "43" },
      { stdout: JSON.stringify(connection) },
    );
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /WRONGPASS|invalid username-password/);
    assert.equal(await admin.exists("ci-smoke:43"), 0);
  });
});
