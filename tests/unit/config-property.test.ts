import { strict as assert } from "node:assert";
import fc from "fast-check";
import { z } from "zod";
import { KEYS, KeyName, KeySpec } from "../../config/keys";
import { ConfigError, ResolvedConfig } from "../../config/resolve";
import {
  nodePlainFiles,
  nodeSecretFiles,
  sentinelPlainFiles,
  sentinelSecretFiles,
} from "../../render/files";
import { labels } from "../../render/kubernetes";
import { SecretValues } from "../../render/redis-conf";
import { DEV, PROD, PROD_STANDALONE, resolve } from "../helpers/config";

/** Every key of the table, with what the table says about it. */
const KEY_SPECS = Object.entries(KEYS) as [KeyName, KeySpec][];

/** Runs per key for the invalid values; the table has ~45 keys. */
const INVALID_RUNS = 100;
const VALID_RUNS = 200;

/** The values of an enum key, from its schema. */
const enumOptions = (spec: KeySpec): readonly string[] | undefined =>
  spec.schema instanceof z.ZodEnum ? (spec.schema.options as string[]) : undefined;

/** The bounds of an integer key, from its schema. */
function intRange(spec: KeySpec): [number, number] {
  assert.ok(spec.schema instanceof z.ZodNumber, "integer keys have a number schema");
  const { minValue, maxValue } = spec.schema;
  assert.ok(minValue !== null && maxValue !== null, "integer keys are bounded");
  return [minValue, maxValue];
}

/** JSON as a message shows it: JSON.stringify leaves U+007F raw, the messages escape it. */
const shown = (value: unknown) =>
  JSON.stringify(value).replace(/[\u007f-\u009f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);

/** Control characters, line breaks and tabs most often: those are what a parser might trim. */
const controlChar = fc.oneof(
  fc.constantFrom("\n", "\r", "\t"),
  fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)),
  fc.constant("\u007f"),
);

/** A string with one control character at its start, its end or inside (a line break would split a directive). */
const withControlChar = (base: fc.Arbitrary<string>) =>
  fc
    .tuple(base, controlChar, fc.oneof(fc.constant(0), fc.constant(-1), fc.nat()))
    .map(([s, c, at]) => {
      const i = at === -1 ? s.length : at % (s.length + 1);
      return s.slice(0, i) + c + s.slice(i);
    });

/** Junk no key's format accepts: it holds a blank, a quote or a backslash. */
const junk = fc
  .tuple(fc.string({ maxLength: 20 }), fc.constantFrom(" ", '"', "'", "\\", " #"), fc.nat())
  .map(([s, c, at]) => s.slice(0, at % (s.length + 1)) + c + s.slice(at % (s.length + 1)))
  .filter((s) => !/[\u0000-\u001f\u007f]/.test(s));

/** Objects that are no encrypted value (`{ secure: … }` has its own message). */
const plainObject = fc
  .dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string({ maxLength: 8 })), {
    maxKeys: 3,
  })
  .filter((o) => !Object.hasOwn(o, "secure"));

/** Near-miss spellings of an enum's values: case, a letter more or less, '_' for '-', blanks. */
const nearMiss = (options: readonly string[]) =>
  fc
    .tuple(
      fc.constantFrom(...options),
      fc.integer({ min: 0, max: 5 }),
      fc.string({ minLength: 1, maxLength: 1 }),
    )
    .map(
      ([v, how, c]) =>
        [
          v.toUpperCase(),
          v[0].toUpperCase() + v.slice(1),
          v + c,
          v.slice(0, -1),
          v.replace("-", "_").replace(/^([a-z]+)$/, "$1_"),
          ` ${v}`,
        ][how],
    )
    .filter((v) => !options.includes(v));

