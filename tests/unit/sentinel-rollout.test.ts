import { strict as assert } from "node:assert";
import { sentinelObjects } from "../../render/kubernetes";
import { PROD, resolve } from "../helpers/config";

/** The pod template of the sentinel StatefulSet: what a rolling update compares. */
function sentinelPodTemplate(values: Record<string, unknown>): string {
  const statefulSet = sentinelObjects(
    resolve({ ...PROD, ...values }, "prod"),
    "lowcode-redis",
  ).find((o) => o.kind === "StatefulSet");
  assert.ok(statefulSet, "the sentinel StatefulSet");
  return JSON.stringify((statefulSet.spec as Record<string, unknown>).template);
}

describe("sentinel settings: a change rolls the sentinels, whose start applies it to their state", () => {
  const base = sentinelPodTemplate({});

  for (const [key, value] of [
    ["quorum", 3],
    ["downAfterMs", 3000],
    ["failoverTimeoutMs", 12000],
    ["sentinels", 5],
    ["replicas", 2],
  ] as const)
    it(`${key} ${value}: the sentinels' pod template changes`, () => {
      assert.notEqual(sentinelPodTemplate({ [key]: value }), base);
    });

  it("the same config renders the same pod template: nothing rolls without a change", () => {
    assert.equal(sentinelPodTemplate({}), base);
  });
});
