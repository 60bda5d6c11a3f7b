import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigEntry, parseConfigKey, rawConfigFromEntries } from "../../config/raw-config";
import { ConfigError, ResolvedConfig, resolveConfig } from "../../config/resolve";
import { loadStackConfig, readStackFile } from "../../config/stack-file";
import { printable } from "../../config/suggest";

const ROOT = path.resolve(__dirname, "..", "..");
const NOT_A_STACK_CONFIG = 'not a mapping with a "config" mapping of lowcode-redis:<key> values.';

let dir: string;
let counter = 0;

/** Writes `content` to a fresh temp file and returns its path. */
function stackFile(content: string | Buffer): string {
  const file = path.join(dir, `Pulumi.case${counter++}.yaml`);
  fs.writeFileSync(file, content);
  return file;
}

/** Every problem of loading `file` as the stack `stack`; fails when it loads. */
function fileProblems(file: string, stack = "prod"): string[] {
  try {
    loadStackConfig(stack, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return [...err.problems];
  }
  assert.fail(`${file} was accepted`);
}

function load(content: string, stack = "test"): ResolvedConfig {
  return loadStackConfig(stack, stackFile(content));
}

before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-stack-file-"))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("stack file: a file that is not a stack config is refused, never read as the defaults", () => {
  const cases: Array<[string, string | Buffer, (file: string) => string[]]> = [
    [
      "a YAML scalar",
      "hello\n",
      (f) => [
        `Stack config ${f} is not a stack config: it is a string ("hello"), ${NOT_A_STACK_CONFIG}`,
      ],
    ],
    [
      "a number",
      "42\n",
      (f) => [
        `Stack config ${f} is not a stack config: it is a number (42), ${NOT_A_STACK_CONFIG}`,
      ],
    ],
    [
      "a list",
      "- config\n- lowcode-redis:profile: production\n",
      (f) => [`Stack config ${f} is not a stack config: it is a list, ${NOT_A_STACK_CONFIG}`],
    ],
    [
      "an empty file",
      "",
      (f) => [`Stack config ${f} is not a stack config: it is empty, ${NOT_A_STACK_CONFIG}`],
    ],
    [
      "a file of comments only",
      "# lowcode-redis:profile: production\n",
      (f) => [`Stack config ${f} is not a stack config: it is empty, ${NOT_A_STACK_CONFIG}`],
    ],
    [
      "binary junk",
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00]),
      (f) => [`Cannot read stack config ${f}: it is not UTF-8 text.`],
    ],
    [
      "control-character junk that is UTF-8",
      "\u0001\u0002junk",
      (f) => [
        `Stack config ${f} is not a stack config: it is a string ("\\u0001\\u0002junk"), ${NOT_A_STACK_CONFIG}`,
      ],
    ],
    [
      "config: null",
      "config: null\n",
      (f) => [`Stack config ${f}: "config" must be a mapping of keys to values, not null.`],
    ],
    [
      "an empty config:",
      "config:\n",
      (f) => [`Stack config ${f}: "config" must be a mapping of keys to values, not null.`],
    ],
    [
      "config: holding a set",
      "config: !!set\n  ? lowcode-redis:profile\n",
      (f) => [`Stack config ${f}: "config" must be a mapping of keys to values, not a set.`],
    ],
    [
      "config: holding a list",
      "config:\n  - lowcode-redis:profile: production\n",
      (f) => [`Stack config ${f}: "config" must be a mapping of keys to values, not a list.`],
    ],
    [
      "config: holding a string",
      "config: lowcode-redis:profile=production\n",
      (f) => [
        `Stack config ${f}: "config" must be a mapping of keys to values, not a string ("lowcode-redis:profile=production").`,
      ],
    ],
    [
      "a misspelled top-level key (configg:)",
      "configg:\n  lowcode-redis:profile: production\n",
      (f) => [
        `Stack config ${f}: unknown top-level key configg; did you mean config? A stack file holds config, secretsprovider, encryptedkey, encryptionsalt, environment.`,
        `Stack config ${f} has no "config" mapping: a stack file sets its keys under config (lowcode-redis:<key>: <value>).`,
      ],
    ],
    [
      "an unknown top-level key beside config",
      "config: {}\nsecretprovider: passphrase\nowner: me\n",
      (f) => [
        `Stack config ${f}: unknown top-level key secretprovider; did you mean secretsprovider? A stack file holds config, secretsprovider, encryptedkey, encryptionsalt, environment.`,
        `Stack config ${f}: unknown top-level key owner. A stack file holds config, secretsprovider, encryptedkey, encryptionsalt, environment.`,
      ],
    ],
    [
      "no config at all",
      "encryptionsalt: v1:abc\n",
      (f) => [
        `Stack config ${f} has no "config" mapping: a stack file sets its keys under config (lowcode-redis:<key>: <value>).`,
      ],
    ],
    [
      "a value with an unknown tag",
      "config:\n  lowcode-redis:port: !port 6380\n",
      (f) => [`Stack config ${f}: Unresolved tag: !port at line 2, column 23.`],
    ],
    [
      "a key that is a list",
      "config:\n  ? [lowcode-redis:port]\n  : 6380\n",
      (f) => [
        `Stack config ${f}: a key must be a plain name, not a list or mapping (at line 2, column 5).`,
      ],
    ],
    [
      "a key given twice",
      "config:\n  lowcode-redis:port: 6380\n  lowcode-redis:port: 6381\n",
      (f) => [`Stack config ${f} is not valid YAML: Map keys must be unique at line 3, column 3.`],
    ],
    [
      "two documents",
      "config: {}\n---\nconfig: {}\n",
      (f) => [
        `Stack config ${f} is not valid YAML: Source contains multiple documents; please use YAML.parseAllDocuments() at line 2, column 1.`,
      ],
    ],
  ];
  for (const [what, content, expected] of cases) {
    it(`refuses ${what}`, () => {
      const file = stackFile(content);
      assert.deepEqual(fileProblems(file), expected(file));
    });
  }

  it("never shows the line of a YAML error: it may hold a password", () => {
    const file = stackFile('config:\n  lowcode-redis:appPassword: "Sup3r-Secret-Passw0rd\n');
    const [message] = fileProblems(file);
    assert.ok(message.startsWith(`Stack config ${file} is not valid YAML: `), message);
    assert.ok(!message.includes("Sup3r"), message);
  });

  it("refuses a stack name that is no name before reading a file", () =>
    assert.throws(
      () => loadStackConfig("../prod"),
      (err: ConfigError) =>
        err.message ===
        `Invalid stack name "../prod": must be 1 to 100 letters, digits, '_', '.' or '-' (it is written into the header of every rendered file).`,
    ));

  it("refuses a missing file, naming it", () => {
    const file = path.join(dir, "Pulumi.missing.yaml");
    assert.match(
      fileProblems(file)[0],
      /^Cannot read stack config .*Pulumi\.missing\.yaml: ENOENT/,
    );
  });

  it("accepts the stack file keys Pulumi writes", () => {
    const cfg = load(
      "secretsprovider: passphrase\nencryptionsalt: v1:abc\nencryptedkey: xyz\nenvironment:\n  - shared\nconfig:\n  lowcode-redis:profile: production\n  lowcode-redis:target: kubernetes\n",
    );
    assert.equal(cfg.profile, "production");
  });

  it("accepts an empty config mapping: the defaults, on purpose", () =>
    assert.equal(load("config: {}\n").profile, "dev"));
});

