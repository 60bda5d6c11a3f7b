import { strict as assert } from "node:assert";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { nodePlainFiles, nodeSecretFiles, sentinelPlainFiles } from "../../render/files";
import { renderPrepareScript } from "../../render/kubernetes";
import { backupPlainFiles } from "../../render/backup";
import { SecretValues, redisServerArgs } from "../../render/redis-conf";
import { ResolvedConfig } from "../../config/resolve";
import { credentials } from "../../render/connection";
import { applyDeviations, detectDeviations } from "../../sandbox/runtime/capabilities";
import { loadOrCreateSecrets } from "../../sandbox/secrets";
import { DEV, PROD, PROD_STANDALONE, resolve } from "../helpers/config";
import { directClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

/** The shells the rendered scripts must run under: the official alpine image's and Debian's. */
const SHELLS = [["busybox", "sh"], ["dash"]] as const;

describe("rendered scripts: POSIX sh that busybox (alpine image) and dash both run", () => {
  it("every rendered script parses under busybox sh and dash", () => {
    for (const cfg of [resolve(DEV), resolve(PROD_STANDALONE), resolve(PROD)]) {
      const scripts: Record<string, string> = {
        ...Object.fromEntries(
          Object.entries({ ...nodePlainFiles(cfg), ...sentinelPlainFiles(cfg) }).filter(([f]) =>
            f.endsWith(".sh"),
          ),
        ),
        "prepare.sh": renderPrepareScript(cfg),
      };
      assert.ok(Object.keys(scripts).length >= 5);
      for (const [file, text] of Object.entries(scripts)) {
        for (const [shell, ...args] of SHELLS) {
          const run = spawnSync(shell, [...args, "-n"], { input: text, encoding: "utf8" });
          assert.equal(run.status, 0, `${shell} ${file} (${cfg.profile}): ${run.stderr}`);
        }
      }
    }
  });

  it("every rendered backup script (each topology, with off-site copies and an s3:// restore) parses under busybox sh and dash and is clean under shellcheck -s sh -S warning", () => {
    const offsite = resolve(
      {
        ...PROD_STANDALONE,
        backupS3Endpoint: "https://s3.example.com",
        backupS3Bucket: "lowcode-backups",
        backupS3AccessKeyId: { secure: "x" },
        backupS3SecretAccessKey: { secure: "x" },
        restoreFrom: "s3://lowcode-backups/redis/prod-20260101T020000Z.rdb",
      },
      "prod",
      ["backupS3AccessKeyId", "backupS3SecretAccessKey"],
    );
    // The scripts are the same on every target: what differs is in backup.env.
    const site = {
      backupDir: "/backup",
      nodes: "a:6379",
      sentinels: "b:26379",
      offsiteStep: "inline",
    } as const;
    let checked = 0;
    for (const cfg of [resolve(DEV), resolve(PROD_STANDALONE), resolve(PROD), offsite]) {
      const files = backupPlainFiles(cfg, site);
      for (const [file, text] of Object.entries(files).filter(([f]) => f.endsWith(".sh"))) {
        const label = `${file} (${cfg.profile}, ${cfg.topology})`;
        for (const [shell, ...args] of SHELLS) {
          const run = spawnSync(shell, [...args, "-n"], { input: text, encoding: "utf8" });
          assert.equal(run.status, 0, `${shell} ${label}: ${run.stderr}`);
        }
        const lint = spawnSync("shellcheck", ["-s", "sh", "-S", "warning", "-"], {
          input: text,
          encoding: "utf8",
        });
        assert.equal(lint.error, undefined, `shellcheck: ${lint.error?.message}`);
        assert.equal(lint.status, 0, `shellcheck ${label}:\n${lint.stdout}`);
        checked++;
      }
    }
    assert.equal(checked, 3 * 2 + 4, "backup.sh and restore.sh of each, offsite.sh and fetch.sh");
  });

  /**
   * SIGTERM, again each second (Redis 7.0 refuses to stop while it writes its first AOF after a
   * full sync: "Writing initial AOF, can't exit"), SIGKILL after 10 s.
   */
  async function stopCleanly(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const again = setInterval(() => child.kill("SIGTERM"), 1000);
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearInterval(again);
    clearTimeout(kill);
  }

  /**
   * Two plain servers, master and replica: the replica stops cleanly first, the master after one
   * more write, so their last RDBs record two replication offsets, the master's the newer.
   */
  async function recordedRdbs(root: string): Promise<{ older: string; newer: string }> {
    const [mPort, rPort] = [await freeBasePort(1), await freeBasePort(1)];
    const dirs = ["m", "r"].map((d) => fs.mkdirSync(path.join(root, d), { recursive: true })!);
    const servers = [
      spawn("redis-server", ["--port", String(mPort), "--dir", dirs[0], "--save", "900 1"], {
        stdio: "ignore",
      }),
      spawn(
        "redis-server",
        [
          "--port",
          String(rPort),
          "--dir",
          dirs[1],
          "--save",
          "900 1",
          "--replicaof",
          "127.0.0.1",
          String(mPort),
        ],
        { stdio: "ignore" },
      ),
    ];
    const [m, r] = [directClient(mPort), directClient(rPort)];
    for (const c of [m, r]) c.on("error", () => undefined);
    try {
      await waitFor("both servers up", async () => {
        for (const c of [m, r]) if (c.status === "wait" || c.status === "end") await c.connect();
        return (await m.ping()) === "PONG" && (await r.ping()) === "PONG" ? true : undefined;
      });
      await waitFor(
        "the replica linked",
        async () => /master_link_status:up/.test(await r.info("replication")) || undefined,
      );
      await m.set("older", "1");
      await waitFor(
        "the replica caught up",
        async () => (await r.get("older")) === "1" || undefined,
      );
      // SIGTERM: a clean stop, which writes the last RDB (save points are set).
      await stopCleanly(servers[1]);
      await m.set("newer", "1");
      await stopCleanly(servers[0]);
    } finally {
      m.disconnect();
      r.disconnect();
      for (const s of servers) if (s.exitCode === null) s.kill("SIGKILL");
    }
    return { older: path.join(dirs[1], "dump.rdb"), newer: path.join(dirs[0], "dump.rdb") };
  }

  interface ChoosingNode {
    readonly conf: string;
    readonly data: string;
    readonly port: number;
    readonly log: string;
  }

  /**
   * A group's nodes with the rendered files, each redis.conf ending with the `replicaof` line a
   * Sentinel rewrite leaves behind, and the given RDB (or no data) in each data dir.
   */
  async function choosingNodes(
    cfg: ResolvedConfig,
    secrets: SecretValues,
    root: string,
    rdbs: ReadonlyArray<string | undefined>,
  ): Promise<ChoosingNode[]> {
    const stale = await freeBasePort(1);
    const nodes: ChoosingNode[] = [];
    for (const [i, rdb] of rdbs.entries()) {
      const conf = path.join(root, `node-${i}`, "conf");
      const data = path.join(root, `node-${i}`, "data");
      fs.mkdirSync(conf, { recursive: true });
      fs.mkdirSync(data, { recursive: true });
      if (rdb) fs.copyFileSync(rdb, path.join(data, "dump.rdb"));
      const files = { ...nodePlainFiles(cfg), ...nodeSecretFiles(cfg, secrets) };
      files["redis.conf"] =
        applyDeviations(files["redis.conf"], detectDeviations(cfg)) +
        `replicaof 127.0.0.1 ${stale}\n`;
      for (const [file, text] of Object.entries(files))
        fs.writeFileSync(path.join(conf, file), text, { mode: 0o600 });
      nodes.push({
        conf,
        data,
        port: await freeBasePort(1),
        log: path.join(root, `node-${i}.log`),
      });
    }
    return nodes;
  }

  /** Starts start-redis.sh of `node` under `shell`, with no sentinel to answer. */
  function launchNode(
    cfg: ResolvedConfig,
    node: ChoosingNode,
    all: readonly ChoosingNode[],
    shell: readonly string[],
    env: Record<string, string>,
  ): ChildProcess {
    const args = redisServerArgs(cfg, {
      redisConf: path.join(node.conf, "redis.conf"),
      secretsConf: path.join(node.conf, "secrets.conf"),
      usersAcl: path.join(node.conf, "users.acl"),
      dataDir: node.data,
    });
    const extra = detectDeviations(cfg).flatMap((d) => d.args ?? []);
    const out = fs.openSync(node.log, "a");
    try {
      return spawn(
        shell[0],
        [
          ...shell.slice(1),
          path.join(node.conf, "start-redis.sh"),
          ...args,
          "--port",
          String(node.port),
          "--bind",
          "127.0.0.1",
          ...extra,
        ],
        {
          env: {
            ...process.env,
            CONF_DIR: node.conf,
            DATA_DIR: node.data,
            NODE_HOST: "127.0.0.1",
            NODE_PORT: String(node.port),
            DEFAULT_MASTER: `127.0.0.1 ${all[0].port}`,
            SENTINELS: env.SENTINELS,
            NODES: all.map((n) => `127.0.0.1:${n.port}`).join(" "),
            ...env,
          },
          stdio: ["ignore", out, out],
        },
      );
    } finally {
      fs.closeSync(out);
    }
  }

  /** Each node's role as it reports it ("master", "slave PORT"), or its error (a stand-in refuses INFO). */
  async function rolesOf(
    cfg: ResolvedConfig,
    secrets: SecretValues,
    nodes: readonly ChoosingNode[],
  ) {
    return Promise.all(
      nodes.map(async (node) => {
        const c = directClient(node.port, credentials(cfg, secrets, "admin"));
        c.on("error", () => undefined);
        try {
          await c.connect();
          const info = await c.info("replication");
          return `${/role:(\w+)/.exec(info)?.[1]} ${/master_port:(\d+)/.exec(info)?.[1] ?? ""}`.trim();
        } catch (err) {
          return `error: ${(err as Error).message}`;
        } finally {
          c.disconnect();
        }
      }),
    );
  }

  const startLines = (node: ChoosingNode) =>
    fs
      .readFileSync(node.log, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("start-redis"));

  for (const [shell, ...shellArgs] of SHELLS) {
    it(`${shell}: with no sentinel record, the nodes choose the one whose last RDB recorded the newest offset (not node 0), whatever replicaof a rewritten redis.conf holds`, async () => {
      const cfg = resolve(PROD, "prod");
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-choose-"));
      const children: ChildProcess[] = [];
      try {
        const rdbs = await recordedRdbs(root);
        const secrets = loadOrCreateSecrets(cfg, root);
        // Node 0 has no data; node 1 the replica's older RDB; node 2 the master's newer one.
        const nodes = await choosingNodes(cfg, secrets, root, [undefined, rdbs.older, rdbs.newer]);
        const env = { SENTINELS: `127.0.0.1:${await freeBasePort(1)}` };
        for (const node of nodes)
          children.push(launchNode(cfg, node, nodes, [shell, ...shellArgs], env));
        const seen = await waitFor(
          "every node started in its chosen role",
          async () => {
            const r = await rolesOf(cfg, secrets, nodes);
            return r.every((role) => role === "master" || role.startsWith("slave "))
              ? r
              : undefined;
          },
          30_000,
        ).catch((err: Error) => {
          throw new Error(
            `${err.message}\n${nodes.map((n) => startLines(n).join(" | ")).join("\n")}`,
          );
        });
        assert.deepEqual(seen, [`slave ${nodes[2].port}`, `slave ${nodes[2].port}`, "master"]);
        assert.match(
          startLines(nodes[0]).join("\n"),
          /choosing with the other nodes \(this node: none\)/,
        );
        assert.match(startLines(nodes[2]).join("\n"), /\(this node: \d+ [0-9a-f]{40} [1-9]\d*\)/);
        // Whichever node chose first, it chose node 2 for its record; the others then follow a
        // node that runs.
        assert.match(
          nodes.flatMap(startLines).join("\n"),
          new RegExp(`every node answered; 127\\.0\\.0\\.1:${nodes[2].port} has the newest data`),
        );
        for (const node of nodes) assert.ok(!fs.existsSync(path.join(node.conf, "standin")));
      } finally {
        await Promise.all(children.map(stopCleanly));
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  }

  it("busybox: with a node missing, nodes choose only when a majority of all nodes answered with data; a node without data never does, and its stand-in answers nothing but its record", async () => {
    const cfg = resolve(PROD, "prod");
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-majority-"));
    const children: ChildProcess[] = [];
    const launch = (node: ChoosingNode, all: ChoosingNode[], env: Record<string, string>) =>
      children.push(launchNode(cfg, node, all, ["busybox", "sh"], env));
    try {
      const rdbs = await recordedRdbs(root);
      const secrets = loadOrCreateSecrets(cfg, root);
      const env = { SENTINELS: `127.0.0.1:${await freeBasePort(1)}`, PEER_WAIT_SECONDS: "1" };

      // A group of 3: node 0 without data, node 1 with the older RDB; node 2 never comes.
      const first = await choosingNodes(cfg, secrets, path.join(root, "a"), [
        undefined,
        rdbs.older,
        undefined,
      ]);
      launch(first[0], first, env);
      const probe = directClient(first[0].port, credentials(cfg, secrets, "probe"));
      probe.on("error", () => undefined);
      try {
        const record = await waitFor("the stand-in of node 0", async () => {
          if (probe.status === "wait" || probe.status === "end") await probe.connect();
          return (await probe.get("lowcode:recorded-data")) ?? undefined;
        });
        assert.equal(record, "none");
        // Not even PING: sentinels and health checks must not take it for the node.
        await assert.rejects(probe.ping(), /NOPERM/);
        await assert.rejects(probe.info("replication"), /NOPERM/);
      } finally {
        probe.disconnect();
      }
      launch(first[1], first, env);
      // Well past PEER_WAIT_SECONDS: 2 of 3 answer but only 1 with data, so both keep choosing
      // (the stand-ins have no admin user: a node itself would answer).
      await new Promise((r) => setTimeout(r, 4000));
      for (const role of await rolesOf(cfg, secrets, first.slice(0, 2)))
        assert.match(role, /^error: /);
      assert.doesNotMatch(first.slice(0, 2).flatMap(startLines).join("\n"), /starting as/);
      await Promise.all(children.splice(0).map(stopCleanly));

      // Another group of 3: nodes 0 and 1 with data (older, newer); node 2 never comes.
      const second = await choosingNodes(cfg, secrets, path.join(root, "b"), [
        rdbs.older,
        rdbs.newer,
        undefined,
      ]);
      launch(second[0], second, env);
      launch(second[1], second, env);
      const seen = await waitFor(
        "nodes 0 and 1 in their roles",
        async () => {
          const r = await rolesOf(cfg, secrets, second.slice(0, 2));
          return r.every((role) => role === "master" || role.startsWith("slave ")) ? r : undefined;
        },
        30_000,
      );
      assert.deepEqual(seen, [`slave ${second[1].port}`, "master"]);
      assert.match(
        second.slice(0, 2).flatMap(startLines).join("\n"),
        new RegExp(
          `no answer from 127\\.0\\.0\\.1:${second[2].port} in time; of the others, 127\\.0\\.0\\.1:${second[1].port} has the newest data`,
        ),
      );
    } finally {
      await Promise.all(children.map(stopCleanly));
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  for (const [shell, ...shellArgs] of SHELLS) {
    it(`${shell}: start-redis.sh closes what was left open and Redis writes owner-only files`, async () => {
      const cfg = resolve(PROD_STANDALONE, "prod");
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-start-"));
      let child: ChildProcess | undefined;
      try {
        const conf = path.join(root, "conf");
        const data = path.join(root, "data");
        // What an older release or a volume's setup may have left: open directories and files.
        fs.mkdirSync(conf, { mode: 0o755 });
        fs.mkdirSync(data, { mode: 0o755 });
        fs.chmodSync(data, 0o755);
        fs.writeFileSync(path.join(data, "dump.rdb.old"), "x", { mode: 0o644 });
        const secrets = loadOrCreateSecrets(cfg, root);
        const files = { ...nodePlainFiles(cfg), ...nodeSecretFiles(cfg, secrets) };
        files["redis.conf"] = applyDeviations(files["redis.conf"], detectDeviations(cfg));
        for (const [file, text] of Object.entries(files))
          fs.writeFileSync(path.join(conf, file), text, { mode: 0o644 });
        const port = await freeBasePort(1);
        const args = redisServerArgs(cfg, {
          redisConf: path.join(conf, "redis.conf"),
          secretsConf: path.join(conf, "secrets.conf"),
          usersAcl: path.join(conf, "users.acl"),
          dataDir: data,
        });
        const extra = detectDeviations(cfg).flatMap((d) => d.args ?? []);
        child = spawn(
          shell,
          [
            ...shellArgs,
            path.join(conf, "start-redis.sh"),
            ...args,
            "--port",
            String(port),
            "--bind",
            "127.0.0.1",
            ...extra,
          ],
          {
            env: { ...process.env, CONF_DIR: conf, DATA_DIR: data },
            stdio: "ignore",
          },
        );
        const admin = directClient(port, credentials(cfg, secrets, "admin"));
        admin.on("error", () => undefined);
        try {
          await waitFor("redis-server started by the script", async () => {
            await admin.connect().catch(() => undefined);
            return (await admin.ping()) === "PONG" ? true : undefined;
          });
          await admin.set("k", "v");
          await admin.call("SAVE");
          await admin.call(secrets.configCommand!, "REWRITE");
        } finally {
          admin.disconnect();
        }
        const modes = (dir: string) =>
          [dir, ...fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f)))]
            .map((f) => ({ f: path.relative(root, f), mode: fs.statSync(f).mode & 0o777 }))
            .filter((m) => (m.mode & 0o077) !== 0);
        assert.deepEqual([...modes(conf), ...modes(data)], []);
        assert.ok(fs.existsSync(path.join(data, "dump.rdb")));
        assert.match(
          fs.readFileSync(path.join(conf, "redis.conf"), "utf8"),
          /# Generated by CONFIG REWRITE/,
        );
      } finally {
        if (child && child.exitCode === null) {
          const exited = new Promise((r) => child!.once("exit", r));
          child.kill("SIGKILL");
          await exited;
        }
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