/** Values of the wrong JSON type for a declared type. */
function wrongType(type: KeySpec["type"]): fc.Arbitrary<unknown> {
  const others: fc.Arbitrary<unknown>[] = [fc.constant(null), plainObject];
  if (type !== "boolean") others.push(fc.boolean());
  if (type !== "integer")
    others.push(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
  if (type !== "array") others.push(fc.array(fc.integer(), { maxLength: 3 }));
  if (type === "array")
    others.push(fc.array(fc.oneof(fc.integer(), fc.boolean()), { minLength: 1, maxLength: 3 }));
  return fc.oneof(...others);
}

/** Invalid values of one key, derived from its declared type, schema and default. */
function invalidValues(key: KeyName, spec: KeySpec): fc.Arbitrary<unknown> {
  const kinds: fc.Arbitrary<unknown>[] = [wrongType(spec.type)];
  switch (spec.type) {
    case "integer": {
      const [min, max] = intRange(spec);
      kinds.push(
        fc.integer({ min: max + 1, max: max + 1e9 }),
        fc.integer({ min: min - 1e9, max: min - 1 }),
        fc.double({ min: min, max: max, noNaN: true }).filter((n) => !Number.isInteger(n)),
        // As the engine passes numbers (strings), with what Number() would read anyway.
        fc
          .tuple(
            fc.integer({ min, max }),
            fc.constantFrom(" %", "% ", "%.0", "%e0", "+%", "0x%", "%\n"),
          )
          .map(([n, form]) => form.replace("%", String(n))),
        fc.string({ maxLength: 10 }).filter((s) => !/^-?(0|[1-9]\d*)$/.test(s)),
      );
      break;
    }
    case "boolean":
      kinds.push(fc.string({ maxLength: 10 }).filter((s) => s !== "true" && s !== "false"));
      break;
    case "string": {
      const options = enumOptions(spec);
      kinds.push(junk, withControlChar(fc.constant(String(spec.default ?? "x"))));
      if (options)
        kinds.push(
          nearMiss(options),
          fc.string({ maxLength: 12 }).filter((s) => !options.includes(s)),
        );
      break;
    }
    case "array": {
      const element = ((spec.default as string[] | undefined)?.[0] ?? "127.0.0.1") as string;
      kinds.push(
        fc.array(junk, { minLength: 1, maxLength: 3 }),
        fc.array(withControlChar(fc.constant(element)), { minLength: 1, maxLength: 2 }),
        fc.integer({ min: 33, max: 40 }).map((n) => Array<string>(n).fill(element)),
        // Not a JSON list: as the engine passes a plain string.
        fc.string({ maxLength: 12 }).map((s) => `x${s}`),
      );
      break;
    }
  }
  void key;
  return fc.oneof(...kinds);
}

/** Invalid passwords: short, with blanks or quotes, with control characters, not strings. */
const invalidPasswords = fc.oneof(
  fc.string({ maxLength: 15 }),
  fc
    .tuple(fc.string({ minLength: 16, maxLength: 30 }), fc.constantFrom(" ", '"', "'", "\\"))
    .map(([s, c]) => s + c),
  withControlChar(fc.constant("Abcdefghij-0123456789")),
  fc.integer(),
  fc.boolean(),
  fc.array(fc.string(), { maxLength: 2 }),
);

function problemsOf(values: Record<string, unknown>, secretKeys: string[] = []): string[] {
  try {
    resolve(values, "prop", secretKeys);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return [...err.problems];
  }
  return [];
}

describe("config property: every key refuses malformed values, naming the key and the value", () => {
  it("derives the keys from the table", () => assert.ok(KEY_SPECS.length >= 40));

  for (const [key, spec] of KEY_SPECS) {
    if (spec.secret) {
      it(`${key}: refuses invalid passwords without showing them`, () => {
        const base = key === "defaultPassword" ? DEV : PROD_STANDALONE;
        fc.assert(
          fc.property(invalidPasswords, (value) => {
            const found = problemsOf({ ...base, [key]: value }, [key]);
            const mine = found.filter((p) =>
              p.startsWith(`Invalid lowcode-redis:${key} (secret value not shown): `),
            );
            assert.equal(mine.length, 1, `${key}=<hidden>: ${found.join(" | ")}`);
            // Without the key's own name: "3" is in backupS3AccessKeyId.
            const shownText = found.map((p) => p.replaceAll(`lowcode-redis:${key}`, ""));
            if (typeof value === "string" && value.length >= 6)
              assert.ok(!shownText.some((p) => p.includes(value)), "a password was shown");
            assert.ok(!shownText.some((p) => p.includes(JSON.stringify(value))));
          }),
          { numRuns: INVALID_RUNS },
        );
      });
      continue;
    }
    it(`${key}: refuses wrong types, out-of-range values, control characters and junk`, () => {
      fc.assert(
        fc.property(invalidValues(key, spec), (value) => {
          const found = problemsOf({ [key]: value });
          const expected = `Invalid lowcode-redis:${key} ${shown(value)}: `;
          assert.ok(
            found.some((p) => p.startsWith(expected) && p.endsWith(".")),
            `${key}=${shown(value)}: expected a problem starting with\n  ${expected}\ngot\n  ${found.join("\n  ")}`,
          );
        }),
        { numRuns: INVALID_RUNS },
      );
    });
  }
});

/** Dummy secrets: every secret file renders. */
const SECRETS: Required<SecretValues> = {
  defaultPassword: "dev-password-0123456789",
  appPassword: "app-password-0123456789",
  adminPassword: "admin-password-0123456789",
  probePassword: "probe-password-0123456789",
  commanderRedisPassword: "commander-password-0123456789",
  appPasswordPrevious: "app-previous-password-0123456789",
  exporterPassword: "exporter-password-0123456789",
  configCommand: "CONFIG_ABCDEFGHIJ0123456789",
  replicationPassword: "replication-password-0123456789",
  sentinelNodePassword: "sentinel-node-password-0123456789",
  sentinelClientPassword: "sentinel-client-password-0123456789",
  sentinelPeerPassword: "sentinel-peer-password-0123456789",
  failoverPassword: "failover-password-0123456789",
  backupPassword: "backup-password-0123456789",
  backupS3AccessKeyId: "AKIAEXAMPLE0123456789",
  backupS3SecretAccessKey: "s3-secret-0123456789",
};

function renderAll(cfg: ResolvedConfig): Record<string, string> {
  return {
    ...nodePlainFiles(cfg),
    ...nodeSecretFiles(cfg, SECRETS),
    ...prefixed("sentinel/", sentinelPlainFiles(cfg)),
    ...prefixed("sentinel/", sentinelSecretFiles(cfg, SECRETS)),
  };
}

const prefixed = (prefix: string, files: Record<string, string>) =>
  Object.fromEntries(Object.entries(files).map(([name, text]) => [prefix + name, text]));

/** The directive names (first words) of a config file's lines. */
const directives = (text: string) =>
  new Set(
    text
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#"))
      .map((line) => line.split(" ")[0]),
  );

/** Valid values of every key, derived from the table where it says enough. */
function validValues(): fc.Arbitrary<Record<string, unknown>> {
  const arbitraries: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, spec] of KEY_SPECS) {
    if (spec.secret) continue;
    const options = enumOptions(spec);
    if (options) arbitraries[key] = fc.constantFrom(...options);
    else if (spec.type === "boolean") arbitraries[key] = fc.boolean();
    else if (spec.type === "integer") {
      const [min, max] = intRange(spec);
      arbitraries[key] = fc.oneof(
        fc.integer({ min, max }),
        fc.integer({ min, max }).map(String), // as the engine passes it
      );
    }
  }
  const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,12}[a-z0-9])?$/);
  Object.assign(arbitraries, {
    redisImage: fc.constantFrom(
      "redis:7.2.5-alpine",
      "redis:7.0.15",
      "docker.io/library/redis:7.2.4-bookworm",
      `registry.example.com/cache/redis:7.4.1@sha256:${"a".repeat(64)}`,
    ),
    bind: fc.oneof(
      fc.constant([]),
      fc.shuffledSubarray(
        ["127.0.0.1", "-::1", "10.1.2.3", "-192.168.0.10", "fe80::1", "2001:db8::1"],
        {
          minLength: 1,
        },
      ),
      fc.constantFrom(["*", "-::*"], ["0.0.0.0"], ["::"]),
    ),
    maxmemory: fc.oneof(
      fc.integer({ min: 1, max: 2048 }).map((n) => `${n}mb`),
      fc.integer({ min: 1, max: 4 }).map((n) => `${n}GB`),
      fc.integer({ min: 2, max: 900 }).map((n) => `${n}m`),
    ),
    memoryLimit: fc.constantFrom("", "", "16Gi", "20000M"),
    cpuRequest: fc.oneof(
      fc.integer({ min: 1, max: 64000 }).map((n) => `${n}m`),
      fc.integer({ min: 1, max: 64 }).map(String),
      fc.constantFrom("0.5", "1.25", "0.001"),
    ),
    save: fc.array(
      fc
        .tuple(fc.integer({ min: 1, max: 9_999_999 }), fc.integer({ min: 1, max: 999_999_999 }))
        .map(([s, c]) => `${s} ${c}`),
      { maxLength: 8 },
    ),
    notifyKeyspaceEvents: fc.oneof(
      fc.constant(""),
      fc
        .tuple(fc.constantFrom("K", "E", "KE"), fc.subarray([..."g$lshzxetdmnA"], { minLength: 1 }))
        .map(([ke, classes]) => ke + classes.join("")),
    ),
    dbSessions: fc.constant(undefined),
    namespace: dnsLabel,
    storageSize: fc.oneof(
      fc.integer({ min: 5, max: 64 }).map((n) => `${n}Gi`),
      fc.constantFrom("5.5Gi", "10000M", "1Ti"),
    ),
    storageClass: fc.oneof(
      fc.constant(""),
      dnsLabel,
      fc.tuple(dnsLabel, dnsLabel).map(([a, b]) => `${a}.${b}`),
    ),
    dockerNetwork: fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}$/),
    dockerSubnet: fc.oneof(
      fc.tuple(fc.nat(255), fc.nat(255)).map(([b, c]) => `10.${b}.${c}.0/24`),
      fc.tuple(fc.integer({ min: 16, max: 31 }), fc.nat(255)).map(([b, c]) => `172.${b}.${c}.0/24`),
      fc.nat(255).map((b) => `10.${b}.0.0/16`),
      fc.nat(255).map((c) => `192.168.${c}.0/24`),
    ),
    masterName: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,20}$/),
    appChannels: fc.array(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9:_.@{}*?-]{0,20}$/), {
      minLength: 1,
      maxLength: 5,
    }),
  });
  const databases = fc.shuffledSubarray([...Array(16).keys()], { minLength: 6, maxLength: 6 });
  return fc
    .tuple(
      fc.record(arbitraries, { requiredKeys: [] }),
      databases,
      fc.integer({ min: 16, max: 64 }),
    )
    .map(([values, [s, f, c, co, r, q], count]) => {
      const v: Record<string, unknown> = { ...values };
      delete v.dbSessions;
      // Cross-key rules, satisfied by construction.
      Object.assign(v, {
        databases: count,
        dbSessions: s,
        dbFlowCache: f,
        dbComponents: c,
        dbCollaboration: co,
        dbRateLimiting: r,
        dbQueryCache: q,
      });
      const num = (x: unknown, fallback: number) => (x === undefined ? fallback : Number(x));
      const sentinels = Math.max(num(v.sentinels, 3), v.profile === "production" ? 3 : 1);
      v.sentinels = sentinels;
      v.quorum = Math.min(num(v.quorum, 2), sentinels);
      v.failoverTimeoutMs = Math.max(num(v.failoverTimeoutMs, 60000), 2 * num(v.downAfterMs, 5000));
      const replicas = num(v.replicas, 3);
      const nodes = v.topology === "sentinel" ? replicas : 1;
      v.minReplicasToWrite = Math.min(num(v.minReplicasToWrite, -1), nodes - 1);
      return v;
    });
}