describe("config keys: parsed as Pulumi parses them, namespace:key or the legacy namespace:config:key", () => {
  const parsed: Array<[string, ReturnType<typeof parseConfigKey>]> = [
    ["lowcode-redis:port", { namespace: "lowcode-redis", name: "port" }],
    ["lowcode-redis:config:port", { namespace: "lowcode-redis", name: "port" }],
    ["kubernetes:context", { namespace: "kubernetes", name: "context" }],
    ["lowcode-redis:port:typo", undefined],
    ["lowcode-redis:config:port:typo", undefined],
    ["lowcode-redis:config:", undefined],
    ["port", undefined],
  ];
  for (const [key, expected] of parsed) {
    it(`${key} → ${JSON.stringify(expected)}`, () =>
      assert.deepEqual(parseConfigKey(key), expected));
  }

  it("refuses a key of our namespace with an extra segment, naming the full key", () => {
    assert.deepEqual(fileProblems(stackFile("config:\n  lowcode-redis:port:typo: 6380\n")), [
      "Invalid config key lowcode-redis:port:typo: a key is lowcode-redis:<name> (or the legacy lowcode-redis:config:<name>); did you mean lowcode-redis:port?",
    ]);
    assert.deepEqual(fileProblems(stackFile("config:\n  lowcode-redis:a:b:c: 1\n")), [
      "Invalid config key lowcode-redis:a:b:c: a key is lowcode-redis:<name> (or the legacy lowcode-redis:config:<name>).",
    ]);
  });

  it("refuses a key without a namespace, as Pulumi does", () =>
    assert.deepEqual(fileProblems(stackFile("config:\n  profile: production\n")), [
      "Invalid config key profile: a key is lowcode-redis:<name> (or the legacy lowcode-redis:config:<name>); did you mean lowcode-redis:profile?",
    ]));

  it("reads the legacy namespace:config:key form", () =>
    assert.equal(load("config:\n  lowcode-redis:config:port: 6380\n").port, 6380));

  it("refuses one key given in both forms", () =>
    assert.deepEqual(
      fileProblems(
        stackFile("config:\n  lowcode-redis:config:port: 6380\n  lowcode-redis:port: 6381\n"),
      ),
      [
        "Config key lowcode-redis:port is set twice, as lowcode-redis:config:port and as lowcode-redis:port: keep one.",
      ],
    ));

  it("reads the Pulumi engine's keys with the same parser", () => {
    const entries: ConfigEntry[] = [
      ["lowcode-redis:port:typo", "6380", false],
      ["lowcode-redis:config:maxmemory", "512mb", false],
      ["kubernetes:context", "prod-cluster", false],
    ];
    const raw = rawConfigFromEntries("prod", entries);
    assert.deepEqual(Object.keys(raw.values), ["maxmemory"]);
    assert.deepEqual(raw.otherNamespaceKeys, ["kubernetes:context"]);
    assert.throws(
      () => resolveConfig(raw),
      (err: ConfigError) =>
        err.problems[0] ===
        "Invalid config key lowcode-redis:port:typo: a key is lowcode-redis:<name> (or the legacy lowcode-redis:config:<name>); did you mean lowcode-redis:port?",
    );
  });
});

