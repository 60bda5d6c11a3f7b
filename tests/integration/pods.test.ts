import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { ResolvedConfig } from "../../config/resolve";
import { loadStackConfig } from "../../config/stack-file";
import { ioredisOptions } from "../../render/client-options";
import { commanderHealthy } from "../../sandbox/runtime/commander";
import { rollingRestart, sandboxDrillTarget } from "../../sandbox/drills/drill";
import { failoverDrill } from "../../sandbox/drills/failover";
import {
  partitionMaster,
  partitionReplica,
  sandboxPartitionTarget,
} from "../../sandbox/drills/partition";
import { leftovers, podsUnsupported } from "../../sandbox/runtime/pod-network";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { readProcesses } from "../../sandbox/contract";
import { PROD, resolve } from "../helpers/config";
import { exercisePlatform } from "../helpers/platform";
import { waitFor } from "../helpers/wait";

/**
 * Pods mode (`--isolation pods`): root only. For other users these tests are reported as pending,
 * with the reason; the loopback-mode tests cover the same scripts.
 */
const unsupported = podsUnsupported();

function skipUnlessPods(this: Mocha.Context): void {
  if (unsupported) {
    this.test!.title += ` (skipped: ${unsupported})`;
    this.skip();
  }
}

/** Runs argv (a container's exec prefix and a command); its status and output. */
function runIn(argv: readonly string[]): { status: number | null; output: string } {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 15_000 });
  return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

const inNetns = (netns: string, ...args: string[]) =>
  spawnSync("ip", ["netns", "exec", netns, ...args], { encoding: "utf8" }).stdout;

/** The mount table of a process (its own view), as [mount point, options, fs type] rows. */
function mountsOf(pid: number): Array<{ point: string; options: string; type: string }> {
  return fs
    .readFileSync(`/proc/${pid}/mountinfo`, "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const [before, after] = line.split(" - ");
      const fields = before.split(" ");
      return { point: fields[4], options: fields[5], type: after.split(" ")[0] };
    });
}

