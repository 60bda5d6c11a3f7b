import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadStackConfig } from "../../config/stack-file";
import { withAdmin } from "../../lib/redis-clients";
import { currentMasterNode } from "../../sandbox/drills/failover";
import {
  RecreatePodResult,
  recreateFailures,
  recreatePodDrill,
  sandboxRecreateTarget,
} from "../../sandbox/drills/recreate-pod";
import { leftovers, podsUnsupported } from "../../sandbox/runtime/pod-network";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { SandboxProcess } from "../../sandbox/process-list";

/**
 * Pods mode: pods deleted and created again at a new address, as Kubernetes recreates a pod of a
 * StatefulSet (`npm run drill -- recreate-pod`). Root only; pending otherwise, with the reason.
 */
const unsupported = podsUnsupported();
const root = path.resolve(__dirname, "../..");

/** `npm run drill -- ARGS` in another process, as an operator runs it against the sandbox. */
function drill(...args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "scripts/drill.ts", ...args],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

/** The line of the hosts file another pod's container reads for `name`. */
function hostsLineSeenBy(sandbox: Sandbox, reader: string, name: string): string | undefined {
  const exec = sandbox.pods!.get(reader)!.exec.prefix;
  const r = spawnSync(exec[0], [...exec.slice(1), "cat", "/etc/hosts"], { encoding: "utf8" });
  return r.stdout.split("\n").find((l) => l.split(/\s+/).slice(1).includes(name));
}

/** The sentinel's id, from the state file in its claim: kept across a recreation. */
function sentinelId(s: SandboxProcess): string {
  const state = fs.readFileSync(path.join(s.dataDir, "sentinel.conf"), "utf8");
  const id = /^sentinel myid (\w+)$/m.exec(state)?.[1];
  assert.ok(id, `no sentinel myid in ${s.dataDir}/sentinel.conf`);
  return id;
}

describe("pods mode: a pod recreated at a new address (recreate-pod)", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;
  let networkId = "";

  before(async function () {
    if (unsupported) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-recreate-"));
    sandbox = await startSandbox(loadStackConfig("prod"), { dir, isolation: "pods" });
    networkId = sandbox.network!.id;
  });

  after(async () => {
    await sandbox?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(function () {
    if (unsupported) {
      this.test!.title += ` (skipped: ${unsupported})`;
      this.skip();
    }
  });

  /** Every expectation of a recreation, with the drill's own verdict. */
  function assertRecreated(r: RecreatePodResult): void {
    assert.deepEqual(recreateFailures(r), []);
    assert.notEqual(r.newIp, r.oldIp);
    assert.equal(r.lost, 0);
    assert.ok(r.acknowledged > 0, "the writer wrote nothing: the check of lost writes is empty");
    const s = sandbox!;
    const p = [...s.nodes, ...s.sentinels].find((q) => q.name === r.pod)!;
    assert.equal(p.host, r.newIp);
    // Every other pod resolves its DNS name to the new address.
    for (const reader of [...s.nodes, ...s.sentinels].filter((q) => q.name !== r.pod))
      assert.match(
        hostsLineSeenBy(s, reader.name, p.announced) ?? "",
        new RegExp(`^${r.newIp}\\s`),
      );
    const contract = JSON.parse(fs.readFileSync(s.connectionFile, "utf8")) as typeof s.connection;
    const listed = [...contract.redis, ...contract.sentinels].map((e) => e.host);
    assert.ok(listed.includes(r.newIp) && !listed.includes(r.oldIp), listed.join(", "));
    assert.equal(contract.natMap?.[`${p.announced}:${p.port}`]?.host, r.newIp);
  }

  it("the master: its hook fails over, it comes back at a new address as a replica with its data, /conf made anew by the init container; 0 acknowledged writes lost", async () => {
    const s = sandbox!;
    const master = await currentMasterNode(s);
    // A file of the in-memory emptyDir: a new pod has a new one, filled by its init container.
    const marker = path.join(master.confDir, "marker-of-the-old-pod");
    fs.writeFileSync(marker, "");
    await withAdmin(s.connection, master, (c) => c.set("recreate:kept", "yes"));
    const r = await recreatePodDrill(sandboxRecreateTarget(s), "master");
    assertRecreated(r);
    assert.ok(r.wasMaster && r.failoverExpected);
    assert.notEqual(r.masterAfter, master.name);
    assert.equal(r.roleAfter, "slave");
    assert.ok(!fs.existsSync(marker), "the old pod's emptyDir survived");
    assert.ok(fs.existsSync(path.join(master.confDir, "redis.conf")), "no redis.conf in /conf");
    assert.equal(
      await withAdmin(s.connection, master, (c) => c.get("recreate:kept")),
      "yes",
      "the data volume was not kept",
    );
  });

  it("a replica: no failover, it rejoins at its new address", async () => {
    const s = sandbox!;
    const master = await currentMasterNode(s);
    const replica = s.nodes.find((n) => n !== master)!;
    const r = await recreatePodDrill(sandboxRecreateTarget(s), replica.name);
    assertRecreated(r);
    assert.ok(!r.failoverExpected);
    assert.equal(r.masterAfter, master.name);
    assert.equal(r.epochAfter, r.epochBefore);
    assert.equal(r.roleAfter, "slave");
  });

  it("a sentinel: no failover, the same sentinel (its state volume kept) back in every other sentinel's view", async () => {
    const s = sandbox!;
    const sentinel = s.sentinels[1];
    const id = sentinelId(sentinel);
    const r = await recreatePodDrill(sandboxRecreateTarget(s), sentinel.name);
    assertRecreated(r);
    assert.equal(r.epochAfter, r.epochBefore);
    assert.equal(sentinelId(sentinel), id);
  });

  it("npm run drill -- recreate-pod --pod master --gone 30 --no-pre-stop (a node lost, its pod Pending): the sentinels fail over while its name resolves nowhere; it rejoins as a replica; exit 0", async function () {
    this.timeout(180_000);
    const run = await drill(
      "recreate-pod",
      "--dir",
      dir,
      "--pod",
      "master",
      "--gone",
      "30",
      "--no-pre-stop",
    );
    assert.equal(run.status, 0, run.output);
    assert.match(
      run.output,
      /^recreate-pod redis-\d \(master\): \S+ -> \S+, gone 3\d\.\d s, .* as a replica; failover redis-\d -> redis-\d .*; 0 of \d+ acknowledged writes lost$/m,
    );
    const logs = s()
      .sentinels.map((p) => fs.readFileSync(p.logFile, "utf8"))
      .join("\n");
    assert.match(logs, /Failed to resolve hostname/, "the name resolved all along");
    const bad = await drill("recreate-pod", "--dir", dir, "--pod", "master", "--gone", "soon");
    assert.equal(bad.status, 2);
    assert.match(bad.output, /--gone "soon": must be a whole number of seconds/);
  });

  it("stop removes every namespace, link and mount, the recreated pods' included", async () => {
    const sb = s();
    assert.ok(leftovers(networkId).length > 0, "nothing to remove: the check would pass anyway");
    await sb.stop();
    sandbox = undefined;
    assert.deepEqual(leftovers(networkId), []);
  });

  const s = () => sandbox!;
});