describe("config keys: our namespace misspelled is an error naming the key meant; a merely similar one a warning", () => {
  // Ignored, these would silently deploy defaults: lowcode_redis:profile production → the dev profile.
  const misspelled: Array<[string, string]> = [
    ["lowcode_redis:port", "lowcode-redis:port"],
    ["Lowcode-Redis:port", "lowcode-redis:port"],
    ["lowcoderedis:port", "lowcode-redis:port"],
    ["lowcode-redix:maxmemroy", "lowcode-redis:maxmemory"],
    ["lowcode_redis:config:topology", "lowcode-redis:topology"],
    ["lowcode\u2010redis:port", "lowcode-redis:port"], // a Unicode hyphen
    ["lowc\u043ede-redis:port", "lowcode-redis:port"], // a Cyrillic o
  ];
  for (const [key, meant] of misspelled) {
    it(`${JSON.stringify(key)} is refused`, () => {
      const shown = printable(key);
      assert.ok(
        fileProblems(stackFile(`config:\n  ${key}: 6380\n`)).includes(
          `Invalid config key ${shown}: its namespace is not lowcode-redis, so the setting would be ignored; did you mean ${meant}?`,
        ),
      );
    });
  }

  it("warns for a similar namespace that may be another program's", () => {
    const cfg = load("config:\n  lowcode:profile: production\n");
    assert.ok(
      cfg.warnings.includes(
        "lowcode:profile is not in the lowcode-redis namespace and is ignored; did you mean lowcode-redis:profile?",
      ),
      cfg.warnings.join("\n"),
    );
    assert.equal(cfg.profile, "dev", "the key is ignored");
  });

  it("gives provider keys no warning", () => {
    const cfg = load(
      "config:\n  kubernetes:context: prod\n  docker:host: unix:///var/run/docker.sock\n  random:seed: 1\n  pulumi:disable-default-providers: []\n",
    );
    assert.deepEqual(
      cfg.warnings.filter((w) => w.includes("namespace")),
      [],
    );
  });

  it("refuses them in the keys the Pulumi engine passes, too", () => {
    assert.throws(
      () =>
        resolveConfig(
          rawConfigFromEntries("prod", [["Lowcode-Redis:profile", "production", false]]),
        ),
      (err: ConfigError) =>
        err.problems.includes(
          "Invalid config key Lowcode-Redis:profile: its namespace is not lowcode-redis, so the setting would be ignored; did you mean lowcode-redis:profile?",
        ),
    );
  });
});