describe("pods mode: the prod stack's StatefulSets, each pod in a network namespace of its own", function () {
  let cfg: ResolvedConfig;
  let dir: string;
  let sandbox: Sandbox | undefined;
  let networkId = "";

  before(async function () {
    if (unsupported) return;
    cfg = loadStackConfig("prod");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-pods-"));
    sandbox = await startSandbox(cfg, { dir, isolation: "pods" });
    networkId = sandbox.network!.id;
  });

  after(async () => {
    await sandbox?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(skipUnlessPods);

  it("runs every node and sentinel as uid 999 at its pod's address, with POD_IP and POD_NAME as the manifest sets them", () => {
    const s = sandbox!;
    const hostNet = fs.readlinkSync("/proc/self/ns/net");
    const seen = new Set<string>();
    for (const [i, p] of [...s.nodes, ...s.sentinels].entries()) {
      const pid = s.supervisor.pid(p.name)!;
      const net = fs.readlinkSync(`/proc/${pid}/ns/net`);
      assert.notEqual(net, hostNet, `${p.name} runs in the host's network namespace`);
      assert.ok(!seen.has(net), `${p.name} shares a network namespace`);
      seen.add(net);
      const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      assert.match(status, /^Uid:\s+999\s+999\s+999\s+999$/m, `${p.name} uid`);
      assert.match(status, /^Gid:\s+999\s+999\s+999\s+999$/m, `${p.name} gid`);
      assert.match(status, /^Groups:\s+999\s*$/m, `${p.name}: fsGroup as its only group`);
      const pod = s.network!.get(p.name);
      assert.equal(p.host, pod.ip);
      assert.match(
        inNetns(pod.netns, "ip", "-4", "-o", "addr", "show", "eth0"),
        new RegExp(` ${pod.ip.replace(/\./g, "\\.")}/24 `),
      );
      // The environment the manifest gives the container (Redis rewrites its own environ area).
      const env = s.pods!.get(p.name)!.exec.env;
      const ordinal = i < s.nodes.length ? i : i - s.nodes.length;
      const statefulSet = p.kind === "redis" ? "lowcode-redis" : "lowcode-redis-sentinel";
      assert.equal(env.POD_IP, pod.ip, `${p.name} POD_IP`);
      assert.equal(env.POD_NAME, `${statefulSet}-${ordinal}`, `${p.name} POD_NAME`);
      assert.equal(
        env.NODE_HOST,
        `${statefulSet}-${ordinal}.${statefulSet}-headless.lowcode.svc.cluster.local`,
      );
      assert.equal(p.announced, env.NODE_HOST);
      const echoed = runIn([
        ...s.pods!.get(p.name)!.exec.prefix,
        "sh",
        "-c",
        'echo "$POD_IP $POD_NAME"',
      ]);
      assert.equal(echoed.output.trim(), `${pod.ip} ${statefulSet}-${ordinal}`);
    }
  });

  it("the nodes announce themselves by their pod DNS names (replica-announce-ip from NODE_HOST)", async () => {
    const s = sandbox!;
    const master = s.nodes.find(
      (n) => n.host === s.connection.redis.find((r) => r.role === "master")!.host,
    )!;
    const admin = new Redis({
      host: master.host,
      port: master.port,
      ...s.connection.users.admin,
      lazyConnect: true,
    });
    try {
      await admin.connect();
      const info = await admin.info("replication");
      const announced = [...info.matchAll(/^slave\d+:ip=([^,]+),port=(\d+)/gm)]
        .map((m) => `${m[1]}:${m[2]}`)
        .sort();
      assert.deepEqual(
        announced,
        s.nodes
          .filter((n) => n !== master)
          .map((n) => `${n.announced}:${n.port}`)
          .sort(),
      );
    } finally {
      admin.disconnect();
    }
  });

  it("binds 127.0.0.1 and the pod's own address, nothing else (the production bind, for real)", () => {
    const s = sandbox!;
    for (const p of [...s.nodes, ...s.sentinels]) {
      const pod = s.network!.get(p.name);
      const listening = inNetns(pod.netns, "busybox", "netstat", "-lnt")
        .split("\n")
        .filter((l) => l.includes("LISTEN"))
        .map((l) => l.trim().split(/\s+/)[3])
        .sort();
      assert.deepEqual(listening, [`${pod.ip}:${p.port}`, `127.0.0.1:${p.port}`].sort(), p.name);
    }
    assert.ok(
      !s.connection.deviations.some((d) => d.startsWith("bind")),
      "no bind deviation in pods mode",
    );
  });

  it("lays the volumes out as kubelet does: ConfigMap and Secret behind ..data links, read-only; /conf in memory; the claim group-owned by fsGroup", () => {
    const s = sandbox!;
    const node = s.nodes[0];
    const volumes = path.join(dir, "pods", node.name, "volumes");
    for (const volume of ["config", "secret"]) {
      const data = fs.readlinkSync(path.join(volumes, volume, "..data"));
      assert.match(data, /^\.\.\d{4}_\d\d_\d\d_/, `${volume}: ..data points at a timestamped dir`);
      const entries = fs.readdirSync(path.join(volumes, volume)).filter((e) => !e.startsWith(".."));
      assert.ok(entries.length > 0);
      for (const entry of entries) {
        assert.equal(fs.readlinkSync(path.join(volumes, volume, entry)), `..data/${entry}`);
        const st = fs.statSync(path.join(volumes, volume, entry));
        assert.equal(st.mode & 0o777, 0o440, `${volume}/${entry}: defaultMode 0400 + fsGroup read`);
        assert.equal(st.gid, 999);
      }
    }
    const pid = s.supervisor.pid(node.name)!;
    const mounts = mountsOf(pid);
    const conf = mounts.find((m) => m.point === "/conf");
    assert.equal(conf?.type, "tmpfs", "/conf is an in-memory emptyDir");
    assert.ok(
      mounts.some((m) => m.point === "/data"),
      "/data is the claim",
    );
    assert.ok(
      !mounts.some((m) => m.point.startsWith("/etc/redis")),
      "the Redis container does not mount the ConfigMap or Secret (only the init container does)",
    );
    // The init container's root keeps its mounts in the pod's mount namespace: read-only sources.
    const podMounts = spawnSync(
      "nsenter",
      [`--mount=${s.network!.get(node.name).mountNs}`, "cat", "/proc/self/mountinfo"],
      { encoding: "utf8" },
    ).stdout;
    for (const source of ["/etc/redis-config", "/etc/redis-secret"]) {
      const line = podMounts
        .split("\n")
        .find((l) => l.split(" ")[4]?.endsWith(`/roots/config${source}`));
      assert.ok(line, `${source} mounted in the init container`);
      assert.match(line!.split(" ")[5], /(^|,)ro(,|$)/, `${source} is read-only`);
    }
    const copied = fs.readdirSync(node.confDir).sort();
    assert.ok(
      copied.includes("redis.conf") && copied.includes("users.acl"),
      "prepare.sh copied the files",
    );
    for (const file of copied) {
      const st = fs.statSync(path.join(node.confDir, file));
      assert.equal(st.uid, 999, `${file} written by uid 999`);
    }
    const claim = fs.statSync(node.dataDir);
    assert.equal(claim.gid, 999);
    assert.equal(claim.mode & 0o2070, 0o2070, "setgid, group rwx");
  });

  it("every pod resolves every pod's DNS name from its hosts file, and reaches nothing outside the subnet", () => {
    const s = sandbox!;
    const subnet = `${s.network!.subnet}.0/24`;
    for (const p of [...s.nodes, ...s.sentinels]) {
      const exec = s.pods!.get(p.name)!.exec.prefix;
      for (const peer of [...s.nodes, ...s.sentinels]) {
        const r = runIn([
          ...exec,
          "redis-cli",
          "-h",
          peer.announced,
          "-p",
          String(peer.port),
          "ping",
        ]);
        assert.match(r.output, /NOAUTH/, `${p.name} -> ${peer.announced}: ${r.output}`);
      }
      const outside = runIn([...exec, "redis-cli", "-h", "192.0.2.1", "-p", "6379", "ping"]);
      assert.match(outside.output, /Network is unreachable/, `${p.name}: ${outside.output}`);
      const routes = inNetns(s.network!.get(p.name).netns, "ip", "-4", "route").trim().split("\n");
      assert.deepEqual(
        routes.map((r) => r.split(" ")[0]),
        [subnet],
        `${p.name}: the subnet is its only route`,
      );
    }
  });

  it("serves the platform use cases through the sentinels to a host client (natMap of connection.json)", async () => {
    const c = sandbox!.connection;
    assert.ok(c.natMap, "connection.json maps the announced names");
    for (const r of c.redis) assert.ok(r.host.startsWith(sandbox!.network!.subnet));
    const client = new Redis(ioredisOptions(c, "app"));
    try {
      await client.connect();
      assert.equal(await client.ping(), "PONG");
    } finally {
      client.disconnect();
    }
    await exercisePlatform(c);
  });

  it("Commander and the backup run in pods of their own: Commander answers at its pod's address, the contract's backup script takes a backup", async () => {
    const s = sandbox!;
    const commander = s.network!.get("commander");
    assert.equal(s.connection.commander?.url, `http://${commander.ip}:${cfg.commander.port}`);
    assert.ok(await commanderHealthy(cfg.commander.port, commander.ip));
    const backup = spawnSync("sh", [s.connection.backup!.script], { encoding: "utf8" });
    assert.equal(backup.status, 0, backup.stderr);
    assert.match(backup.stdout, /backup ok: .* from lowcode-redis-\d\.lowcode-redis-headless/);
  });

  it("kill -9 of the master: failover, no acknowledged write lost", async () => {
    const result = await failoverDrill(sandbox!, { keyPrefix: "pods:failover", writesAfter: 30 });
    assert.equal(result.lost, 0, `lost ${result.lost} of ${result.acknowledged}`);
    assert.notEqual(result.newMasterNode, result.killedNode);
  });

  it("a rolling restart runs the manifest's pre-stop hook and readiness probe inside the containers", async () => {
    const results = await rollingRestart(sandboxDrillTarget(sandbox!));
    assert.equal(results.length, 3);
    const master = results.find((r) => r.wasMaster);
    assert.ok(master, "the master was restarted too");
    assert.match(
      master.preStop,
      /failed over to lowcode-redis-\d\.lowcode-redis-headless\./,
      master.preStop,
    );
  });

  it("partition of the master (production default): it refuses writes, the majority fails over, after the heal one master and 0 acknowledged writes lost", async () => {
    const r = await partitionMaster(sandboxPartitionTarget(sandbox!));
    assert.equal(r.minReplicasToWrite, 1);
    assert.equal(r.acknowledgedLost, 0, `lost ${r.acknowledgedLost} of ${r.acknowledged}`);
    assert.ok(r.acknowledged > 0);
    assert.notEqual(r.newMaster, r.master);
    assert.ok(r.refusedAfterMs !== undefined, "the isolated master never refused a write");
    // Redis counts a replica's lag in whole seconds and refreshes the count of good replicas
    // once a second: refusal comes between max-lag and max-lag + 2 s after the last ACK.
    assert.ok(
      r.refusedAfterMs <= (r.minReplicasMaxLagS + 2) * 1000,
      `refused ${r.refusedAfterMs} ms after the cut (max-lag ${r.minReplicasMaxLagS} s)`,
    );
    assert.ok(r.refusedAfterMs >= (r.minReplicasMaxLagS - 1) * 1000, "refused too early");
    assert.ok(r.refused > 0);
  });

  it("a replica partitioned until both ends drop the link resynchronises after the heal and holds every write", async () => {
    const r = await partitionReplica(sandboxPartitionTarget(sandbox!), { replTimeoutS: 4 });
    assert.ok(r.linkDropped);
    assert.ok(r.writesWhileCut > 0, "no write while the replica was cut off");
    // Partial when the stream of the cut fits in repl-backlog-size (32mb by default), else full.
    const backlogBytes = cfg.redis.replicationBuffers.backlogMb * 1024 ** 2;
    const fits = r.streamBytesWhileCut < backlogBytes;
    assert.deepEqual(
      { partial: r.partialResyncs, full: r.fullResyncs },
      fits ? { partial: 1, full: 0 } : { partial: 0, full: 1 },
      `${r.streamBytesWhileCut} bytes of stream in the cut, backlog ${backlogBytes}`,
    );
    assert.ok(fits, `the cut's ${r.streamBytesWhileCut} bytes fit the default backlog`);
    assert.equal(r.missingOnReplica, 0);
    assert.equal(r.lost, 0);
  });

  it("npm run drill -- partition --target sentinel on the running sandbox: exit 0, no failover; an unknown target exits 2", () => {
    const root = path.resolve(__dirname, "../..");
    const drill = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [
          "-r",
          "ts-node/register/transpile-only",
          "scripts/drill.ts",
          "partition",
          "--dir",
          dir,
          ...args,
        ],
        { cwd: root, encoding: "utf8", timeout: 120_000 },
      );
    const run = drill("--target", "sentinel");
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /^partition sentinel: sentinel-0 alone for [\d.]+ s, saw the master down, no failover \(redis-\d, epoch \d+\)$/m,
    );
    const bad = drill("--target", "bridge");
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--target "bridge": must be one of master, sentinel, replica/);
  });

  it("stop removes every namespace, link and mount of the sandbox", async () => {
    const s = sandbox!;
    const pids = [...s.nodes, ...s.sentinels].map((p) => s.supervisor.pid(p.name)!);
    assert.ok(leftovers(networkId).length > 0, "nothing to remove: the check would pass anyway");
    await s.stop();
    sandbox = undefined;
    assert.deepEqual(leftovers(networkId), []);
    for (const pid of pids) assert.ok(!fs.existsSync(`/proc/${pid}`), `pid ${pid} still runs`);
  });
});