describe("config property: whatever valid values, every rendered file holds whole lines of known directives", () => {
  const bases = [DEV, PROD_STANDALONE, PROD, { ...DEV, topology: "sentinel" }].flatMap((base) => [
    base,
    {
      ...base,
      appendonly: false,
      activedefrag: false,
      save: [],
      notifyKeyspaceEvents: "",
      minReplicasToWrite: base.topology === "sentinel" ? 1 : -1,
    },
  ]);
  const known = { redis: new Set<string>(), sentinel: new Set<string>() };
  before(() => {
    for (const base of bases) {
      const files = renderAll(resolve(base));
      for (const d of directives(files["redis.conf"])) known.redis.add(d);
      for (const d of directives(files["sentinel/sentinel.conf"])) known.sentinel.add(d);
    }
  });

  it("holds no control character but line breaks, and only the directives the renderer writes", () => {
    let rendered = 0;
    fc.assert(
      fc.property(validValues(), (values) => {
        let cfg: ResolvedConfig;
        try {
          cfg = resolve(values, "prop");
        } catch (err) {
          // Constraints between keys the generator does not model (production bind, memory).
          fc.pre(!(err instanceof ConfigError));
          throw err;
        }
        rendered++;
        for (const [name, text] of Object.entries(renderAll(cfg))) {
          const bad = /[\u0000-\u0009\u000b-\u001f\u007f]/.exec(text);
          assert.equal(bad, null, `${name} holds ${JSON.stringify(bad?.[0])}`);
        }
        const files = renderAll(cfg);
        for (const [file, allowed] of [
          ["redis.conf", known.redis],
          ["sentinel/sentinel.conf", known.sentinel],
        ] as const) {
          for (const d of directives(files[file]))
            assert.ok(allowed.has(d), `${file}: unexpected directive ${JSON.stringify(d)}`);
        }
      }),
      { numRuns: VALID_RUNS },
    );
    assert.ok(rendered >= VALID_RUNS / 2, `only ${rendered} generated configs were valid`);
  });
});

