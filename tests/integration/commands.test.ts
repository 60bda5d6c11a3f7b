import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConnectionInfo } from "../../render/connection";
import { exercisePlatform } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

const ROOT = path.resolve(__dirname, "..", "..");
const FIXTURES = path.join(ROOT, "tests", "fixtures");

function npmRun(args: string[]) {
  return spawnSync("npm", ["run", "--silent", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
}

/** Redis processes listening on one of `ports` (redis-server titles itself "redis-server 127.0.0.1:PORT"). */
function redisProcessesOn(ports: number[]): string[] {
  const ps = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return ps
    .split("\n")
    .filter(
      (line) =>
        /redis-(server|sentinel)/.test(line) &&
        ports.some((port) => line.includes(`127.0.0.1:${port}`)),
    );
}

describe("npm run render: the rendered artifacts of a stack, and exit 2 on invalid config", () => {
  let out: string;
  beforeEach(() => (out = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-render-"))));
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  it("--stack dev writes redis.conf, the secret file templates and the server arguments", () => {
    const result = npmRun(["render", "--", "--stack", "dev", "--out", out]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      fs.readFileSync(path.join(out, "redis", "redis.conf"), "utf8"),
      /^maxmemory 384mb$/m,
    );
    assert.match(
      fs.readFileSync(path.join(out, "secrets", "secrets.conf"), "utf8"),
      /^requirepass "\{\{secret:defaultPassword\}\}"$/m,
    );
    assert.ok(fs.existsSync(path.join(out, "redis", "redis-server.args")));
  });

  it("--stack prod writes one manifest per Kubernetes object", () => {
    const result = npmRun(["render", "--", "--stack", "prod", "--out", out]);
    assert.equal(result.status, 0, result.stderr);
    const manifests = fs.readdirSync(path.join(out, "manifests"));
    assert.ok(
      manifests.some((f) => f.includes("statefulset")),
      manifests.join(", "),
    );
  });

  it("--config with target nomad exits 2 naming the key and the value", () => {
    const result = npmRun([
      "render",
      "--",
      "--stack",
      "dev",
      "--config",
      path.join(FIXTURES, "bad-target.yaml"),
      "--out",
      out,
    ]);
    assert.equal(result.status, 2);
    assert.match(
      result.stderr,
      /Invalid lowcode-redis:target "nomad": must be one of docker, kubernetes\./,
    );
    assert.deepEqual(fs.readdirSync(out), [], "nothing is written for invalid config");
  });

  it("an unknown option exits 2 with the usage", () => {
    const result = npmRun(["render", "--", "--stack", "dev", "--outdir", out]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /Usage: npm run render -- --stack <name>/);
  });
});

describe("npm run sandbox: a stack as local processes, connection.json per the contract, nothing left after SIGTERM", () => {
  const runs: Array<[string, string[]]> = [
    ["dev stack", ["--stack", "dev"]],
    [
      "production profile, standalone (--config)",
      ["--stack", "prod", "--config", path.join(FIXTURES, "prod-standalone.yaml")],
    ],
  ];
  for (const [what, stackArgs] of runs) {
    it(what, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-sandbox-"));
      let child: ChildProcess | undefined;
      const basePort = await freeBasePort(1);
      try {
        // Its own process group, so that cleanup after a failure reaches every descendant.
        child = spawn(
          "npm",
          ["run", "sandbox", "--", ...stackArgs, "--dir", dir, "--base-port", String(basePort)],
          { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true },
        );
        let output = "";
        child.stdout!.on("data", (d) => (output += d));
        child.stderr!.on("data", (d) => (output += d));
        const exited = new Promise<number | null>((resolve) =>
          child!.once("exit", (code) => resolve(code)),
        );
        const file = path.join(dir, "connection.json");
        const connection = await waitFor(
          "connection.json",
          () =>
            fs.existsSync(file)
              ? (JSON.parse(fs.readFileSync(file, "utf8")) as ConnectionInfo)
              : undefined,
          30_000,
        );

        assert.deepEqual(Object.keys(connection).sort(), [
          "client",
          "databases",
          "deviations",
          "masterName",
          "profile",
          "redis",
          "renamedCommands",
          "sentinels",
          "stack",
          "topology",
          "users",
        ]);
        assert.equal(connection.topology, "standalone");
        assert.deepEqual(connection.redis, [{ host: "127.0.0.1", port: basePort, role: "master" }]);
        assert.equal((fs.statSync(file).mode & 0o777).toString(8), "600");
        await exercisePlatform(connection);
        assert.equal(redisProcessesOn([basePort]).length, 1, "one redis-server runs");

        // The operator's view of the running deployment, from the same connection.json.
        const monitor = npmRun(["monitor", "--", "--connection", file]);
        assert.equal(monitor.status, 0, monitor.stderr);
        assert.match(monitor.stdout, /^role master, replicas 0$/m);
        assert.match(monitor.stdout, /^ {2}sessions \(db 0\) +[1-9]\d*$/m);
        assert.match(monitor.stdout, /^ {2}hset +\d+/m);

        child.kill("SIGTERM");
        assert.equal(await exited, 0, output);
        assert.deepEqual(redisProcessesOn([basePort]), [], "no process is left behind");
      } finally {
        if (child?.pid && child.exitCode === null) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
        for (const line of redisProcessesOn([basePort]))
          process.kill(Number(line.trim().split(" ")[0]), "SIGKILL");
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("invalid config exits 2 before starting anything", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-sandbox-"));
    try {
      const result = npmRun([
        "sandbox",
        "--",
        "--stack",
        "dev",
        "--config",
        path.join(FIXTURES, "bad-target.yaml"),
        "--dir",
        dir,
      ]);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /Invalid lowcode-redis:target "nomad"/);
      assert.equal(fs.existsSync(path.join(dir, "connection.json")), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
