import { strict as assert } from "node:assert";
import * as path from "node:path";
import { ConfigError } from "../../config/resolve";
import { loadStackConfig } from "../../config/stack-file";
import { DEV, PROD, PROD_STANDALONE, resolve, PLATFORM_DATABASES } from "../helpers/config";

const SECRET = "S3cure-Passw0rd-0123456789";

function problems(values: Record<string, unknown>, secretKeys: string[] = []): string[] {
  try {
    resolve(values, "test", secretKeys);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return [...(err as ConfigError).problems];
  }
  assert.fail(`config ${JSON.stringify(values)} was accepted`);
}

describe("config validation: every bad value fails before any resource, naming key, value and what is allowed", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      "unknown target",
      { target: "nomad" },
      'Invalid lowcode-redis:target "nomad": must be one of docker, kubernetes.',
    ],
    [
      "unknown profile",
      { profile: "staging" },
      'Invalid lowcode-redis:profile "staging": must be one of dev, production.',
    ],
    [
      "unknown topology",
      { topology: "cluster" },
      'Invalid lowcode-redis:topology "cluster": must be one of standalone, sentinel.',
    ],
    [
      "target of wrong type",
      { target: 3 },
      "Invalid lowcode-redis:target 3: must be one of docker, kubernetes.",
    ],
    [
      "port out of range",
      { port: 70000 },
      "Invalid lowcode-redis:port 70000: must be a whole number from 1 to 65535.",
    ],
    [
      "port zero",
      { port: 0 },
      "Invalid lowcode-redis:port 0: must be a whole number from 1 to 65535.",
    ],
    [
      "port not a number",
      { port: "redis" },
      'Invalid lowcode-redis:port "redis": must be a whole number from 1 to 65535.',
    ],
    [
      "port fractional",
      { port: 6379.5 },
      "Invalid lowcode-redis:port 6379.5: must be a whole number from 1 to 65535.",
    ],
    [
      "hostPort negative",
      { hostPort: -1 },
      "Invalid lowcode-redis:hostPort -1: must be a whole number from 1 to 65535.",
    ],
    [
      "maxmemory unparsable",
      { maxmemory: "lots" },
      'Invalid lowcode-redis:maxmemory "lots": must be a memory size: a whole number with a unit b, kb, mb or gb (e.g. "384mb").',
    ],
    [
      "maxmemory unknown unit",
      { maxmemory: "384tb" },
      'Invalid lowcode-redis:maxmemory "384tb": must be a memory size: a whole number with a unit b, kb, mb or gb (e.g. "384mb").',
    ],
    [
      "maxmemory oversized",
      { maxmemory: "128gb", memoryLimit: "512Gi" },
      'Invalid lowcode-redis:maxmemory "128gb": must be between 1mb and 64gb.',
    ],
    [
      "maxmemory tiny",
      { maxmemory: "100kb" },
      'Invalid lowcode-redis:maxmemory "100kb": must be between 1mb and 64gb.',
    ],
    [
      "maxmemory above the limit's headroom",
      { maxmemory: "700mb", memoryLimit: "768Mi" },
      'Invalid lowcode-redis:maxmemory "700mb": must leave 25% of lowcode-redis:memoryLimit "768Mi" free for forks (at most 576mb).',
    ],
    [
      "memoryLimit unparsable",
      { memoryLimit: "1 gig" },
      'Invalid lowcode-redis:memoryLimit "1 gig": must be "" (maxmemory x 2) or a Kubernetes quantity such as "768Mi".',
    ],
    [
      "unknown eviction policy",
      { maxmemoryPolicy: "lru" },
      'Invalid lowcode-redis:maxmemoryPolicy "lru": must be one of allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl, noeviction.',
    ],
    [
      "appendfsync unknown",
      { appendfsync: "sometimes" },
      'Invalid lowcode-redis:appendfsync "sometimes": must be one of always, everysec, no.',
    ],
    [
      "appendonly not boolean",
      { appendonly: "yes" },
      'Invalid lowcode-redis:appendonly "yes": must be true or false.',
    ],
    [
      "save point malformed",
      { save: ["900"] },
      'Invalid lowcode-redis:save ["900"]: must be "<seconds> <changes>" with two positive whole numbers, e.g. "900 1".',
    ],
    [
      "save not a list",
      { save: 900 },
      'Invalid lowcode-redis:save 900: must be a list of "<seconds> <changes>" strings.',
    ],
    [
      "keyspace events unknown letter",
      { notifyKeyspaceEvents: "Exq" },
      'Invalid lowcode-redis:notifyKeyspaceEvents "Exq": must be letters from KEg$lshzxetdmnA.',
    ],
    [
      "database out of range",
      { dbSessions: 16 },
      "Invalid lowcode-redis:dbSessions 16: must be a whole number from 0 to 15.",
    ],
    [
      "database above the database count",
      { databases: 6, dbQueryCache: 6, dbSessions: 0 },
      "Invalid lowcode-redis:dbQueryCache 6: must be below lowcode-redis:databases (6).",
    ],
    [
      "duplicate database index",
      { dbFlowCache: 0 },
      "Invalid lowcode-redis:dbFlowCache 0: is already used by lowcode-redis:dbSessions; each purpose needs its own database.",
    ],
    [
      "bind not an address",
      { bind: ["localhost"] },
      'Invalid lowcode-redis:bind ["localhost"]: must be IPv4 or IPv6 addresses (e.g. "127.0.0.1"), optionally prefixed with "-".',
    ],
    [
      "bind 0.0.0.0 in production",
      { ...PROD_STANDALONE, bind: ["0.0.0.0"] },
      'Invalid lowcode-redis:bind ["0.0.0.0"]: the production profile binds specific addresses; "0.0.0.0" listens everywhere.',
    ],
    [
      "image not pinned",
      { redisImage: "redis:latest" },
      'Invalid lowcode-redis:redisImage "redis:latest": must be a Redis 7 image pinned to an exact version tag, e.g. "redis:7.2.5-alpine".',
    ],
    [
      "image of Redis 6",
      { redisImage: "redis:6.2.14" },
      'Invalid lowcode-redis:redisImage "redis:6.2.14": must be a Redis 7 image pinned to an exact version tag, e.g. "redis:7.2.5-alpine".',
    ],
    [
      "namespace not DNS",
      { namespace: "Lowcode_NS" },
      `Invalid lowcode-redis:namespace "Lowcode_NS": must be a DNS-1123 label (lowercase letters, digits, '-').`,
    ],
    [
      "maxclients zero",
      { maxclients: 0 },
      "Invalid lowcode-redis:maxclients 0: must be a whole number from 1 to 100000.",
    ],
    [
      "quorum above sentinels",
      { ...PROD, sentinels: 3, quorum: 4 },
      "Invalid lowcode-redis:quorum 4: must be between 1 and the number of sentinels (3).",
    ],
    [
      "too few sentinels in production",
      { ...PROD, sentinels: 1, quorum: 1 },
      "Invalid lowcode-redis:sentinels 1: the production profile needs at least 3 sentinels, so that one can fail and a majority remains.",
    ],
    [
      "down-after out of range",
      { downAfterMs: 100 },
      "Invalid lowcode-redis:downAfterMs 100: must be a whole number from 1000 to 60000.",
    ],
    [
      "failover timeout below twice down-after",
      { downAfterMs: 30000, failoverTimeoutMs: 30000 },
      "Invalid lowcode-redis:failoverTimeoutMs 30000: must be at least twice lowcode-redis:downAfterMs (60000).",
    ],
    [
      "master name format",
      { masterName: "1 master" },
      `Invalid lowcode-redis:masterName "1 master": must start with a letter and hold letters, digits, '_', '.', '-' (at most 64).`,
    ],
    [
      "min-replicas-to-write above replicas",
      { ...PROD, replicas: 3, minReplicasToWrite: 3 },
      "Invalid lowcode-redis:minReplicasToWrite 3: must be at most the number of replicas (2), or the master refuses every write.",
    ],
    [
      "unknown key",
      { maxmemroy: "1gb" },
      "Unknown config key lowcode-redis:maxmemroy: allowed keys are",
    ],
    [
      "password in plain text",
      { ...PROD_STANDALONE, appPassword: SECRET },
      'Invalid lowcode-redis:appPassword (plain text): passwords must be set with "pulumi config set --secret lowcode-redis:appPassword", never stored in clear.',
    ],
  ];

  for (const [what, values, message] of cases) {
    it(`rejects ${what}`, () => {
      const found = problems(values);
      assert.ok(
        found.some((p) => p.startsWith(message)),
        `expected a problem starting with:\n  ${message}\ngot:\n  ${found.join("\n  ")}`,
      );
    });
  }

  it("has at least 25 table cases", () => assert.ok(cases.length >= 25));

  it("rejects an empty or short secret password without showing it (missing auth)", () => {
    const found = problems({ ...PROD_STANDALONE, adminPassword: "" }, ["adminPassword"]);
    assert.deepEqual(found, [
      "Invalid lowcode-redis:adminPassword (secret value not shown): must be at least 16 characters.",
    ]);
    const short = problems({ ...DEV, defaultPassword: "hunter2" }, ["defaultPassword"]);
    assert.deepEqual(short, [
      "Invalid lowcode-redis:defaultPassword (secret value not shown): must be at least 16 characters.",
    ]);
  });

  it("rejects a password that would break a config file", () => {
    const found = problems({ ...DEV, defaultPassword: 'with "quotes" and blanks' }, [
      "defaultPassword",
    ]);
    assert.deepEqual(found, [
      "Invalid lowcode-redis:defaultPassword (secret value not shown): may hold printable ASCII only, without blanks, quotes or backslashes.",
    ]);
  });

  it("rejects a password of the other profile", () => {
    const found = problems({ ...DEV, appPassword: SECRET }, ["appPassword"]);
    assert.deepEqual(found, [
      "Invalid lowcode-redis:appPassword (secret value not shown): used only by the production profile; this stack's profile is dev.",
    ]);
  });

  it("lists every problem at once", () => {
    assert.equal(problems({ target: "nomad", port: 0, profile: "qa" }).length, 3);
  });
});