describe("stack file: prototype keys and secret shapes", () => {
  it("keeps lowcode-redis:__proto__ as data: profile is not read from it", () => {
    const raw = readStackFile(
      stackFile("config:\n  lowcode-redis:__proto__: {profile: production}\n"),
      "prod",
    );
    assert.equal(Object.getPrototypeOf(raw.values), null);
    assert.equal(raw.values.profile, undefined);
    assert.ok(Object.hasOwn(raw.values, "__proto__"));
    assert.match(
      fileProblems(stackFile("config:\n  lowcode-redis:__proto__: {profile: production}\n"))[0],
      /^Unknown config key lowcode-redis:__proto__: allowed keys are /,
    );
  });

  it("refuses constructor and toString as unknown keys", () =>
    assert.deepEqual(
      fileProblems(
        stackFile("config:\n  lowcode-redis:constructor: 1\n  lowcode-redis:toString: 2\n"),
      ).map((p) => p.slice(0, p.indexOf(": allowed"))),
      ["Unknown config key lowcode-redis:constructor", "Unknown config key lowcode-redis:toString"],
    ));

  it("refuses a secret that is not a ciphertext", () =>
    assert.deepEqual(
      fileProblems(
        stackFile(
          "config:\n  lowcode-redis:profile: production\n  lowcode-redis:target: kubernetes\n  lowcode-redis:appPassword:\n    secure: 12345\n",
        ),
      ),
      [
        'Invalid lowcode-redis:appPassword (secret value not shown): an encrypted value is { secure: "<ciphertext>" } as "pulumi config set --secret" writes it.',
      ],
    ));

  it("reads a ciphertext as a supplied secret", () => {
    const cfg = load(
      "config:\n  lowcode-redis:profile: production\n  lowcode-redis:target: kubernetes\n  lowcode-redis:appPassword:\n    secure: v1:AAAA:BBBB\n",
    );
    assert.deepEqual(cfg.suppliedSecrets, ["appPassword"]);
  });

  it("lists the file's problems and the values' problems at once", () => {
    const file = stackFile(
      "config:\n  lowcode-redis:port: 0\n  lowcode-redis:profile: qa\nowner: me\n",
    );
    assert.deepEqual(fileProblems(file), [
      `Stack config ${file}: unknown top-level key owner. A stack file holds config, secretsprovider, encryptedkey, encryptionsalt, environment.`,
      'Invalid lowcode-redis:profile "qa": must be one of dev, production.',
      // As the Pulumi program shows it: the engine hands every value over as a string.
      'Invalid lowcode-redis:port "0": must be a whole number from 1 to 65535.',
    ]);
  });
});

describe("npm run render: malformed config exits 2 with the message and writes nothing", () => {
  function render(config: string, stack = "x") {
    const out = fs.mkdtempSync(path.join(dir, "out-"));
    const result = spawnSync(
      "npm",
      [
        "run",
        "--silent",
        "render",
        "--",
        "--stack",
        stack,
        "--config",
        stackFile(config),
        "--out",
        out,
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
    );
    return { ...result, written: fs.readdirSync(out) };
  }

  it("a misspelled config: with --stack prod is refused, not rendered as the dev profile", () => {
    const result = render("configg:\n  lowcode-redis:profile: production\n", "prod");
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /unknown top-level key configg; did you mean config\?/);
    assert.deepEqual(result.written, []);
  });

  it("a line break in maxmemory", () => {
    const result = render('config:\n  lowcode-redis:maxmemory: "\\n384mb"\n');
    assert.equal(result.status, 2, result.stderr);
    assert.ok(
      result.stderr.includes(
        'Invalid lowcode-redis:maxmemory "\\n384mb": must not hold control characters',
      ),
      result.stderr,
    );
    assert.deepEqual(result.written, []);
  });

  it("production listening everywhere in another spelling", () => {
    const result = render(
      'config:\n  lowcode-redis:profile: production\n  lowcode-redis:bind: ["0:0:0:0:0:0:0:0"]\n',
    );
    assert.equal(result.status, 2, result.stderr);
    assert.ok(
      result.stderr.includes(
        'Invalid lowcode-redis:bind ["0:0:0:0:0:0:0:0"]: the production profile binds specific addresses; "0:0:0:0:0:0:0:0" listens everywhere.',
      ),
      result.stderr,
    );
  });
});

describe("config: more refusals found by trying (ports, multicast binds, alias bombs)", () => {
  it("Docker group: node ports past 65535 or onto the sentinels' ports", () => {
    const group = { target: "docker", profile: "production", topology: "sentinel" };
    for (const [hostPort, message] of [
      [
        65535,
        "Invalid lowcode-redis:hostPort 65535: must leave room for 3 nodes on hostPort + 0…2 (at most 65533).",
      ],
      [
        26378,
        "Invalid lowcode-redis:hostPort 26378: publishes the nodes on 26378-26380, which overlaps the sentinels' 26379-26381.",
      ],
    ] as const) {
      assert.throws(
        () => resolveConfig({ stack: "x", values: { ...group, hostPort }, secretKeys: new Set() }),
        (err: ConfigError) => err.problems.includes(message),
      );
    }
  });

  it("bind: multicast and broadcast addresses", () => {
    for (const address of ["224.0.0.1", "239.255.255.250", "255.255.255.255", "ff02::1"]) {
      assert.throws(
        () =>
          resolveConfig({
            stack: "x",
            values: { bind: [address] },
            secretKeys: new Set(),
          }),
        (err: ConfigError) =>
          err.problems.some((p) =>
            p.includes(
              `"${address}" is a multicast or broadcast address, which no server can listen on`,
            ),
          ),
      );
    }
  });

  it("an alias bomb is refused as invalid config, not a crash", () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    lines.push("config:", "  lowcode-redis:port: 6379");
    const problems = fileProblems(stackFile(lines.join("\n") + "\n"));
    assert.match(problems[0], /is not a stack config: .*alias/i);
  });
});
