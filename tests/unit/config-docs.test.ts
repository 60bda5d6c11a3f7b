import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { KEY_NAMES } from "../../config/keys";
import { CONFIG_DOC, configurationDoc } from "../../scripts/config-docs";

const ROOT = path.join(__dirname, "..", "..");

describe("docs/configuration.md: generated from the key registry, every key documented", () => {
  const committed = fs.readFileSync(path.join(ROOT, CONFIG_DOC), "utf8");

  it("is exactly what npm run docs:config writes (run it after changing config/keys.ts)", () => {
    assert.equal(committed, configurationDoc());
  });

  it("documents every key of the registry once", () => {
    for (const key of KEY_NAMES) {
      const entries = committed.split("\n").filter((line) => line.startsWith(`- **\`${key}\`** (`));
      assert.equal(entries.length, 1, `${key}: ${entries.length} entries`);
    }
  });

  it("documents every key Pulumi.yaml declares", () => {
    const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
    const declared = Object.keys(project.config as object).map((k) => k.split(":")[1]);
    assert.ok(declared.length > 0);
    for (const key of declared) assert.ok(committed.includes(`- **\`${key}\`** (`), key);
  });
});
