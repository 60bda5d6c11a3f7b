import { strict as assert } from "node:assert";
import * as path from "node:path";
import { ConfigError } from "../../config/resolve";
import { loadStackConfig } from "../../config/stack-file";
import { wholeQuantity } from "../../config/units";
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
      'Invalid lowcode-redis:maxmemory "700mb": must leave, after 84mb for the clients, 25% of the rest of lowcode-redis:memoryLimit "768Mi" free for forks (at most 528mb).',
    ],
    [
      "protoMaxBulkLen not a size",
      { protoMaxBulkLen: "big" },
      'Invalid lowcode-redis:protoMaxBulkLen "big": must be "" (maxmemory / 32) or a memory size such as "16mb", from 1mb to a 16th of maxmemory.',
    ],
    [
      "protoMaxBulkLen past a 16th of maxmemory",
      { protoMaxBulkLen: "64mb" },
      'Invalid lowcode-redis:protoMaxBulkLen "64mb": must be from 1mb to 24mb, a 16th of lowcode-redis:maxmemory "384mb": each client may hold twice it in its query and in its output buffer, inside maxmemory.',
    ],
    [
      "protoMaxBulkLen below Redis's 1mb",
      { protoMaxBulkLen: "512kb" },
      'Invalid lowcode-redis:protoMaxBulkLen "512kb": must be from 1mb to 24mb, a 16th of lowcode-redis:maxmemory "384mb": each client may hold twice it in its query and in its output buffer, inside maxmemory.',
    ],
    [
      "appDeniedCommands naming a command outside the list",
      { appDeniedCommands: ["keys"] },
      'Invalid lowcode-redis:appDeniedCommands ["keys"]: must be a list of commands, each once, from: setrange, setbit, bitfield, copy, watch, pfcount, pfmerge, sunion, sinter, sdiff, sunionstore, sinterstore, sdiffstore, sintercard, zunion, zinter, zdiff, zunionstore, zinterstore, zdiffstore, zintercard, zrangestore, georadius, georadiusbymember, geosearchstore, bitop ([] withholds none).',
    ],
    [
      "appDeniedCommands naming one twice",
      { appDeniedCommands: ["copy", "copy"] },
      'Invalid lowcode-redis:appDeniedCommands ["copy","copy"]: must be a list of commands, each once, from: setrange, setbit, bitfield, copy, watch, pfcount, pfmerge, sunion, sinter, sdiff, sunionstore, sinterstore, sdiffstore, sintercard, zunion, zinter, zdiff, zunionstore, zinterstore, zdiffstore, zintercard, zrangestore, georadius, georadiusbymember, geosearchstore, bitop ([] withholds none).',
    ],
    [
      "memoryLimit unparsable",
      { memoryLimit: "1 gig" },
      'Invalid lowcode-redis:memoryLimit "1 gig": must be "" (derived from maxmemory) or a Kubernetes quantity such as "768Mi".',
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
      'Invalid lowcode-redis:redisImage "redis:latest": must be a Redis 7 image (or Valkey 7.2 or 8) pinned to an exact version tag, as name:tag or name:tag@sha256:<64 hex digits> (the name may start with a registry host and port such as "registry.example.com:5000/"), e.g. "redis:7.2.16-alpine".',
    ],
    [
      "image of Redis 6",
      { redisImage: "redis:6.2.14" },
      'Invalid lowcode-redis:redisImage "redis:6.2.14": must be a Redis 7 image (or Valkey 7.2 or 8) pinned to an exact version tag, as name:tag or name:tag@sha256:<64 hex digits> (the name may start with a registry host and port such as "registry.example.com:5000/"), e.g. "redis:7.2.16-alpine".',
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
    assert.equal(cfg.resources.memoryLimit, "816Mi"); // 2 x 384 + 48 for the clients
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

  it("derives the memory limit from maxmemory with fork headroom and the clients' bound", () => {
    // 2 x 1024, and maxmemory-clients: 4 x proto-max-bulk-len, a 32nd of maxmemory.
    assert.equal(resolve({ maxmemory: "1gb" }).resources.memoryLimit, "2176Mi");
    assert.equal(
      resolve({ maxmemory: "1gb", protoMaxBulkLen: "8mb" }).resources.memoryLimit,
      "2080Mi",
    );
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

/** The one problem `values` has; fails unless there is exactly one. */
function problem(values: Record<string, unknown>, secretKeys: string[] = []): string {
  const found = problems(values, secretKeys);
  assert.equal(found.length, 1, `expected one problem, got:\n  ${found.join("\n  ")}`);
  return found[0];
}

const CONTROL =
  "must not hold control characters (U+0000 to U+001F, U+007F: line breaks, tabs…), which would split or hide a line of the rendered config.";
const ADDRESSES =
  'must be IPv4 or IPv6 addresses (e.g. "127.0.0.1"), optionally prefixed with "-". Redis\'s "*" and "::*" mean every IPv4 and every IPv6 address';
const SUBNET =
  'must be a private IPv4 network (inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) with a prefix from /16 to /24, written as its network address, e.g. "172.28.0.0/24"';
const CHANNELS =
  "must be a list of 1 to 32 channel patterns of 1 to 128 characters: letters, digits and :_.@{}*?- starting with a letter or digit, so that no pattern can match a reserved channel such as __sentinel__:hello or __keyevent@0__:expired.";

describe("config validation: values that would reach redis.conf or sentinel.conf split or unparseable are refused", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      "maxmemory with a leading line break",
      { maxmemory: "\n384mb" },
      `Invalid lowcode-redis:maxmemory "\\n384mb": ${CONTROL}`,
    ],
    [
      "maxmemory with a trailing blank",
      { maxmemory: "384mb " },
      'Invalid lowcode-redis:maxmemory "384mb ": must be a memory size: a whole number with a unit b, kb, mb or gb (e.g. "384mb").',
    ],
    [
      "a tab in a master name",
      { masterName: "lowcode\tmaster" },
      `Invalid lowcode-redis:masterName "lowcode\\tmaster": ${CONTROL}`,
    ],
    [
      "NUL in a namespace",
      { namespace: "low\u0000code" },
      `Invalid lowcode-redis:namespace "low\\u0000code": ${CONTROL}`,
    ],
    [
      "DEL in a keyspace events string",
      { notifyKeyspaceEvents: "Ex\u007f" },
      `Invalid lowcode-redis:notifyKeyspaceEvents "Ex\\u007f": ${CONTROL}`,
    ],
    [
      "a line break inside a save point",
      { save: ["900 1\nslaveof 10.0.0.1 6379"] },
      `Invalid lowcode-redis:save ["900 1\\nslaveof 10.0.0.1 6379"]: ${CONTROL}`,
    ],
    [
      "a line break inside a save point given as JSON",
      { save: '["900 1\\nappendonly no"]' },
      `Invalid lowcode-redis:save "[\\"900 1\\\\nappendonly no\\"]": ${CONTROL}`,
    ],
    [
      "a carriage return in a bind address",
      { bind: ["127.0.0.1\r"] },
      `Invalid lowcode-redis:bind ["127.0.0.1\\r"]: ${CONTROL}`,
    ],
    [
      "a line break in an app channel",
      { appChannels: ["flow:*\n"] },
      `Invalid lowcode-redis:appChannels ["flow:*\\n"]: ${CONTROL}`,
    ],
    [
      "bind of colons only",
      { bind: [":::::"] },
      `Invalid lowcode-redis:bind [":::::"]: ${ADDRESSES}; ":::::" is not an address.`,
    ],
    [
      "bind of a dash and a colon",
      { bind: ["-:"] },
      `Invalid lowcode-redis:bind ["-:"]: ${ADDRESSES}; "-:" is not an address.`,
    ],
    [
      "bind of one colon",
      { bind: [":"] },
      `Invalid lowcode-redis:bind [":"]: ${ADDRESSES}; ":" is not an address.`,
    ],
    [
      "bind with two dashes",
      { bind: ["--127.0.0.1"] },
      `Invalid lowcode-redis:bind ["--127.0.0.1"]: ${ADDRESSES}; "--127.0.0.1" is not an address.`,
    ],
    [
      "bind of an empty string",
      { bind: [""] },
      `Invalid lowcode-redis:bind [""]: ${ADDRESSES}; "" is not an address.`,
    ],
    [
      "bind with leading zeros",
      { bind: ["127.000.0.1"] },
      `Invalid lowcode-redis:bind ["127.000.0.1"]: ${ADDRESSES}; "127.000.0.1" is not an address.`,
    ],
    [
      "bind with a zone id",
      { bind: ["fe80::1%eth0"] },
      `Invalid lowcode-redis:bind ["fe80::1%eth0"]: ${ADDRESSES}; "fe80::1%eth0" has a zone id, which Redis cannot bind.`,
    ],
    [
      "bind of an IPv4-mapped address",
      { bind: ["::ffff:127.0.0.1"] },
      `Invalid lowcode-redis:bind ["::ffff:127.0.0.1"]: ${ADDRESSES}; "::ffff:127.0.0.1" is an IPv4-mapped IPv6 address, which Redis cannot bind (its IPv6 sockets are IPv6-only); write the IPv4 address.`,
    ],
    [
      "bind of one address twice in two spellings",
      { bind: ["::1", "-0:0:0:0:0:0:0:1"] },
      'Invalid lowcode-redis:bind ["::1","-0:0:0:0:0:0:0:1"]: "::1" and "-0:0:0:0:0:0:0:1" are the same address; Redis would fail to bind it twice.',
    ],
    [
      "bind of a wildcard and an address of its family",
      { bind: ["0.0.0.0", "127.0.0.1"] },
      'Invalid lowcode-redis:bind ["0.0.0.0","127.0.0.1"]: "0.0.0.0" already listens on every IPv4 address, so Redis would fail to bind "127.0.0.1" as well.',
    ],
    [
      "bind of 17 addresses",
      { bind: Array.from({ length: 17 }, (_, i) => `127.0.0.${i + 1}`) },
      `Invalid lowcode-redis:bind ${JSON.stringify(Array.from({ length: 17 }, (_, i) => `127.0.0.${i + 1}`))}: must list at most 16 addresses (Redis binds at most 16).`,
    ],
    [
      "bind of 16 addresses in production (the node's own is added)",
      { ...PROD_STANDALONE, bind: Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`) },
      `Invalid lowcode-redis:bind ${JSON.stringify(Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`))}: must list at most 15 addresses: the production profile adds the node's own address, and Redis binds at most 16.`,
    ],
  ];
  for (const [what, values, message] of cases) {
    it(`refuses ${what}`, () => assert.equal(problem(values), message));
  }

  it("accepts Redis's own spellings and both families side by side", () => {
    assert.deepEqual(resolve({ bind: ["*", "-::*"] }).bind, ["*", "-::*"]);
    assert.deepEqual(resolve({ ...PROD_STANDALONE, bind: ["127.0.0.1", "-::1"] }).bind, [
      "127.0.0.1",
      "-::1",
    ]);
  });
});

describe("config validation: the production profile refuses every spelling of listening everywhere", () => {
  for (const spelling of [
    "0.0.0.0",
    "-0.0.0.0",
    "*",
    "-*",
    "::",
    "::0",
    "0::",
    "0:0:0:0:0:0:0:0",
    "::0:0",
    "-::",
    "::*",
    "-::*",
    "::0.0.0.0",
  ]) {
    it(`refuses ${JSON.stringify(spelling)}`, () =>
      assert.equal(
        problem({ ...PROD, bind: [spelling] }),
        `Invalid lowcode-redis:bind ${JSON.stringify([spelling])}: the production profile binds specific addresses; "${spelling}" listens everywhere.`,
      ));
  }
  it('refuses "::ffff:0.0.0.0" (no address Redis can bind)', () =>
    assert.equal(
      problem({ ...PROD, bind: ["::ffff:0.0.0.0"] }),
      `Invalid lowcode-redis:bind ["::ffff:0.0.0.0"]: ${ADDRESSES}; "::ffff:0.0.0.0" is an IPv4-mapped IPv6 address, which Redis cannot bind (its IPv6 sockets are IPv6-only); write the IPv4 address.`,
    ));
  it("names the wildcard among specific addresses", () =>
    assert.equal(
      problem({ ...PROD, bind: ["127.0.0.1", "0:0::0"] }),
      'Invalid lowcode-redis:bind ["127.0.0.1","0:0::0"]: the production profile binds specific addresses; "0:0::0" listens everywhere.',
    ));
});

describe("config validation: quantities no cluster or daemon accepts", () => {
  const STORAGE =
    'must be "" (derived from maxmemory) or whole bytes from 1Mi to 64Ti, such as "3Gi".';
  const LIMIT =
    'must be "" (derived from maxmemory) or whole bytes from 1Mi to 1Ti, such as "768Mi".';
  const CPU = 'must be whole millicores from 1m to 64 CPUs, such as "100m", "0.5" or "2".';
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["storageSize zero", { storageSize: "0" }, `Invalid lowcode-redis:storageSize "0": ${STORAGE}`],
    [
      "storageSize of milli-bytes",
      { storageSize: "0.5m" },
      `Invalid lowcode-redis:storageSize "0.5m": ${STORAGE}`,
    ],
    [
      "storageSize of a fraction of a byte",
      { storageSize: "1.1Ki" },
      `Invalid lowcode-redis:storageSize "1.1Ki": ${STORAGE}`,
    ],
    [
      "storageSize above 64Ti",
      { storageSize: "65Ti" },
      `Invalid lowcode-redis:storageSize "65Ti": ${STORAGE}`,
    ],
    [
      "storageSize with an exponent",
      { storageSize: "1e9" },
      'Invalid lowcode-redis:storageSize "1e9": must be a Kubernetes quantity such as "3Gi" (binary suffixes Ki, Mi, Gi, Ti or decimal m, k, M, G, T).',
    ],
    [
      "storageSize below five times maxmemory on Kubernetes",
      { ...PROD_STANDALONE, maxmemory: "2gb", storageSize: "9Gi" },
      'Invalid lowcode-redis:storageSize "9Gi": must be at least 10240Mi, 5 x lowcode-redis:maxmemory "2gb": the volume holds the AOF base, its increment and a rewrite\'s new base, dump.rdb and a BGSAVE\'s temp file, each up to the whole dataset (docs/operations/storage-and-memory.md); "" derives 13Gi.',
    ],
    [
      "the old default storageSize for the default maxmemory",
      { ...PROD, storageSize: "1Gi" },
      'Invalid lowcode-redis:storageSize "1Gi": must be at least 1920Mi, 5 x lowcode-redis:maxmemory "384mb": the volume holds the AOF base, its increment and a rewrite\'s new base, dump.rdb and a BGSAVE\'s temp file, each up to the whole dataset (docs/operations/storage-and-memory.md); "" derives 3Gi.',
    ],
    [
      "a huge memoryLimit",
      { memoryLimit: "99999999999999999999Gi" },
      `Invalid lowcode-redis:memoryLimit "99999999999999999999Gi": ${LIMIT}`,
    ],
    [
      "a memoryLimit in milli-bytes",
      { memoryLimit: "768m" },
      `Invalid lowcode-redis:memoryLimit "768m": ${LIMIT}`,
    ],
    [
      "a memoryLimit above 1Ti",
      { memoryLimit: "2Ti" },
      `Invalid lowcode-redis:memoryLimit "2Ti": ${LIMIT}`,
    ],
    ["cpuRequest zero", { cpuRequest: "0" }, `Invalid lowcode-redis:cpuRequest "0": ${CPU}`],
    [
      "cpuRequest zero millicores",
      { cpuRequest: "0m" },
      `Invalid lowcode-redis:cpuRequest "0m": ${CPU}`,
    ],
    [
      "cpuRequest below 1m",
      { cpuRequest: "0.5m" },
      `Invalid lowcode-redis:cpuRequest "0.5m": ${CPU}`,
    ],
    [
      "cpuRequest of a fraction of a millicore",
      { cpuRequest: "0.0001" },
      `Invalid lowcode-redis:cpuRequest "0.0001": ${CPU}`,
    ],
    [
      "cpuRequest above 64 CPUs",
      { cpuRequest: "65" },
      `Invalid lowcode-redis:cpuRequest "65": ${CPU}`,
    ],
    [
      "cpuRequest in kilo-CPUs",
      { cpuRequest: "1k" },
      `Invalid lowcode-redis:cpuRequest "1k": ${CPU}`,
    ],
    [
      "cpuRequest negative",
      { cpuRequest: "-1" },
      'Invalid lowcode-redis:cpuRequest "-1": must be a Kubernetes quantity such as "100m" (binary suffixes Ki, Mi, Gi, Ti or decimal m, k, M, G, T).',
    ],
    [
      "dockerSubnet with host bits",
      { dockerSubnet: "172.28.1.0/16" },
      `Invalid lowcode-redis:dockerSubnet "172.28.1.0/16": ${SUBNET} (host bits are set: the network is 172.28.0.0/16).`,
    ],
    [
      "dockerSubnet with host bits in the last octet",
      { dockerSubnet: "10.1.2.128/24" },
      `Invalid lowcode-redis:dockerSubnet "10.1.2.128/24": ${SUBNET} (host bits are set: the network is 10.1.2.0/24).`,
    ],
    [
      "dockerSubnet public",
      { dockerSubnet: "8.8.8.0/24" },
      `Invalid lowcode-redis:dockerSubnet "8.8.8.0/24": ${SUBNET}.`,
    ],
    [
      "dockerSubnet straddling 172.16/12",
      { dockerSubnet: "172.32.0.0/16" },
      `Invalid lowcode-redis:dockerSubnet "172.32.0.0/16": ${SUBNET}.`,
    ],
    [
      "dockerSubnet /25",
      { dockerSubnet: "192.168.1.0/25" },
      `Invalid lowcode-redis:dockerSubnet "192.168.1.0/25": ${SUBNET}.`,
    ],
    [
      "dockerSubnet /15",
      { dockerSubnet: "10.0.0.0/15" },
      `Invalid lowcode-redis:dockerSubnet "10.0.0.0/15": ${SUBNET}.`,
    ],
    [
      "dockerSubnet with leading zeros",
      { dockerSubnet: "010.0.0.0/16" },
      `Invalid lowcode-redis:dockerSubnet "010.0.0.0/16": ${SUBNET}.`,
    ],
    [
      "dockerSubnet with an octet above 255",
      { dockerSubnet: "10.256.0.0/16" },
      `Invalid lowcode-redis:dockerSubnet "10.256.0.0/16": ${SUBNET}.`,
    ],
    [
      "port as a string with blanks",
      { port: " 6380" },
      'Invalid lowcode-redis:port " 6380": must be a whole number from 1 to 65535.',
    ],
    [
      "port as a string with a trailing line break",
      { port: "6380\n" },
      `Invalid lowcode-redis:port "6380\\n": ${CONTROL}`,
    ],
    [
      "databases as an exponent string",
      { databases: "1e1" },
      'Invalid lowcode-redis:databases "1e1": must be a whole number from 6 to 64.',
    ],
    [
      "maxclients with a leading zero",
      { maxclients: "0100" },
      'Invalid lowcode-redis:maxclients "0100": must be a whole number from 1 to 100000.',
    ],
    [
      "port as a decimal string",
      { port: "6380.0" },
      'Invalid lowcode-redis:port "6380.0": must be a whole number from 1 to 65535.',
    ],
    [
      "port as a hexadecimal string",
      { port: "0x18eb" },
      'Invalid lowcode-redis:port "0x18eb": must be a whole number from 1 to 65535.',
    ],
    [
      "appendonly in capitals",
      { appendonly: "TRUE" },
      'Invalid lowcode-redis:appendonly "TRUE": must be true or false.',
    ],
    [
      "a list as JSON with leading blanks",
      { save: ' ["60 1"]' },
      'Invalid lowcode-redis:save " [\\"60 1\\"]": must be a list of "<seconds> <changes>" strings.',
    ],
    [
      "keyspace events without K or E",
      { notifyKeyspaceEvents: "x" },
      'Invalid lowcode-redis:notifyKeyspaceEvents "x": must be "" (off) or name K and/or E and at least one event class from g$lshzxetdmnA (e.g. "Ex"): Redis delivers nothing otherwise.',
    ],
    [
      "keyspace events without an event class",
      { notifyKeyspaceEvents: "KE" },
      'Invalid lowcode-redis:notifyKeyspaceEvents "KE": must be "" (off) or name K and/or E and at least one event class from g$lshzxetdmnA (e.g. "Ex"): Redis delivers nothing otherwise.',
    ],
    [
      "an image path with an empty component",
      { redisImage: "docker.io//redis:7.2.5" },
      'Invalid lowcode-redis:redisImage "docker.io//redis:7.2.5": must be a Redis 7 image (or Valkey 7.2 or 8) pinned to an exact version tag, as name:tag or name:tag@sha256:<64 hex digits> (the name may start with a registry host and port such as "registry.example.com:5000/"), e.g. "redis:7.2.16-alpine".',
    ],
    [
      "a storage class with an empty label",
      { storageClass: "fast..ssd" },
      'Invalid lowcode-redis:storageClass "fast..ssd": must be "" (the cluster default) or a DNS-1123 name (dot-separated lowercase labels).',
    ],
    [
      "Docker's predefined host network",
      { dockerNetwork: "host" },
      `Invalid lowcode-redis:dockerNetwork "host": must be a network of the platform, not one of Docker's predefined networks bridge, host, none.`,
    ],
    [
      "an image reference longer than Docker allows",
      { redisImage: `${"r".repeat(250)}:7.2.5` },
      `Invalid lowcode-redis:redisImage "${"r".repeat(250)}:7.2.5": must be a Redis 7 image (or Valkey 7.2 or 8) pinned to an exact version tag, as name:tag or name:tag@sha256:<64 hex digits> (the name may start with a registry host and port such as "registry.example.com:5000/"), e.g. "redis:7.2.16-alpine".`,
    ],
    [
      "a null profile (an empty YAML value)",
      { profile: null },
      "Invalid lowcode-redis:profile null: must be one of dev, production.",
    ],
  ];
  for (const [what, values, message] of cases) {
    it(`refuses ${what}`, () => assert.equal(problem(values), message));
  }

  it("accepts whole quantities in every spelling Kubernetes reads the same", () => {
    const cfg = resolve({
      ...PROD_STANDALONE,
      cpuRequest: "0.25",
      storageSize: "1.875Gi",
      memoryLimit: "1024Mi",
    });
    assert.equal(cfg.resources.cpuRequest, "0.25");
    assert.equal(cfg.resources.memoryLimitBytes, 1024 ** 3);
    // 1.875Gi = 1920Mi: exactly 5 x maxmemory 384mb, the least accepted.
    assert.equal(cfg.kubernetes.storageSize, "1.875Gi");
    assert.equal(resolve({ dockerSubnet: "192.168.0.0/16" }).docker.subnet, "192.168.0.0/16");
  });

  it("checks storageSize against maxmemory only where a volume is made (Kubernetes)", () => {
    assert.equal(
      resolve({ ...DEV, maxmemory: "2gb", storageSize: "1Gi" }).kubernetes.storageSize,
      "1Gi",
    );
  });

  it("derives storageSize from maxmemory: 5 x maxmemory + 25%, whole Gi (Mi below 1Gi)", () => {
    // 384mb: 5 x 384 = 1920Mi, + 25% = 2400Mi, 3Gi; at least the minimum.
    assert.equal(resolve(PROD).kubernetes.storageSize, "3Gi");
    assert.equal(resolve({ ...PROD, maxmemory: "2gb" }).kubernetes.storageSize, "13Gi");
    assert.equal(resolve({ ...PROD, maxmemory: "64mb" }).kubernetes.storageSize, "400Mi");
    for (const maxmemory of ["1mb", "100mb", "384mb", "1000mb", "7gb", "64gb"]) {
      const cfg = resolve({ ...PROD, maxmemory, memoryLimit: "" });
      const bytes = Number(wholeQuantity(cfg.kubernetes.storageSize));
      assert.ok(
        bytes >= 5 * cfg.redis.maxmemoryBytes,
        `${maxmemory}: ${cfg.kubernetes.storageSize}`,
      );
    }
  });
});

const DNS_NAME =
  "must be a DNS name: dot-separated DNS-1123 labels (lowercase letters, digits and '-', at most 63 characters each), at most 253 characters in all, e.g. \"cluster.local\".";

describe("config validation: the cluster domain, the Docker network choice and the memory a group needs", () => {
  const label63 = "a".repeat(63);
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      "a cluster domain in capitals",
      { clusterDomain: "Cluster.Local" },
      `Invalid lowcode-redis:clusterDomain "Cluster.Local": ${DNS_NAME}`,
    ],
    [
      "a cluster domain with a trailing dot",
      { clusterDomain: "cluster.local." },
      `Invalid lowcode-redis:clusterDomain "cluster.local.": ${DNS_NAME}`,
    ],
    [
      "a cluster domain with an empty label",
      { clusterDomain: "cluster..local" },
      `Invalid lowcode-redis:clusterDomain "cluster..local": ${DNS_NAME}`,
    ],
    [
      "a cluster domain with a label starting with '-'",
      { clusterDomain: "-cluster.local" },
      `Invalid lowcode-redis:clusterDomain "-cluster.local": ${DNS_NAME}`,
    ],
    [
      "a cluster domain with an underscore",
      { clusterDomain: "my_cluster.local" },
      `Invalid lowcode-redis:clusterDomain "my_cluster.local": ${DNS_NAME}`,
    ],
    [
      "a cluster domain with a label of 64 characters",
      { clusterDomain: `${label63}a.local` },
      `Invalid lowcode-redis:clusterDomain "${label63}a.local": ${DNS_NAME}`,
    ],
    [
      "a cluster domain of 255 characters",
      { clusterDomain: [label63, label63, label63, label63].join(".") },
      `Invalid lowcode-redis:clusterDomain "${[label63, label63, label63, label63].join(".")}": ${DNS_NAME}`,
    ],
    [
      "an empty cluster domain",
      { clusterDomain: "" },
      `Invalid lowcode-redis:clusterDomain "": ${DNS_NAME}`,
    ],
    [
      "a cluster domain of the wrong type",
      { clusterDomain: 5 },
      `Invalid lowcode-redis:clusterDomain 5: ${DNS_NAME}`,
    ],
    [
      "dockerNetworkCreate as yes",
      { dockerNetworkCreate: "yes" },
      'Invalid lowcode-redis:dockerNetworkCreate "yes": must be true or false.',
    ],
    [
      "dockerNetworkCreate as a number",
      { dockerNetworkCreate: 0 },
      "Invalid lowcode-redis:dockerNetworkCreate 0: must be true or false.",
    ],
    [
      "a group's maxmemory leaving no room for the replication buffers",
      { ...PROD, maxmemory: "700mb", memoryLimit: "1Gi" },
      'Invalid lowcode-redis:maxmemory "700mb": must leave, after 84mb for the clients and 382mb of replication buffers (2 replicas x 175mb, a quarter of maxmemory, + 32mb backlog), 25% of the rest of lowcode-redis:memoryLimit "1Gi" free for forks (at most 508mb).',
    ],
    [
      "a group's maxmemory one mb above what fits",
      { ...PROD, maxmemory: "509mb", memoryLimit: "1Gi" },
      'Invalid lowcode-redis:maxmemory "509mb": must leave, after 60mb for the clients and 288mb of replication buffers (2 replicas x 128mb, a quarter of maxmemory, + 32mb backlog), 25% of the rest of lowcode-redis:memoryLimit "1Gi" free for forks (at most 508mb).',
    ],
    [
      "the standalone limit for a group of 5",
      { ...PROD, replicas: 5, memoryLimit: "768Mi" },
      'Invalid lowcode-redis:maxmemory "384mb": must leave, after 48mb for the clients and 416mb of replication buffers (4 replicas x 96mb, a quarter of maxmemory, + 32mb backlog), 25% of the rest of lowcode-redis:memoryLimit "768Mi" free for forks (at most 268mb).',
    ],
  ];
  for (const [what, values, message] of cases) {
    it(`refuses ${what}`, () => assert.equal(problem(values), message));
  }

  it("accepts DNS names of one or more labels, up to 63 characters each and 253 in all", () => {
    for (const domain of [
      "k8s",
      "corp.example",
      "a-1.b-2.internal",
      [label63, label63, label63, "a".repeat(61)].join("."),
    ]) {
      assert.equal(resolve({ ...PROD, clusterDomain: domain }).kubernetes.clusterDomain, domain);
    }
    assert.equal(resolve(PROD).kubernetes.clusterDomain, "cluster.local");
  });

  it("creates the Docker network by default, joins the existing one when false", () => {
    assert.equal(resolve(DEV).docker.createNetwork, true);
    assert.equal(resolve({ ...DEV, dockerNetworkCreate: "false" }).docker.createNetwork, false);
  });

  it("defaults a group's limit to twice maxmemory plus a quarter of it per replica plus the backlog and the clients", () => {
    const cfg = resolve(PROD);
    assert.equal(cfg.resources.memoryLimit, "1040Mi"); // 2 x 384 + 2 x 96 + 32 + 48
    assert.deepEqual(cfg.redis.replicationBuffers, {
      replicaHardMb: 96,
      replicaSoftMb: 48,
      replicaSoftSeconds: 60,
      backlogMb: 32,
      reservedBytes: 224 * 1024 ** 2,
    });
    assert.equal(
      resolve({ ...PROD, replicas: 5, maxmemory: "1gb" }).resources.memoryLimit,
      "3232Mi",
    );
    // Standalone: no replicas, no buffers; twice maxmemory and the clients.
    assert.equal(resolve(DEV).resources.memoryLimit, "816Mi");
    assert.equal(resolve(DEV).redis.replicationBuffers.reservedBytes, 0);
  });

  it("accepts a group's maxmemory exactly at the edge of a set limit", () => {
    assert.equal(
      resolve({ ...PROD, maxmemory: "508mb", memoryLimit: "1Gi" }).redis.maxmemory,
      "508mb",
    );
    // Buffers 2 x 127 + 32 = 286mb, clients 4 x 15 = 60mb; 508 is within 75% of the 678mb left of 1024.
  });

  it("every default limit passes its own validation, from 1 to 9 nodes and 1mb to 64gb", () => {
    for (const replicas of [2, 3, 5, 9])
      for (const maxmemory of ["1mb", "3mb", "384mb", "1000mb", "7gb", "64gb"]) {
        const values = { ...PROD, replicas, maxmemory };
        assert.doesNotThrow(() => resolve(values), JSON.stringify(values));
      }
  });
});

