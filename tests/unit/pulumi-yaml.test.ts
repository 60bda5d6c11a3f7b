import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { KEYS, KEY_NAMES, KeySpec } from "../../config/keys";
import { resolve } from "../helpers/config";

describe("Pulumi.yaml: declares every config key with the type, description and default the program validates with", () => {
  const project = parse(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.yaml"), "utf8"));

  it("is the lowcode-redis nodejs project", () => {
    assert.equal(project.name, "lowcode-redis");
    assert.equal(project.runtime.name, "nodejs");
  });

  for (const key of KEY_NAMES) {
    const spec: KeySpec = KEYS[key];
    it(`${key}`, () => {
      const declared = project.config[`lowcode-redis:${key}`];
      if (spec.secret || spec.default === undefined) {
        assert.equal(
          declared,
          undefined,
          "secrets and profile-dependent keys have no fixed default and are not declared",
        );
        return;
      }
      assert.ok(declared, "not declared");
      assert.equal(declared.type, spec.type);
      assert.equal(declared.description, spec.description);
      assert.deepEqual(declared.default, spec.default);
    });
  }

  it("every declared default passes validation", () => {
    const defaults = Object.fromEntries(
      Object.entries(project.config).map(([k, v]) => [
        k.split(":")[1],
        (v as { default: unknown }).default,
      ]),
    );
    assert.doesNotThrow(() => resolve(defaults));
  });
});
