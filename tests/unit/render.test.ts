import { strict as assert } from "node:assert";
import {
  SENTINEL_ACL_RULES,
  commanderAclRules,
  nodeAclRules,
  renderUsersAcl,
} from "../../render/acl";
import { renderArtifacts } from "../../render/artifacts";
import {
  LAYOUT,
  redisServerArgs,
  renderRedisConf,
  requiredSecrets,
  sha256Hex,
} from "../../render/redis-conf";
import {
  nodePlainFiles,
  nodeSecretFiles as secretFiles,
  sentinelPlainFiles,
} from "../../render/files";
import { renderSentinelConf } from "../../render/sentinel";
import { applyDeviations } from "../../sandbox/runtime/capabilities";
import { DEV, PROD, PROD_STANDALONE, resolve } from "../helpers/config";

const SECRETS = {
  defaultPassword: "dev-password-0123456789",
  appPassword: "app-password-0123456789",
  adminPassword: "admin-password-0123456789",
  probePassword: "probe-password-0123456789",
  backupPassword: "backup-password-0123456789",
  commanderRedisPassword: "commander-password-0123456789",
  exporterPassword: "exporter-password-0123456789",
  configCommand: "CONFIG_ABCDEF0123456789",
};

/** Every platform setting (docs/profiles.md), as redis.conf lines (Redis 7 names). */
const PLATFORM_SETTINGS = [
  "maxmemory 384mb",
  "maxmemory-policy allkeys-lru",
  "maxmemory-samples 5",
  "save 900 1",
  "save 300 10",
  "save 60 10000",
  "appendonly yes",
  "appendfsync everysec",
  "activedefrag yes",
  "active-defrag-threshold-lower 10",
  'notify-keyspace-events "Ex"',
  "maxclients 10000",
  "tcp-keepalive 300",
  "hash-max-listpack-entries 512",
  "hash-max-listpack-value 64",
  "list-max-listpack-size -2",
  "set-max-intset-entries 512",
];