describe("config validation: the stack name, secret shapes and prototype keys", () => {
  it("refuses a stack name that would not fit a rendered header", () => {
    for (const stack of ["", "a b", "prod\n# injected", "x".repeat(101), "../prod"]) {
      let message = "";
      try {
        resolve({}, stack);
      } catch (err) {
        message = (err as ConfigError).message;
      }
      assert.equal(
        message,
        `Invalid stack name ${JSON.stringify(stack)}: must be 1 to 100 letters, digits, '_', '.' or '-' (it is written into the header of every rendered file).`,
      );
    }
  });

  it("refuses a secret given as { secure: <not a ciphertext> } without showing it", () => {
    for (const secure of [5, null, "", ["x"], { nested: "x" }]) {
      assert.equal(
        problem({ ...PROD_STANDALONE, appPassword: { secure } }, ["appPassword"]),
        'Invalid lowcode-redis:appPassword (secret value not shown): an encrypted value is { secure: "<ciphertext>" } as "pulumi config set --secret" writes it.',
      );
    }
    assert.equal(
      problem({ ...PROD_STANDALONE, adminPassword: { secure: "v1:abc", also: 1 } }, [
        "adminPassword",
      ]),
      'Invalid lowcode-redis:adminPassword (secret value not shown): an encrypted value is { secure: "<ciphertext>" } as "pulumi config set --secret" writes it.',
    );
  });

  it("refuses a key other than a password stored as a secret, without showing it", () => {
    const message =
      'Invalid lowcode-redis:maxmemory (secret value not shown): only defaultPassword, appPassword, appPasswordPrevious, adminPassword, backupS3AccessKeyId, backupS3SecretAccessKey, commanderPassword may be set with --secret; this value is written in clear into the rendered config, so set it with "pulumi config set lowcode-redis:maxmemory <value>".';
    assert.equal(problem({ maxmemory: { secure: "v1:abc" } }), message);
    assert.equal(problem({ maxmemory: "512mb" }, ["maxmemory"]), message);
  });

  it("never shows a password, even one with control characters", () => {
    const found = problems({ ...DEV, defaultPassword: "line\nbreak-0123456789" }, [
      "defaultPassword",
    ]);
    assert.deepEqual(found, [
      `Invalid lowcode-redis:defaultPassword (secret value not shown): ${CONTROL}`,
    ]);
  });

  it("reads own keys only: __proto__, constructor and toString are unknown keys", () => {
    // JSON.parse, like the YAML parser, makes "__proto__" an own key.
    const values = JSON.parse(
      '{"__proto__": {"profile": "production"}, "constructor": "x", "toString": "y"}',
    ) as Record<string, unknown>;
    assert.ok(Object.hasOwn(values, "__proto__"));
    const found = problems(values);
    assert.deepEqual(
      found.map((p) => p.split(":").slice(0, 2).join(":")),
      [
        "Unknown config key lowcode-redis:__proto__",
        "Unknown config key lowcode-redis:constructor",
        "Unknown config key lowcode-redis:toString",
      ],
    );
  });

  it("does not read values inherited from a prototype", () => {
    const values = Object.create({ profile: "production", target: "kubernetes" }) as Record<
      string,
      unknown
    >;
    const cfg = resolve(values);
    assert.equal(cfg.profile, "dev");
    assert.equal(cfg.target, "docker");
  });

  it("suggests the key an unknown key most likely meant", () => {
    assert.match(problem({ maxmemroy: "1gb" }), / Did you mean lowcode-redis:maxmemory\?$/);
    assert.match(problem({ MaxMemory: "1gb" }), / Did you mean lowcode-redis:maxmemory\?$/);
    assert.doesNotMatch(problem({ zzzzzzzzzz: 1 }), /Did you mean/);
  });
});

