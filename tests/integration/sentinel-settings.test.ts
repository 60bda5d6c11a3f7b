import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ResolvedConfig } from "../../config/resolve";
import { sentinelClient } from "../../lib/redis-clients";
import { sentinelPlainFiles } from "../../render/files";
import { failoverDrill } from "../../sandbox/drills/failover";
import { SandboxProcess } from "../../sandbox/process-list";
import { podsUnsupported } from "../../sandbox/runtime/pod-network";
import { ISOLATIONS, Sandbox, startSandbox } from "../../sandbox/sandbox";
import { PROD, resolve } from "../helpers/config";
import { freeBasePort } from "../helpers/ports";

/** A flat Redis reply of field/value pairs as an object. */
function fieldsOf(reply: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) fields[reply[i]] = reply[i + 1];
  return fields;
}

/** What one sentinel reports on the master it monitors, and the peers it knows. */
async function sentinelView(sandbox: Sandbox, sentinel: SandboxProcess) {
  const client = sentinelClient(sandbox.connection, sentinel);
  const name = sandbox.config.sentinel.masterName;
  try {
    const master = fieldsOf((await client.call("SENTINEL", "MASTER", name)) as string[]);
    const peers = ((await client.call("SENTINEL", "SENTINELS", name)) as string[][]).map(fieldsOf);
    return { master, peers: peers.map((p) => `${p.ip}:${p.port}`).sort() };
  } finally {
    client.disconnect();
  }
}

/** How the group names every sentinel but `sentinel` ("host:port", sorted). */
const othersOf = (sandbox: Sandbox, sentinel: SandboxProcess) =>
  sandbox.sentinels
    .filter((s) => s !== sentinel)
    .map((s) => `${s.announced}:${s.port}`)
    .sort();

const stateFileOf = (sentinel: SandboxProcess) => path.join(sentinel.dataDir, "sentinel.conf");

const unsupported = podsUnsupported();

describe("sentinel settings: every start applies the rendered ones to the state Sentinel keeps", function () {
  this.timeout(300_000);
  let dir: string;
  let basePort: number;
  let sandbox: Sandbox | undefined;

  const start = async (cfg: ResolvedConfig) => {
    sandbox = await startSandbox(cfg, { dir, basePort });
    return sandbox;
  };
  const stop = async () => {
    await sandbox?.stop();
    sandbox = undefined;
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-sentinel-settings-"));
    basePort = await freeBasePort(5);
  });

  afterEach(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a restart on the same DIR with a changed down-after, failover-timeout and quorum: every sentinel reports the new values, keeps its identity and peers, and fails over with them", async () => {
    const before = await start(resolve({ ...PROD, downAfterMs: 5000 }, "settings"));
    const { masterName } = before.config.sentinel;
    await stop();
    // A state file holding a setting the config does not render (as SENTINEL SET leaves it).
    const states = before.sentinels.map(stateFileOf);
    fs.appendFileSync(states[0], `sentinel parallel-syncs ${masterName} 2\n`);
    const myid = (state: string) =>
      fs.readFileSync(state, "utf8").match(/^sentinel myid .*$/m)?.[0];
    const ids = states.map(myid);
    assert.ok(
      ids.every((id) => id !== undefined),
      "every state file has Sentinel's id",
    );

    const after = await start(
      resolve({ ...PROD, downAfterMs: 3000, failoverTimeoutMs: 12000, quorum: 3 }, "settings"),
    );
    for (const sentinel of after.sentinels) {
      const { master, peers } = await sentinelView(after, sentinel);
      const reported = {
        quorum: master.quorum,
        downAfter: master["down-after-milliseconds"],
        failoverTimeout: master["failover-timeout"],
        parallelSyncs: master["parallel-syncs"],
      };
      assert.deepEqual(
        reported,
        { quorum: "3", downAfter: "3000", failoverTimeout: "12000", parallelSyncs: "1" },
        sentinel.name,
      );
      // What Sentinel learnt is kept: its peers (known before any hello), its replicas.
      assert.deepEqual(peers, othersOf(after, sentinel), sentinel.name);
      assert.equal(master["num-slaves"], "2", sentinel.name);
    }
    assert.deepEqual(states.map(myid), ids, "each sentinel keeps its id");

    const drill = await failoverDrill(after, {
      keyPrefix: "settings",
      writesBeforeKill: 20,
      writesAfter: 20,
    });
    assert.notEqual(drill.newMasterNode, drill.killedNode, JSON.stringify(drill));
    assert.equal(drill.lost, 0, JSON.stringify(drill));
  });

  for (const isolation of ISOLATIONS)
    it(`${isolation}: five sentinels and three nodes reduced to three and two: each sentinel knows the two live peers and one replica only, and two of the three sentinels (a majority) fail over`, async function () {
      if (isolation === "pods" && unsupported) {
        this.test!.title += ` (skipped: ${unsupported})`;
        this.skip();
      }
      const shrink = (sentinels: number, replicas: number) =>
        startSandbox(resolve({ ...PROD, sentinels, replicas }, "shrink"), {
          dir,
          basePort,
          isolation,
        }).then((s) => (sandbox = s));
      const large = await shrink(5, 3);
      for (const sentinel of large.sentinels)
        assert.equal((await sentinelView(large, sentinel)).master["num-other-sentinels"], "4");
      await stop();

      const small = await shrink(3, 2);
      for (const sentinel of small.sentinels) {
        const { master, peers } = await sentinelView(small, sentinel);
        assert.equal(master["num-other-sentinels"], "2", sentinel.name);
        assert.deepEqual(peers, othersOf(small, sentinel), sentinel.name);
        assert.equal(master["num-slaves"], "1", sentinel.name);
      }
      for (const sentinel of small.sentinels) {
        const state = fs.readFileSync(stateFileOf(sentinel), "utf8");
        assert.equal(state.match(/^sentinel known-sentinel /gm)?.length, 2, sentinel.name);
      }

      // With the forgotten peers still counted, a failover would need 3 of 5 votes: two cannot.
      await small.supervisor.pause("sentinel-2");
      try {
        const drill = await failoverDrill(small, {
          keyPrefix: "shrink",
          writesBeforeKill: 20,
          writesAfter: 20,
        });
        assert.notEqual(drill.newMasterNode, drill.killedNode, JSON.stringify(drill));
        assert.equal(drill.lost, 0, JSON.stringify(drill));
      } finally {
        small.supervisor.resume("sentinel-2");
      }
    });
});