describe("redis.conf rendering: platform settings and each profile's security", () => {
  for (const [profile, values] of [
    ["dev", DEV],
    ["production", PROD_STANDALONE],
  ] as const) {
    it(`${profile}: holds every platform setting (docs/profiles.md#platform-settings)`, () => {
      const lines = renderRedisConf(resolve(values)).split("\n");
      for (const setting of PLATFORM_SETTINGS)
        assert.ok(lines.includes(setting), `missing "${setting}"`);
    });
  }

  it("names the stack and profile in its header", () => {
    assert.match(
      renderRedisConf(resolve(DEV, "dev")),
      /^# redis\.conf of lowcode-redis, stack dev, profile dev, target docker, topology standalone\./,
    );
  });

  it("dev: binds 0.0.0.0 and keeps requirepass out of redis.conf", () => {
    const cfg = resolve(DEV);
    const conf = renderRedisConf(cfg);
    assert.match(conf, /^bind 0\.0\.0\.0$/m);
    assert.doesNotMatch(conf, /requirepass|rename-command/);
    assert.equal(
      secretFiles(cfg, SECRETS)
        ["secrets.conf"].split("\n")
        .filter((l) => !l.startsWith("#") && l)
        .join("\n"),
      `requirepass "${SECRETS.defaultPassword}"`,
    );
  });

  it("dev with Commander: users.acl holds default as requirepass makes it and Commander's user, never a user in a config file", () => {
    const cfg = resolve(DEV);
    const files = secretFiles(cfg, SECRETS);
    assert.deepEqual(
      files["users.acl"].split("\n").filter((l) => !l.startsWith("#") && l),
      [
        `user default on #${sha256Hex(SECRETS.defaultPassword)} ~* &* +@all`,
        `user commander on #${sha256Hex(SECRETS.commanderRedisPassword)} ${commanderAclRules(cfg)}`,
      ],
    );
    assert.doesNotMatch(files["users.acl"], /dev-password|commander-password/);
    // CONFIG REWRITE copies users declared in a config file into redis.conf, where a second
    // declaration stops Redis: users live in the ACL file only.
    for (const conf of [files["secrets.conf"], renderRedisConf(cfg)])
      assert.doesNotMatch(conf, /^user /m);
    assert.deepEqual(redisServerArgs(cfg, LAYOUT).slice(-2), ["--aclfile", "/conf/users.acl"]);
    // Without Commander, dev is requirepass alone.
    const bare = resolve({ ...DEV, commanderEnabled: false });
    assert.equal(secretFiles(bare, SECRETS)["users.acl"], undefined);
    assert.ok(!redisServerArgs(bare, LAYOUT).includes("--aclfile"));
  });

  it("production: specific bind, protected mode, FLUSHALL/FLUSHDB disabled, CONFIG renamed only in the secret file", () => {
    const cfg = resolve(PROD_STANDALONE);
    const conf = renderRedisConf(cfg);
    assert.match(conf, /^bind 127\.0\.0\.1$/m);
    assert.match(conf, /^protected-mode yes$/m);
    assert.match(conf, /^rename-command FLUSHALL ""$/m);
    assert.match(conf, /^rename-command FLUSHDB ""$/m);
    assert.doesNotMatch(conf, /rename-command CONFIG/);
    assert.match(
      secretFiles(cfg, SECRETS)["secrets.conf"],
      /^rename-command CONFIG CONFIG_ABCDEF0123456789$/m,
    );
  });

  it("production: users.acl turns default off and stores only password hashes", () => {
    const cfg = resolve(PROD_STANDALONE);
    const acl = renderUsersAcl(cfg, SECRETS);
    const rules = nodeAclRules(cfg);
    assert.match(acl, /^user default off resetchannels -@all$/m);
    assert.ok(acl.includes(`user app on #${sha256Hex(SECRETS.appPassword)} ${rules.app}`));
    assert.ok(acl.includes(`user admin on #${sha256Hex(SECRETS.adminPassword)} ${rules.admin}`));
    for (const password of [SECRETS.appPassword, SECRETS.adminPassword, SECRETS.probePassword])
      assert.ok(!acl.includes(password));
  });

  it("the app user loses @dangerous but keeps INFO for client ready checks", () => {
    const { app } = nodeAclRules(resolve(PROD_STANDALONE));
    assert.match(app, /-@dangerous/);
    assert.match(app, /\+info/);
    assert.doesNotMatch(app, /\+(config|flushall|flushdb|keys|debug|shutdown)/);
  });

  it("every client is bounded: a 32nd of maxmemory per value, twice that per client, every slot at a small client's size and two full clients for all", () => {
    for (const values of [DEV, PROD]) {
      const lines = renderRedisConf(resolve(values)).split("\n");
      for (const line of [
        "proto-max-bulk-len 12mb",
        "client-query-buffer-limit 24mb",
        "client-output-buffer-limit normal 24mb 0 0",
        "client-output-buffer-limit pubsub 24mb 6mb 60",
        // Every connection slot at a small client's 32 KB, and two clients at their limit.
        "maxmemory-clients 369152kb",
        "busy-reply-threshold 1000",
        "lazyfree-lazy-user-del yes",
      ])
        assert.ok(lines.includes(line), `missing "${line}"`);
    }
    const big = renderRedisConf(resolve({ ...DEV, maxmemory: "2gb" })).split("\n");
    assert.ok(big.includes("proto-max-bulk-len 64mb"));
    assert.ok(big.includes("maxmemory-clients 582144kb")); // 10000 x 32 KB + 2 x 128mb
    const set = renderRedisConf(resolve({ ...DEV, protoMaxBulkLen: "20mb" })).split("\n");
    assert.ok(set.includes("proto-max-bulk-len 20mb"));
    assert.ok(set.includes("client-output-buffer-limit normal 40mb 0 0"));
    assert.ok(set.includes("maxmemory-clients 401920kb"));
    const few = renderRedisConf(resolve({ ...DEV, maxclients: 1000 })).split("\n");
    assert.ok(few.includes("maxmemory-clients 81152kb")); // 1000 x 32 KB + 2 x 24mb
    // Redis refuses either below 1mb: a tiny node still gets 1mb.
    const tiny = renderRedisConf(resolve({ ...DEV, maxmemory: "8mb" })).split("\n");
    assert.ok(tiny.includes("proto-max-bulk-len 1mb"));
    assert.ok(tiny.includes("client-query-buffer-limit 2mb"));
  });

  it("sentinels bound their clients within their container, in sentinel.conf", () => {
    const conf = renderSentinelConf(resolve(PROD)).split("\n");
    for (const line of [
      "maxclients 256",
      "client-output-buffer-limit normal 1mb 0 0",
      "client-output-buffer-limit pubsub 1mb 1mb 60",
      "maxmemory-clients 10mb",
    ])
      assert.ok(conf.includes(line), `missing "${line}"`);
  });

  it("the app user is denied the commands of appDeniedCommands, and only those of the list", () => {
    const { app } = nodeAclRules(resolve(PROD_STANDALONE));
    for (const command of ["setrange", "setbit", "bitfield", "copy", "sunionstore", "bitop"])
      assert.match(app, new RegExp(` -${command} `));
    const fewer = nodeAclRules(
      resolve({ ...PROD_STANDALONE, appDeniedCommands: ["sunionstore"] }),
    ).app;
    assert.match(fewer, / -sunionstore /);
    assert.doesNotMatch(fewer, /-setrange|-copy /);
    assert.doesNotMatch(
      nodeAclRules(resolve({ ...PROD_STANDALONE, appDeniedCommands: [] })).app,
      /-sunion|-setrange/,
    );
  });

  it("channels are allow-lists: no user but the sentinel ones holds a channel that reaches __sentinel__:hello", () => {
    for (const cfg of [resolve(PROD_STANDALONE), resolve(PROD)]) {
      const rules = nodeAclRules(cfg);
      // Every user starts from no channel at all.
      for (const rule of Object.values(rules)) assert.match(rule, /^(~\* )?resetchannels /);
      // The root permissions, before the selector in parentheses.
      const app = rules.app.split(" (")[0].split(" ");
      assert.deepEqual(
        app.filter((t) => t.startsWith("&")),
        ["&flow:*:cursors", "&__keyevent@*__:*", "&__keyspace@*__:*"],
      );
      // PUBLISH only through the selector, which names the application's channels alone.
      assert.ok(app.includes("-publish") && app.includes("-spublish"));
      assert.match(rules.app, /\(\+publish \+spublish &flow:\*:cursors\)$/);
      assert.match(rules.admin, /\(\+publish \+spublish &flow:\*:cursors\)$/);
      assert.match(rules.sentinel, /^resetchannels &__sentinel__:hello -@all /);
    }
    assert.match(SENTINEL_ACL_RULES["sentinel-peer"], /^resetchannels &__sentinel__:hello -@all /);
    assert.doesNotMatch(SENTINEL_ACL_RULES["sentinel-client"], /publish/);
  });

  it("needs one password in dev; ACL users and a CONFIG name in production; group credentials in a group", () => {
    assert.deepEqual(requiredSecrets(resolve(DEV)), ["defaultPassword", "commanderRedisPassword"]);
    assert.deepEqual(requiredSecrets(resolve({ ...DEV, commanderEnabled: false })), [
      "defaultPassword",
    ]);
    assert.deepEqual(requiredSecrets(resolve(PROD_STANDALONE)), [
      "appPassword",
      "adminPassword",
      "probePassword",
      "configCommand",
      "backupPassword",
      "commanderRedisPassword",
      // The metrics sidecars' user (Kubernetes).
      "exporterPassword",
    ]);
    assert.deepEqual(
      requiredSecrets(
        resolve({
          ...PROD_STANDALONE,
          backupEnabled: false,
          commanderEnabled: false,
          metricsEnabled: false,
        }),
      ),
      ["appPassword", "adminPassword", "probePassword", "configCommand"],
    );
    assert.deepEqual(requiredSecrets(resolve(PROD)).slice(4), [
      "replicationPassword",
      "sentinelNodePassword",
      "sentinelClientPassword",
      "sentinelPeerPassword",
      "failoverPassword",
      "backupPassword",
      "commanderRedisPassword",
      "exporterPassword",
    ]);
  });

  it("redis-server arguments: secret files by path, the node address added in production", () => {
    assert.deepEqual(
      redisServerArgs(resolve({ ...DEV, commanderEnabled: false }), LAYOUT, "10.0.0.5"),
      ["/conf/redis.conf", "--dir", "/data", "--include", "/conf/secrets.conf"],
    );
    assert.deepEqual(redisServerArgs(resolve(PROD_STANDALONE), LAYOUT, "$(POD_IP)"), [
      "/conf/redis.conf",
      "--dir",
      "/data",
      "--include",
      "/conf/secrets.conf",
      "--aclfile",
      "/conf/users.acl",
      "--bind",
      "127.0.0.1",
      "$(POD_IP)",
    ]);
  });

  it("refuses to render a value with a control character, even one that slipped past validation", () => {
    const cfg = resolve(PROD);
    const smuggled = [
      { ...cfg, redis: { ...cfg.redis, maxmemory: "\n384mb" } },
      { ...cfg, bind: ["127.0.0.1\nrequirepass x"] },
      { ...cfg, sentinel: { ...cfg.sentinel, masterName: "m\rsentinel deny-scripts-reconfig no" } },
      { ...cfg, stack: "prod\u0000" },
    ];
    for (const bad of smuggled) {
      assert.throws(() => {
        renderRedisConf(bad);
        renderSentinelConf(bad);
      }, /refusing to render .*a control character would split or hide a directive/);
    }
    assert.throws(
      () =>
        renderUsersAcl(
          cfg,
          {
            ...SECRETS,
            replicationPassword: "replication-password-0123456789",
            sentinelNodePassword: "sentinel-password-0123456789",
            failoverPassword: "failover-password-0123456789",
            appPassword: "x\nuser evil on nopass +@all",
          },
          (p) => p,
        ),
      /users\.acl: refusing to render/,
    );
  });

  it("a group's nodes bound the replica output buffers and the backlog as the memory limit counts them", () => {
    const lines = renderRedisConf(resolve(PROD)).split("\n");
    // A quarter of maxmemory 384mb, soft half of it for 60 s; a backlog of a minute's writes.
    assert.ok(lines.includes("client-output-buffer-limit replica 96mb 48mb 60"));
    assert.ok(lines.includes("repl-backlog-size 32mb"));
    assert.match(
      renderRedisConf(resolve({ ...PROD, maxmemory: "2gb" })),
      /^client-output-buffer-limit replica 512mb 256mb 60$/m,
    );
    assert.match(
      renderRedisConf(resolve({ ...PROD, replBacklogSize: "64mb" })),
      /^repl-backlog-size 64mb$/m,
    );
    // A standalone server has no replicas: nothing to bound, and its limit counts none.
    assert.doesNotMatch(
      renderRedisConf(resolve(DEV)),
      /client-output-buffer-limit replica|repl-backlog-size/,
    );
  });

  it("a full disk: a group's replicas keep applying their master's writes, and every node starts from an AOF cut short", () => {
    const group = renderRedisConf(resolve(PROD)).split("\n");
    // Redis 7.0 and 7.2 both have it (7.0.0 on); the default, no, aborts the replica.
    assert.ok(group.includes("replica-ignore-disk-write-errors yes"));
    for (const values of [DEV, PROD_STANDALONE, PROD])
      assert.ok(renderRedisConf(resolve(values)).split("\n").includes("aof-load-truncated yes"));
    // A standalone server has no master to take writes from.
    assert.doesNotMatch(renderRedisConf(resolve(DEV)), /replica-ignore-disk-write-errors/);
  });

  it("is a pure function of the config: the same bytes twice, different bytes for another setting", () => {
    assert.equal(renderRedisConf(resolve(DEV)), renderRedisConf(resolve(DEV)));
    assert.notEqual(
      renderRedisConf(resolve(DEV)),
      renderRedisConf(resolve({ ...DEV, maxmemory: "256mb" })),
    );
  });

  it("the sandbox copy differs from the rendered file only in declared deviation lines", () => {
    const conf = renderRedisConf(resolve(DEV));
    const copy = applyDeviations(conf, [
      {
        setting: "activedefrag",
        reason: "test",
        replaceLine: { from: "activedefrag yes", to: "activedefrag no" },
      },
    ]);
    const removed = conf.split("\n").filter((l) => !copy.split("\n").includes(l));
    assert.deepEqual(removed, ["activedefrag yes"]);
    assert.throws(
      () =>
        applyDeviations(conf, [
          { setting: "x", reason: "r", replaceLine: { from: "no such line", to: "" } },
        ]),
      /not in redis.conf/,
    );
  });
});