describe("config resolution: profile defaults and values as Pulumi passes them", () => {
  it("resolves the dev stack file to the platform defaults", () => {
    const cfg = loadStackConfig("dev");
    assert.equal(cfg.target, "docker");
    assert.equal(cfg.profile, "dev");
    assert.deepEqual(cfg.bind, ["0.0.0.0"]);
    assert.equal(cfg.redis.maxmemory, "384mb");
    assert.equal(cfg.resources.memoryLimit, "768Mi");
    assert.deepEqual(cfg.databaseIndex, PLATFORM_DATABASES);
    assert.deepEqual(cfg.redis.save, ["900 1", "300 10", "60 10000"]);
  });

  it("resolves the prod stack file: kubernetes, production security, sentinel group", () => {
    const cfg = loadStackConfig("prod");
    assert.equal(cfg.target, "kubernetes");
    assert.equal(cfg.security.aclUsers, true);
    assert.equal(cfg.security.renameDangerousCommands, true);
    assert.deepEqual(cfg.bind, ["127.0.0.1"]);
    assert.equal(cfg.sentinel.nodes, 3);
    assert.equal(cfg.sentinel.sentinels, 3);
    assert.equal(cfg.sentinel.quorum, 2);
    assert.equal(cfg.sentinel.minReplicasToWrite, 1);
    assert.ok(cfg.sentinel.downAfterMs <= 5000);
  });

  it("coerces the strings the Pulumi engine passes", () => {
    const cfg = resolve({ port: "6380", appendonly: "false", save: '["60 1"]' });
    assert.equal(cfg.port, 6380);
    assert.equal(cfg.redis.appendonly, false);
    assert.deepEqual(cfg.redis.save, ["60 1"]);
  });

  it("warns that allkeys-* may evict keys without TTL, and not for volatile-*", () => {
    assert.ok(
      resolve({}).warnings.some((w) =>
        w.includes("may evict keys that have no TTL (flow:queue, ui:themes)"),
      ),
    );
    assert.ok(
      !resolve({ maxmemoryPolicy: "volatile-lru" }).warnings.some((w) => w.includes("no TTL")),
    );
  });

  it("warns when quorum is below a majority", () => {
    const cfg = resolve({ ...PROD, sentinels: 5, quorum: 2 });
    assert.ok(
      cfg.warnings.some((w) =>
        w.startsWith("lowcode-redis:quorum 2 is below a majority of 5 sentinels (3)"),
      ),
    );
  });

  it("derives the memory limit from maxmemory with fork headroom", () => {
    assert.equal(resolve({ maxmemory: "1gb" }).resources.memoryLimit, "2048Mi");
  });

  it("accepts a secret set with --secret and records it as supplied", () => {
    const cfg = resolve({ ...PROD_STANDALONE, appPassword: SECRET }, "test", ["appPassword"]);
    assert.deepEqual(cfg.suppliedSecrets, ["appPassword"]);
    assert.ok(
      !JSON.stringify(cfg).includes(SECRET),
      "resolved config must not carry secret values",
    );
  });

  it("reads a --config file of the stack-file shape", () => {
    const cfg = loadStackConfig(
      "qa",
      path.join(__dirname, "..", "fixtures", "prod-standalone.yaml"),
    );
    assert.equal(cfg.stack, "qa");
    assert.equal(cfg.topology, "standalone");
    assert.equal(cfg.profile, "production");
  });
});