/** An address of a block, as a number, from its first address and prefix length. */
const inBlock = (first: number, prefix: number) =>
  fc.nat(2 ** (32 - prefix) - 1).map((offset) => (first + offset) >>> 0);

/** IPv4 addresses an off-site endpoint must never be: loopback, link-local, this-network, multicast, reserved. */
const neverOffsiteIpv4 = fc.oneof(
  inBlock(0x7f000000, 8),
  inBlock(0xa9fe0000, 16),
  fc.constant(0xa9fea9fe),
  inBlock(0, 8),
  inBlock(0xe0000000, 4),
  inBlock(0xf0000000, 4),
);
const privateIpv4 = fc.oneof(
  inBlock(0x0a000000, 8),
  inBlock(0xac100000, 12),
  inBlock(0xc0a80000, 16),
);

/** Every spelling the WHATWG URL parser (and inet_aton) reads as the same IPv4 address. */
const ipv4Spelling = (address: fc.Arbitrary<number>) =>
  fc.tuple(address, fc.integer({ min: 0, max: 6 })).map(([n, how]) => {
    const octets = [24, 16, 8, 0].map((s) => (n >>> s) & 255);
    return [
      octets.join("."),
      octets.map((o) => `0x${o.toString(16)}`).join("."),
      octets.map((o) => `0${o.toString(8)}`).join("."),
      String(n),
      `0x${n.toString(16)}`,
      `${octets[0]}.${n & 0xffffff}`,
      `${octets.join(".")}.`,
    ][how];
  });