describe("npm run render artifacts: secrets only as references", () => {
  for (const [stack, values] of [
    ["dev", DEV],
    ["prod", PROD_STANDALONE],
  ] as const) {
    it(`${stack}: every secret is a {{secret:…}} reference`, () => {
      const files = renderArtifacts(resolve(values, stack));
      const all = Object.values(files).join("\n");
      assert.ok(all.includes("{{secret:"));
      assert.doesNotMatch(all, /requirepass "(?!\{\{secret:)/);
      assert.doesNotMatch(all, /user \w+ on #(?!\{\{sha256:)/);
    });
  }

  it("kubernetes: one manifest per object; docker: none", () => {
    const k8s = Object.keys(renderArtifacts(resolve(PROD_STANDALONE))).filter((f) =>
      f.startsWith("manifests/"),
    );
    assert.deepEqual(k8s, [
      "manifests/00-namespace-lowcode.yaml",
      // Each component's NetworkPolicy comes before its pods.
      "manifests/01-networkpolicy-lowcode-redis-backup.yaml",
      "manifests/02-persistentvolumeclaim-lowcode-redis-backups.yaml",
      "manifests/03-configmap-lowcode-redis-backup-config.yaml",
      "manifests/04-secret-lowcode-redis-backup-auth.yaml",
      "manifests/05-cronjob-lowcode-redis-backup.yaml",
      "manifests/06-networkpolicy-lowcode-redis-default-deny.yaml",
      "manifests/07-networkpolicy-lowcode-redis-redis.yaml",
      "manifests/08-secret-lowcode-redis-auth.yaml",
      "manifests/09-configmap-lowcode-redis-config.yaml",
      "manifests/10-service-lowcode-redis-headless.yaml",
      "manifests/11-service-lowcode-redis.yaml",
      "manifests/12-statefulset-lowcode-redis.yaml",
      // The size of the claim the StatefulSet made: a patch, not a whole claim.
      "manifests/13-persistentvolumeclaim-data-lowcode-redis-0.patch.yaml",
      "manifests/14-service-lowcode-redis-metrics.yaml",
      // The applications' connection Secret, in the stack's namespace by default.
      "manifests/15-secret-lowcode-redis-connection.yaml",
      "manifests/16-networkpolicy-lowcode-redis-commander.yaml",
      "manifests/17-configmap-lowcode-redis-commander-config.yaml",
      "manifests/18-secret-lowcode-redis-commander-auth.yaml",
      "manifests/19-deployment-lowcode-redis-commander.yaml",
      "manifests/20-service-lowcode-redis-commander.yaml",
    ]);
    assert.equal(
      Object.keys(renderArtifacts(resolve(DEV))).filter((f) => f.startsWith("manifests/")).length,
      0,
    );
  });
});

describe("start scripts of a sentinel group: the records a node or a sentinel trusts", () => {
  const cfg = resolve(PROD, "prod");
  const files = { ...nodePlainFiles(cfg), ...sentinelPlainFiles(cfg) };

  it("a sentinel without state never monitors a guessed master: only a majority record or a node that is master", () => {
    const script = files["start-sentinel.sh"];
    assert.doesNotMatch(script, /DEFAULT_MASTER"?\s*$/m);
    assert.doesNotMatch(script, /master="\$DEFAULT_MASTER"/);
    assert.match(script, /master="\$\(sentinel_record\)"/);
    assert.match(script, /\[ "\$\(field "\$info" role\)" = master \]/);
  });

  it("the sentinels' record needs a majority answering and takes the highest config epoch", () => {
    for (const script of [files["start-redis.sh"], files["start-sentinel.sh"]]) {
      assert.match(script, /sentinel master lowcode-master/);
      assert.match(script, /\[ \$\(\(_answered \* 2\)\) -gt "\$_all" \] && echo "\$_record"/);
      assert.match(
        script,
        /\[ "\$_e" -gt "\$_epoch" \] && \{ _epoch=\$_e; _record="\$_host \$_port"; \}/,
      );
    }
  });

  it("a node starting as master drops any replicaof a Sentinel rewrite left in redis.conf; its stand-in too", () => {
    const script = files["start-redis.sh"];
    assert.match(
      script,
      /exec redis-server "\$@" --replica-announce-ip "\$NODE_HOST" --replicaof no one\n/,
    );
    assert.match(script, /--replicaof no one --aclfile "\$standin_dir\/users.acl"/);
    // The stand-in's probe user reads the record and nothing else (no PING, no INFO).
    assert.match(
      script,
      /user probe on #\$\(sha .*\) resetkeys ~lowcode:recorded-data resetchannels -@all \+get"/,
    );
  });
});