describe("start-sentinel.sh on a state file: the same rewrite under busybox sh (its awk and grep) and dash", () => {
  const cfg = resolve(
    { ...PROD, sentinels: 3, replicas: 2, quorum: 3, downAfterMs: 3000 },
    "shrink",
  );
  const name = cfg.sentinel.masterName;
  const state = [
    "port 26379",
    `sentinel monitor ${name} n-1.x 6379 2`,
    `sentinel down-after-milliseconds ${name} 5000`,
    `sentinel parallel-syncs ${name} 2`,
    "sentinel myid 0123",
    "sentinel current-epoch 7",
    `sentinel known-replica ${name} n-0.x 6379`,
    `sentinel known-replica ${name} n-2.x 6379`,
    `sentinel known-sentinel ${name} s-1.x 26379 aaaa`,
    `sentinel known-sentinel ${name} s-3.x 26379 bbbb`,
    `sentinel known-sentinel ${name} s-4.x 26379 cccc`,
    "user old on #0000 ~* +@all",
    "",
  ].join("\n");

  const BUSYBOX = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();

  for (const shell of ["busybox", "dash"] as const)
    it(`${shell}: the quorum and the rendered settings replace the state's; peers and replicas no longer deployed are dropped; the rest is kept`, () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-sentinel-state-"));
      try {
        const [conf, data, bin] = ["conf", "data", "bin"].map((d) => path.join(root, d));
        for (const d of [conf, data, bin]) fs.mkdirSync(d);
        for (const [file, text] of Object.entries(sentinelPlainFiles(cfg)))
          fs.writeFileSync(path.join(conf, file), text);
        fs.writeFileSync(path.join(conf, "sentinel-secrets.conf"), "user new on #1111 ~* +@all\n");
        fs.writeFileSync(path.join(data, "sentinel.conf"), state);
        // Sentinel itself stands in: it shows the state file it would start from.
        fs.writeFileSync(path.join(bin, "redis-sentinel"), '#!/bin/sh\ncat "$1"\n', {
          mode: 0o755,
        });
        const env: Record<string, string> = {
          CONF_DIR: conf,
          STATE_DIR: data,
          NODE_HOST: "s-0.x",
          SENTINELS: "s-0.x:26379 s-1.x:26379 s-2.x:26379",
          NODES: "n-0.x:6379 n-1.x:6379",
          DEFAULT_MASTER: "n-0.x 6379",
          PATH: `${bin}:/usr/bin:/bin`,
        };
        if (shell === "busybox") {
          // Only busybox's tools, as in the alpine image.
          for (const tool of ["awk", "grep", "cat", "mv", "chmod", "mkdir"])
            fs.symlinkSync(BUSYBOX, path.join(bin, tool));
          env.PATH = bin;
        }
        const argv = shell === "busybox" ? [BUSYBOX, "sh"] : ["dash"];
        const run = spawnSync(argv[0], [...argv.slice(1), path.join(conf, "start-sentinel.sh")], {
          env,
          encoding: "utf8",
        });
        assert.equal(run.status, 0, run.stderr);
        const lines = run.stdout.split("\n");
        const has = (line: string) => lines.includes(line);
        for (const kept of [
          "port 26379",
          `sentinel monitor ${name} n-1.x 6379 3`,
          "sentinel myid 0123",
          "sentinel current-epoch 7",
          `sentinel known-replica ${name} n-0.x 6379`,
          `sentinel known-sentinel ${name} s-1.x 26379 aaaa`,
          `sentinel down-after-milliseconds ${name} 3000`,
          `sentinel failover-timeout ${name} ${cfg.sentinel.failoverTimeoutMs}`,
          `sentinel parallel-syncs ${name} 1`,
          "user new on #1111 ~* +@all",
        ])
          assert.ok(has(kept), `${kept} missing from:\n${run.stdout}`);
        for (const dropped of [
          `sentinel monitor ${name} n-1.x 6379 2`,
          `sentinel down-after-milliseconds ${name} 5000`,
          `sentinel parallel-syncs ${name} 2`,
          `sentinel known-replica ${name} n-2.x 6379`,
          `sentinel known-sentinel ${name} s-3.x 26379 bbbb`,
          `sentinel known-sentinel ${name} s-4.x 26379 cccc`,
          "user old on #0000 ~* +@all",
        ])
          assert.ok(!has(dropped), `${dropped} kept in:\n${run.stdout}`);
        assert.equal(lines.filter((l) => l.startsWith("sentinel monitor ")).length, 1);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
});
