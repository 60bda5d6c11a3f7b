import { strict as assert } from "node:assert";
import { ResolvedConfig } from "../../config/resolve";
import { K8sObject, redisObjects } from "../../render/kubernetes";
import { DEPLOYMENT_NAME } from "../../render/names";
import { PROD, PROD_STANDALONE, resolve } from "../helpers/config";
import { validateAgainstSchema } from "../helpers/k8s-schema";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const statefulSets = (cfg: ResolvedConfig): Json[] =>
  redisObjects(cfg, DEPLOYMENT_NAME).filter((o) => o.kind === "StatefulSet") as Json[];

describe("Kubernetes placement: zone spread, priority, tolerations, node selector, extra metadata", () => {
  it("soft by default: both StatefulSets spread over zones and nodes, maxSkew 1, ScheduleAnyway, counting only their own pods", () => {
    const sets = statefulSets(resolve(PROD, "prod"));
    assert.deepEqual(
      sets.map((s) => s.metadata.name),
      ["lowcode-redis", "lowcode-redis-sentinel"],
    );
    for (const s of sets) {
      const pod = s.spec.template.spec;
      assert.deepEqual(
        pod.topologySpreadConstraints.map((c: Json) => [
          c.topologyKey,
          c.maxSkew,
          c.whenUnsatisfiable,
        ]),
        [
          ["topology.kubernetes.io/zone", 1, "ScheduleAnyway"],
          ["kubernetes.io/hostname", 1, "ScheduleAnyway"],
        ],
      );
      for (const c of pod.topologySpreadConstraints) {
        // The workload's own selector: the sentinels never count the Redis pods, nor the reverse.
        assert.deepEqual(c.labelSelector.matchLabels, s.spec.selector.matchLabels);
        for (const [k, v] of Object.entries(c.labelSelector.matchLabels))
          assert.equal(s.spec.template.metadata.labels[k], v);
      }
      assert.equal(pod.priorityClassName, undefined);
      assert.equal(pod.tolerations, undefined);
      assert.equal(pod.nodeSelector, undefined);
      validateAgainstSchema(s as K8sObject);
    }
    assert.notDeepEqual(sets[0].spec.selector.matchLabels, sets[1].spec.selector.matchLabels);
  });

  it("hard: DoNotSchedule; none: no constraints; a standalone node spreads too", () => {
    for (const s of statefulSets(resolve({ ...PROD, zoneSpread: "hard" }, "prod")))
      assert.ok(
        s.spec.template.spec.topologySpreadConstraints.every(
          (c: Json) => c.whenUnsatisfiable === "DoNotSchedule",
        ),
      );
    for (const s of statefulSets(resolve({ ...PROD, zoneSpread: "none" }, "prod")))
      assert.equal(s.spec.template.spec.topologySpreadConstraints, undefined);
    assert.equal(statefulSets(resolve(PROD_STANDALONE, "prod")).length, 1);
    assert.equal(
      statefulSets(resolve(PROD_STANDALONE, "prod"))[0].spec.template.spec.topologySpreadConstraints
        .length,
      2,
    );
  });

  it("priorityClassName, tolerations, nodeSelector, podLabels and podAnnotations reach both pod templates, beside their own", () => {
    const cfg = resolve(
      {
        ...PROD,
        priorityClassName: "redis-critical",
        tolerations: ["dedicated=redis:NoSchedule", "spot"],
        nodeSelector: "node-pool=redis",
        podLabels: "team=platform",
        podAnnotations: ["example.com/owner=platform"],
      },
      "prod",
    );
    for (const s of statefulSets(cfg)) {
      const pod = s.spec.template.spec;
      assert.equal(pod.priorityClassName, "redis-critical");
      assert.deepEqual(pod.tolerations, [
        { key: "dedicated", operator: "Equal", value: "redis", effect: "NoSchedule" },
        { key: "spot", operator: "Exists" },
      ]);
      assert.deepEqual(pod.nodeSelector, { "node-pool": "redis" });
      const meta = s.spec.template.metadata;
      assert.equal(meta.labels.team, "platform");
      assert.equal(meta.annotations["example.com/owner"], "platform");
      // The program's own stay: the selector and the config digest.
      for (const [k, v] of Object.entries(s.spec.selector.matchLabels))
        assert.equal(meta.labels[k], v);
      assert.match(meta.annotations["lowcode.ton/config-sha256"], /^[0-9a-f]{64}$/);
      validateAgainstSchema(s as K8sObject);
    }
  });
});
