import { strict as assert } from "node:assert";
import * as path from "node:path";
import { renderArtifacts } from "../../render/artifacts";
import { GOLDEN_CASES, UPDATING, goldenConfig, readTree, writeTree } from "../golden/cases";

/**
 * Golden snapshots: the whole `npm run render` output of each case, secrets as references, and
 * the warnings the config gets. A change to any rendered byte shows here; `npm run golden:update`
 * rewrites them when the change is meant.
 */
describe("golden snapshots: every rendered file of each case, byte for byte", () => {
  for (const name of Object.keys(GOLDEN_CASES)) {
    it(`${name}: the rendered files and warnings equal tests/golden/${name}/`, () => {
      const cfg = goldenConfig(name);
      const rendered = {
        ...renderArtifacts(cfg),
        "warnings.txt": cfg.warnings.map((w) => `${w}\n`).join(""),
      };
      const dir = path.join(__dirname, "../golden", name);
      if (UPDATING) writeTree(dir, rendered);
      const golden = readTree(dir);
      assert.deepEqual(Object.keys(rendered).sort(), Object.keys(golden).sort());
      for (const [file, content] of Object.entries(rendered))
        assert.equal(content, golden[file], `tests/golden/${name}/${file} differs`);
    });
  }
});