const endpointOf = (host: fc.Arbitrary<string>) =>
  fc
    .tuple(fc.constantFrom("http", "https"), host, fc.option(fc.integer({ min: 1, max: 65535 })))
    .map(([scheme, h, port]) => `${scheme}://${h}${port === null ? "" : `:${port}`}`);

const segment = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,7}[a-z0-9])?$/);
const subpath = fc.array(segment, { maxLength: 3 }).map((s) => s.map((x) => `/${x}`).join(""));

const OFFSITE_BASE = {
  ...PROD,
  backupS3Bucket: "lowcode-backups",
  backupS3AccessKeyId: { secure: "v1:a" },
  backupS3SecretAccessKey: { secure: "v1:b" },
};

/** [key, stack values]: each stack sets one risky value. */
const riskyStacks: fc.Arbitrary<[string, Record<string, unknown>]> = fc.oneof(
  endpointOf(
    fc.oneof(
      ipv4Spelling(neverOffsiteIpv4),
      ipv4Spelling(privateIpv4),
      fc.constantFrom(
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[fe80::1]",
        "[FE80::abcd]",
        "[fd00:ec2::254]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[::]",
        "[fd12::5]",
        "localhost",
        "LOCALHOST",
        "minio.localhost",
        "localhost.",
        "metadata.google.internal",
        "kubernetes",
        "kubernetes.default.svc.cluster.local",
      ),
    ),
  ).map((e): [string, Record<string, unknown>] => [
    "backupS3Endpoint",
    { ...OFFSITE_BASE, backupS3Endpoint: e },
  ]),
  fc
    .oneof(
      fc.constantFrom(
        "0.0.0.0/0",
        "::/0",
        "169.254.169.254/32",
        "::1/128",
        "fe80::/10",
        "fd00:ec2::254/128",
      ),
      fc
        .tuple(fc.oneof(neverOffsiteIpv4, privateIpv4), fc.integer({ min: 1, max: 32 }))
        .map(([n, p]) => {
          const network = p === 32 ? n : (n & ~(2 ** (32 - p) - 1)) >>> 0;
          return `${[24, 16, 8, 0].map((s) => (network >>> s) & 255).join(".")}/${p}`;
        }),
      fc.constantFrom(
        "10.0.0.0/08",
        "fe80::1%eth0/64",
        "2001:db8::1/64",
        "2001:DB8::/32",
        "::ffff:10.0.0.0/104",
      ),
    )
    .map((cidr): [string, Record<string, unknown>] => [
      "networkPolicyOffsiteCidrs",
      {
        ...OFFSITE_BASE,
        backupS3Endpoint: "https://s3.example.com",
        networkPolicyOffsiteCidrs: [cidr],
      },
    ]),
  fc
    .oneof(
      fc
        .tuple(
          fc.constantFrom(
            "/etc",
            "/proc",
            "/sys",
            "/dev",
            "/root",
            "/run",
            "/var/run",
            "/usr",
            "/boot",
            "/var/lib/docker",
          ),
          subpath,
        )
        .map(([d, s]) => d + s),
      fc
        .tuple(
          subpath,
          fc.constantFrom("/.ssh", "/.docker", "/.kube", "/docker.sock", "/x.socket"),
          subpath,
        )
        .map(([a, b, c]) => `/srv${a}${b}${c}`),
      fc.constantFrom("/home", "/var", "/opt", "/tmp", "//etc"),
    )
    .map((d): [string, Record<string, unknown>] => ["backupHostDir", { ...DEV, backupHostDir: d }]),
  fc
    .oneof(
      subpath.filter((s) => s !== ""),
      fc.tuple(fc.integer({ min: 1, max: 3 }), subpath).map(([n, s]) => `${"../".repeat(n)}x${s}`),
      fc
        .tuple(
          segment,
          fc.constantFrom("$(id)", "`id`", ";", "|", "&", " ", "'", '"', "\\", "*", "~", "$HOME"),
        )
        .map(([s, m]) => `${s}${m}`),
      fc.tuple(fc.constantFrom(".git", ".github", "-x"), subpath).map(([a, s]) => a + s),
    )
    .map((d): [string, Record<string, unknown>] => ["renderYamlTo", { ...PROD, renderYamlTo: d }]),
  segment.map((s): [string, Record<string, unknown>] => [
    "appSecretNamespaces",
    {
      ...PROD,
      appSecretNamespaces: [
        `kube-${s}`
          .slice(0, 63)
          .replace(/[-_]+$/, "")
          .replace(/_/g, "-"),
      ],
    },
  ]),
  fc
    .tuple(fc.option(fc.constantFrom("registry.example.com/", "docker.io/library/")), segment)
    .filter(([, name]) => !["redis", "valkey"].includes(name) && !name.includes("_"))
    .map(([registry, name]): [string, Record<string, unknown>] => [
      "redisImage",
      { ...DEV, redisImage: `${registry ?? ""}${name}:7.2.5` },
    ]),
  fc
    .oneof(
      fc.tuple(fc.constantFrom("xn--", "sthree-", "amzn-s3-demo-"), segment).map(([p, s]) => p + s),
      fc
        .tuple(segment, fc.constantFrom("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
        .map(([s, x]) => s + x),
      fc.tuple(segment, segment).map(([a, b]) => `${a}..${b}`),
      fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `10.${a}.${b}.1`),
    )
    .map((b): [string, Record<string, unknown>] => [
      "backupS3Bucket",
      { ...OFFSITE_BASE, backupS3Bucket: b },
    ]),
  fc
    .tuple(fc.nat(255), fc.integer({ min: 16, max: 24 }))
    .map(([c, p]): [string, Record<string, unknown>] => [
      "dockerSubnet",
      {
        ...DEV,
        dockerSubnet: p === 16 ? "172.17.0.0/16" : `172.17.${c & (0xff << (24 - p)) & 255}.0/${p}`,
      },
    ]),
  fc
    .tuple(fc.constantFrom(...Object.keys(labels("x", "metrics"))), segment)
    .map(([k, v]): [string, Record<string, unknown>] => [
      "metricsLabels",
      { ...PROD, metricsServiceMonitor: true, metricsLabels: `release=prom,${k}=${v}` },
    ]),
  fc.constantFrom<[string, Record<string, unknown>]>(
    ["commanderIngressHost", { ...PROD, commanderIngressHost: "redis.example.com" }],
    [
      "commanderIngressHost",
      { ...PROD_STANDALONE, profile: "dev", commanderIngressHost: "redis.example.com" },
    ],
    ["networkPolicy", { ...PROD, networkPolicy: false }],
  ),
);

describe("config property: no risky value is accepted silently", () => {
  it("every stack with a risky value is refused, naming the key, or warned about it", () => {
    const seen = new Map<string, { refused: number; warned: number }>();
    fc.assert(
      fc.property(riskyStacks, ([key, values]) => {
        const secretKeys = ["backupS3AccessKeyId", "backupS3SecretAccessKey"].filter(
          (k) => k in values,
        );
        const found = problemsOf(values, secretKeys);
        const count = seen.get(key) ?? { refused: 0, warned: 0 };
        seen.set(key, count);
        if (found.length > 0) {
          assert.ok(
            found.some((p) => p.startsWith(`Invalid lowcode-redis:${key} `)),
            `${key}: ${found.join(" | ")}`,
          );
          count.refused++;
          return;
        }
        const { warnings } = resolve(values, "prop", secretKeys);
        assert.ok(
          warnings.some((w) => w.includes(`lowcode-redis:${key} `)),
          `${JSON.stringify(values[key])} was accepted without a warning`,
        );
        count.warned++;
      }),
      { numRuns: 600, seed: 19 },
    );
    // Every kind was generated.
    assert.equal(seen.size, 11, [...seen.keys()].join(", "));
  });
});