describe("config: appChannels, the channels the app user may use besides keyspace notifications", () => {
  it('defaults to ["flow:*:cursors"]', () =>
    assert.deepEqual(resolve({}).appChannels, ["flow:*:cursors"]));

  it("accepts glob patterns that start with a letter or digit", () => {
    const channels = ["flow:*:cursors", "ui:{theme}:changed", "9lives", "a?b", "user@1.events-x_y"];
    assert.deepEqual(resolve({ appChannels: channels }).appChannels, channels);
    assert.deepEqual(resolve({ appChannels: '["chat:*"]' }).appChannels, ["chat:*"]);
    assert.equal(resolve({ appChannels: Array(32).fill("a") }).appChannels.length, 32);
    assert.deepEqual(resolve({ appChannels: ["a".repeat(128)] }).appChannels, ["a".repeat(128)]);
  });

  const refused: unknown[] = [
    [],
    ["__sentinel__:hello"],
    ["__keyevent@0__:expired"],
    ["*"],
    ["?sentinel__:hello"],
    ["_private"],
    ["flow:[ab]"],
    ["flow cursors"],
    ["flow\\*"],
    [""],
    ["a".repeat(129)],
    Array(33).fill("a"),
    "flow:*",
    [5],
    { channel: "flow:*" },
  ];
  for (const value of refused) {
    it(`refuses ${JSON.stringify(value).slice(0, 60)}`, () =>
      assert.equal(
        problem({ appChannels: value }),
        `Invalid lowcode-redis:appChannels ${JSON.stringify(value)}: ${CHANNELS}`,
      ));
  }
});
