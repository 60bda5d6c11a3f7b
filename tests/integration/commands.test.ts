import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { commanderHealthy } from "../../sandbox/runtime/commander";
import { readProcesses } from "../../sandbox/contract";
import { exercisePlatform } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import {
  killCommanderIn,
  killRedisOn,
  redisProcessesOn,
  runSandboxCommand,
} from "../helpers/processes";
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
      let sandbox: Awaited<ReturnType<typeof runSandboxCommand>> | undefined;
      const basePort = await freeBasePort(1);
      try {
        sandbox = await runSandboxCommand(
          [...stackArgs, "--base-port", String(basePort)],
          dir,
          30_000,
        );
        const { child, exited, file, connection } = sandbox;
        const output = sandbox.output;

        assert.deepEqual(Object.keys(connection).sort(), [
          "backup",
          "client",
          "commander",
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
        // Backups are on in both stacks: the contract names the script and where it writes.
        assert.deepEqual(connection.backup, {
          script: path.join(dir, "backup", "conf", "backup.sh"),
          dir: path.join(dir, "backups"),
        });
        // Logged once connection.json is written.
        await waitFor(
          "the sandbox's backup line",
          () => (/backups: "0 2 \* \* \*" \(UTC\) into /.test(output()) ? true : undefined),
          10_000,
        );
        assert.equal((fs.statSync(file).mode & 0o777).toString(8), "600");
        // Commander: commanderPort shifted with the base port; its address logged, never the password.
        const commanderPort = basePort + 1080;
        assert.equal(connection.commander?.url, `http://127.0.0.1:${commanderPort}`);
        assert.ok(await commanderHealthy(commanderPort));
        assert.match(
          output(),
          new RegExp(`Redis Commander.*http://127\\.0\\.0\\.1:${commanderPort}`),
        );
        assert.ok(
          !output().includes(connection.commander!.password),
          "the output shows the password",
        );
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
            env: {
              CONF_DIR: path.join(dir, "redis-0", "conf"),
              DATA_DIR: path.join(dir, "redis-0", "data"),
            },
            host: "127.0.0.1",
            announced: "localhost",
          },
        ]);
        process.kill(node.pid, "SIGKILL");
        await waitFor("processes.json naming the restarted redis-server", () => {
          const now = readProcesses(dir).processes[0];
          return now.pid !== node.pid && pidOn(basePort).includes(now.pid) ? true : undefined;
        });

        child.kill("SIGTERM");
        assert.equal(await exited, 0, output());
        assert.deepEqual(redisProcessesOn([basePort]), [], "no process is left behind");
        assert.equal(await commanderHealthy(commanderPort), false, "Commander stopped too");
        assert.deepEqual(
          fs.readdirSync(dir).filter((f) => f === "processes.json" || f === "sandbox.pid"),
          [],
          "processes.json and the lock are removed on stop",
        );
        assert.throws(() => readProcesses(dir), /no running sandbox in /);
      } finally {
        sandbox?.kill();
        killRedisOn([basePort]);
        killCommanderIn(dir);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("prod stack (sentinel group): the roles in connection.json, every process in processes.json, the group in the monitor", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-sandbox-"));
    let sandbox: Awaited<ReturnType<typeof runSandboxCommand>> | undefined;
    const basePort = await freeBasePort(3);
    const ports = [0, 1, 2].flatMap((i) => [basePort + i, basePort + 20000 + i]);
    try {
      sandbox = await runSandboxCommand(
        ["--stack", "prod", "--base-port", String(basePort)],
        dir,
        60_000,
      );
      const { child, exited, file, connection } = sandbox;
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

      const running0 = readProcesses(dir).processes[0].pid;
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

      // The drill restarts every node of the running sandbox, the master handing over first.
      const drill = spawnSync(
        "npm",
        ["run", "--silent", "drill", "--", "rolling-restart", "--dir", dir],
        {
          cwd: ROOT,
          encoding: "utf8",
          timeout: 120_000,
        },
      );
      assert.equal(drill.status, 0, drill.stderr + drill.stdout);
      const drillLines = drill.stdout.trim().split("\n");
      assert.deepEqual(
        drillLines.map((l) => l.split(" ")[0]),
        ["redis-2", "redis-1", "redis-0"],
      );
      // A sentinel that does not know a good replica yet refuses (NOGOODSLAVE); the hook asks the
      // next one, and its output says so before the failover.
      assert.match(
        drillLines[2],
        /^redis-0 \(master\): pre-stop [\d.]+ s \((?:localhost:\d+: NOGOODSLAVE [^;]*; pre-stop: )*failed over to localhost \d+; stopping\), stopped in [\d.]+ s, ready [\d.]+ s after its restart$/,
      );
      assert.notEqual(
        Number(readProcesses(dir).processes[0].pid),
        running0,
        "redis-0 runs as a new process",
      );

      child.kill("SIGTERM");
      assert.equal(await exited, 0, sandbox.output());
      assert.deepEqual(redisProcessesOn(ports), [], "no process is left behind");
    } finally {
      sandbox?.kill();
      killRedisOn(ports);
      killCommanderIn(dir);
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

  it("--isolation takes loopback or pods, and pods has no --base-port: exit 2 naming the option", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-sandbox-"));
    try {
      const sandbox = (...extra: string[]) =>
        npmRun(["sandbox", "--", "--stack", "prod", "--dir", dir, ...extra]);
      const unknown = sandbox("--isolation", "containers");
      assert.equal(unknown.status, 2);
      assert.match(unknown.stderr, /--isolation "containers": must be one of loopback, pods\./);
      const both = sandbox("--isolation", "pods", "--base-port", "7001");
      assert.equal(both.status, 2);
      assert.match(both.stderr, /--base-port applies to --isolation loopback only/);
      assert.deepEqual(fs.readdirSync(dir), [], "nothing was started or written");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
