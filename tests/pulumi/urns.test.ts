import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockRecorder, isWrappedSecret } from "../helpers/pulumi-mocks";
import { GOLDEN_CASES, UPDATING, goldenConfig } from "../golden/cases";

const recorder = new MockRecorder();

/** Every URN the program registers, sorted: a changed name, type or parent changes one. */
function registeredUrns(): string[] {
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    getRegisteredResources(): Map<string, unknown>;
  };
  return [...monitor.getRegisteredResources().keys()].sort();
}

/** Secrets the cases' stack files give (the mocks stand in for the values). */
const SUPPLIED = {
  backupS3AccessKeyId: "golden-access-key",
  backupS3SecretAccessKey: "golden-secret-key",
};

/** Inputs as JSON, a secret as `{"[secret]": value}`: a value that loses its secrecy shows. */
function markSecrets(value: unknown): unknown {
  if (isWrappedSecret(value))
    return { "[secret]": markSecrets((value as { value: unknown }).value) };
  if (Array.isArray(value)) return value.map(markSecrets);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, markSecrets(v)]));
  return value;
}

function compareOrWrite(file: string, text: string): void {
  if (UPDATING) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  assert.equal(
    text,
    fs.readFileSync(file, "utf8"),
    `${path.relative(process.cwd(), file)} differs`,
  );
}

/**
 * A resource whose URN changes is deleted and created again by `pulumi up` (its data with it,
 * for a claim or a volume): the URNs of these stacks are kept in tests/golden/urns/.
 */
describe("resource URNs and inputs: each stack's equal the committed ones", () => {
  for (const name of Object.keys(GOLDEN_CASES)) {
    it(`${name}: tests/golden/urns/${name}.txt and tests/golden/inputs/${name}.json`, async () => {
      await recorder.deploy(goldenConfig(name), SUPPLIED);
      const golden = path.join(__dirname, "../golden");
      const urns = registeredUrns()
        .map((urn) => `${urn}\n`)
        .join("");
      compareOrWrite(path.join(golden, "urns", `${name}.txt`), urns);
      const inputs = Object.fromEntries(
        recorder.resources
          .map((r) => [`${r.type} ${r.name}`, markSecrets(r.inputs)] as const)
          .sort(([a], [b]) => a.localeCompare(b)),
      );
      compareOrWrite(
        path.join(golden, "inputs", `${name}.json`),
        `${JSON.stringify(inputs, null, 2)}\n`,
      );
    });
  }
});