describe("pods mode, minReplicasToWrite 0: what a client beside an isolated master loses; a restart on the same --dir", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;

  before(async function () {
    if (unsupported) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-pods0-"));
    sandbox = await startSandbox(resolve({ ...PROD, minReplicasToWrite: 0 }, "prod"), {
      dir,
      isolation: "pods",
    });
  });

  after(async () => {
    await sandbox?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(skipUnlessPods);

  it("the isolated master accepts writes the whole partition long; every one is lost at the heal, no acknowledged one", async () => {
    const r = await partitionMaster(sandboxPartitionTarget(sandbox!));
    assert.equal(r.minReplicasToWrite, 0);
    assert.equal(r.refusedAfterMs, undefined, "refused a write without min-replicas-to-write");
    assert.ok(r.acceptedUnacknowledged > 10, `accepted ${r.acceptedUnacknowledged}`);
    assert.equal(
      r.acceptedLost,
      r.acceptedUnacknowledged,
      "the old master's writes survived the rejoin",
    );
    assert.equal(r.acknowledgedLost, 0);
  });

  it("stopped and started again on the same --dir: the same master, the data kept, the pods' volumes made anew", async () => {
    const write = new Redis(ioredisOptions(sandbox!.connection, "app", 2));
    let master: string;
    try {
      await write.connect();
      await write.set("component:kept", "v1");
      assert.ok(((await write.call("WAIT", "1", "2000")) as number) >= 1, "a replica holds it");
      master = (await sandboxDrillTarget(sandbox!).master())!;
    } finally {
      write.disconnect();
    }
    await sandbox!.stop();
    sandbox = await startSandbox(resolve({ ...PROD, minReplicasToWrite: 0 }, "prod"), {
      dir,
      isolation: "pods",
    });
    assert.equal(await sandboxDrillTarget(sandbox).master(), master, "the same master");
    const read = new Redis(ioredisOptions(sandbox.connection, "app", 2));
    try {
      await read.connect();
      assert.equal(await read.get("component:kept"), "v1");
    } finally {
      read.disconnect();
    }
  });
});

describe("pods mode: a crash of the sandbox leaves nothing behind", function () {
  let dir: string;
  beforeEach(skipUnlessPods);
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("kill -9 of `npm run sandbox`: the janitor removes every namespace, link and mount, and the processes go", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-pods-crash-"));
    const root = path.resolve(__dirname, "../..");
    const child = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        "scripts/sandbox.ts",
        "--stack",
        "prod",
        "--dir",
        dir,
        "--isolation",
        "pods",
      ],
      { cwd: root, stdio: "ignore" },
    );
    const exited = new Promise((r) => child.once("exit", r));
    try {
      await waitFor(
        "connection.json",
        () => (fs.existsSync(path.join(dir, "connection.json")) ? true : undefined),
        90_000,
        200,
      );
      const processes = readProcesses(dir);
      const id = processes.pods!.id;
      const pids = processes.processes.map((p) => p.pid);
      assert.ok(leftovers(id).length > 0);
      child.kill("SIGKILL");
      await exited;
      await waitFor(
        "nothing of the sandbox left",
        () =>
          leftovers(id).length === 0 && pids.every((pid) => !fs.existsSync(`/proc/${pid}`))
            ? true
            : undefined,
        20_000,
        100,
      );
    } finally {
      child.kill("SIGKILL");
    }
  });
});
