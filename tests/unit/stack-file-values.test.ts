import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { PulumiRefuses, pulumiConfigText } from "../../config/pulumi-value";
import { rawConfigFromEntries } from "../../config/raw-config";
import { ConfigError, ResolvedConfig, resolveConfig } from "../../config/resolve";
import { readStackFile } from "../../config/stack-file";

/**
 * What the Pulumi engine hands the program for each YAML text, decoded with Go's yaml.v3 as the
 * CLI's stack-file loader does (see the fixture's "about").
 */
const FIXTURE = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "fixtures", "pulumi-config-strings.json"), "utf8"),
) as { cases: Record<string, { text: string } | { refused: string }> };
const PULUMI = FIXTURE.cases;

/** The string the reader makes of `<key>: <text>`, or its refusal. */
function readerText(text: string): { text: string } | { refused: string } {
  const doc = parseDocument(`v: ${text}\n`);
  assert.deepEqual(doc.errors, [], text);
  try {
    return { text: pulumiConfigText(doc.get("v", true), doc) };
  } catch (err) {
    if (err instanceof PulumiRefuses) return { refused: err.message };
    throw err;
  }
}

let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-stack-values-"))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

type Outcome = { config: ResolvedConfig } | { problems: readonly string[] };
const outcome = (read: () => ResolvedConfig): Outcome => {
  try {
    return { config: read() };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    throw err;
  }
};

const BASE = { target: "docker", profile: "dev", topology: "standalone" };

/** `npm run render`'s path: the stack file, read and resolved. */
function fromFile(key: string, text: string): Outcome {
  const file = path.join(dir, "Pulumi.dev.yaml");
  const lines = Object.entries(BASE).map(([k, v]) => `  lowcode-redis:${k}: ${v}`);
  fs.writeFileSync(file, `config:\n${lines.join("\n")}\n  lowcode-redis:${key}: ${text}\n`);
  return outcome(() => resolveConfig(readStackFile(file, "dev")));
}

/** `pulumi up`'s path (pulumi-config.ts): the strings the engine hands over, resolved. */
function fromEngine(key: string, value: string): Outcome {
  const entries = [...Object.entries(BASE), [key, value]].map(
    ([k, v]) => [`lowcode-redis:${k}`, v, false] as const,
  );
  return outcome(() => resolveConfig(rawConfigFromEntries("dev", entries)));
}

/** The YAML forms a stack file may give a value in. */
const FORMS = [
  "0x18EB",
  "017",
  "0o17",
  "6379.0",
  "1e3",
  "6_379",
  "True",
  "TRUE",
  "yes",
  "on",
  "~",
  "null",
  '"6379"',
  "'017'",
  "'true'",
  "2024-01-01",
  "-6379",
  "+6379",
  "[017, 6379.0, true, ~]",
  "['127.0.0.1', 0x7f000001]",
];
/** One key of each declared type. */
const KEYS = ["port", "appendonly", "maxmemory", "bind"];

describe("stack file: every YAML value reads as the string Pulumi hands the program", () => {
  it(`matches what yaml.v3 and Pulumi make of ${Object.keys(PULUMI).length} YAML values`, () => {
    let tagged = 0;
    for (const [text, pulumi] of Object.entries(PULUMI)) {
      const read = readerText(text);
      // An explicit tag other than !!str is refused: stricter than Pulumi, never looser.
      if ("refused" in read && read.refused.startsWith("has the explicit tag ")) {
        tagged++;
        continue;
      }
      if ("refused" in pulumi) assert.ok("refused" in read, `${text}: Pulumi refuses it`);
      else assert.deepEqual(read, pulumi, text);
    }
    assert.ok(tagged <= 2, `${tagged} tagged values`);
  });

  for (const key of KEYS)
    for (const form of FORMS)
      it(`lowcode-redis:${key}: ${form} resolves as pulumi up resolves it`, () => {
        const pulumi = PULUMI[form];
        assert.ok(pulumi && "text" in pulumi, `${form} is in the fixture`);
        assert.deepEqual(fromFile(key, form), fromEngine(key, pulumi.text));
      });

  it("reads 017 as Go does, octal 15, and 0x18EB as 6379", () => {
    assert.deepEqual(fromFile("port", "017"), fromEngine("port", "15"));
    assert.equal((fromFile("port", "017") as { config: ResolvedConfig }).config.port, 15);
    assert.equal((fromFile("port", "0x18EB") as { config: ResolvedConfig }).config.port, 6379);
  });

  it('reads a null as "", as Pulumi hands it over', () =>
    assert.deepEqual(fromFile("port", "~"), {
      problems: ['Invalid lowcode-redis:port "": must be a whole number from 1 to 65535.'],
    }));

  it("reads a date as Go prints the time", () =>
    assert.deepEqual(fromFile("maxmemory", "2024-01-01"), {
      problems: [
        'Invalid lowcode-redis:maxmemory "2024-01-01 00:00:00 +0000 UTC": must be a memory size: a whole number with a unit b, kb, mb or gb (e.g. "384mb").',
      ],
    }));

  for (const [form, what] of [
    [".inf", "an infinite number"],
    ["-.inf", "an infinite number"],
    [".nan", "NaN"],
  ])
    it(`refuses ${form}, which stops Pulumi`, () => {
      assert.ok("refused" in PULUMI[form]);
      assert.deepEqual(fromFile("port", form), {
        problems: [
          `Invalid lowcode-redis:port "${form}": holds ${what}, which Pulumi cannot hand to the program (it stops with "json: unsupported value"); quote it to mean text.`,
        ],
      });
    });

  it("refuses a list holding .inf, naming the key", () =>
    assert.deepEqual(fromFile("bind", "[.inf]"), {
      problems: [
        'Invalid lowcode-redis:bind (a list): holds an infinite number, which Pulumi cannot hand to the program (it stops with "json: unsupported value"); quote it to mean text.',
      ],
    }));

  it("refuses an explicit tag it does not read as Pulumi does", () =>
    assert.deepEqual(fromFile("port", "!!int 017"), {
      problems: [
        'Invalid lowcode-redis:port "017": has the explicit tag !!int, which this reader does not read as Pulumi does; write the value without it (quote it to mean text).',
      ],
    }));

  it("reads !!str as text", () =>
    assert.deepEqual(fromFile("maxmemory", "!!str 512mb"), fromEngine("maxmemory", "512mb")));
});
