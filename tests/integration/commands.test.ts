import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConnectionInfo } from "../../render/connection";
import { readProcesses } from "../../sandbox/sandbox";
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

        // processes.json: what other tools (drills) act on, current after each restart.
        const processesFile = path.join(dir, "processes.json");
        assert.equal((fs.statSync(processesFile).mode & 0o777).toString(8), "600");
        const running = readProcesses(dir);
        assert.equal(
          running.sandboxPid,
          Number(fs.readFileSync(path.join(dir, "sandbox.pid"), "utf8")),
          "the sandbox's pid, as in its lock",
        );
        const pidOn = (port: number) =>
          redisProcessesOn([port]).map((line) => Number(line.trim().split(" ")[0]));
        const [node] = running.processes;
        assert.deepEqual(running.processes, [
          {
            name: "redis-0",
            kind: "redis",
            port: basePort,
            pid: pidOn(basePort)[0],
            confDir: path.join(dir, "redis-0", "conf"),
            dataDir: path.join(dir, "redis-0", "data"),
            logFile: path.join(dir, "logs", "redis-0.log"),
          },
        ]);
        process.kill(node.pid, "SIGKILL");
        await waitFor("processes.json naming the restarted redis-server", () => {
          const now = readProcesses(dir).processes[0];
          return now.pid !== node.pid && pidOn(basePort).includes(now.pid) ? true : undefined;
        });

        child.kill("SIGTERM");
        assert.equal(await exited, 0, output);
        assert.deepEqual(redisProcessesOn([basePort]), [], "no process is left behind");
        assert.deepEqual(
          fs.readdirSync(dir).filter((f) => f === "processes.json" || f === "sandbox.pid"),
          [],
          "processes.json and the lock are removed on stop",
        );
        assert.throws(() => readProcesses(dir), /no running sandbox in /);
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

  it("prod stack (sentinel group): the roles in connection.json, every process in processes.json, the group in the monitor", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-sandbox-"));
    let child: ChildProcess | undefined;
    const basePort = await freeBasePort(3);
    const ports = [0, 1, 2].flatMap((i) => [basePort + i, basePort + 20000 + i]);
    try {
      child = spawn(
        "npm",
        ["run", "sandbox", "--", "--stack", "prod", "--dir", dir, "--base-port", String(basePort)],
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
        60_000,
      );
      assert.deepEqual(
        connection.redis.map((r) => r.role),
        ["master", "replica", "replica"],
      );
      assert.deepEqual(
        readProcesses(dir).processes.map((p) => `${p.kind} ${p.name} ${p.port}`),
        [
          ...[0, 1, 2].map((i) => `redis redis-${i} ${basePort + i}`),
          ...[0, 1, 2].map((i) => `sentinel sentinel-${i} ${basePort + 20000 + i}`),
        ],
      );

      const monitor = npmRun(["monitor", "--", "--connection", file]);
      assert.equal(monitor.status, 0, monitor.stderr);
      assert.match(monitor.stdout, /^role master, replicas 2$/m);
      assert.match(
        monitor.stdout,
        new RegExp(
          `^master lowcode-master at localhost:${basePort} \\(named by 3 of 3 answering sentinels\\)$`,
          "m",
        ),
      );
      for (const i of [1, 2])
        assert.match(
          monitor.stdout,
          new RegExp(`^ {2}localhost:${basePort + i} +online +lag \\d+ s, behind \\d+ bytes$`, "m"),
        );
      for (const i of [0, 1, 2])
        assert.match(
          monitor.stdout,
          new RegExp(
            `^ {2}127\\.0\\.0\\.1:${basePort + 20000 + i} +sees master localhost:${basePort} \\(flags master\\), quorum reached \\(3 of 3 sentinels usable, quorum 2\\), last failover: none \\(epoch 0\\)$`,
            "m",
          ),
        );

      child.kill("SIGTERM");
      assert.equal(await exited, 0, output);
      assert.deepEqual(redisProcessesOn(ports), [], "no process is left behind");
    } finally {
      if (child?.pid && child.exitCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      for (const line of redisProcessesOn(ports))
        process.kill(Number(line.trim().split(" ")[0]), "SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

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
