import { strict as assert } from "node:assert";
import { ResolvedConfig } from "../../config/resolve";
import { planDeployment } from "../../plan";
import { POD_SECURITY_LABELS } from "../../render/kubernetes";
import { GOLDEN_CASES, goldenConfig } from "../golden/cases";
import { PROD, resolve } from "../helpers/config";
import { podSpecOf, restrictedViolations } from "../helpers/pod-security";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every planned Kubernetes object of a stack. */
const objectsOf = (cfg: ResolvedConfig): Json[] =>
  planDeployment(cfg).units.flatMap((u) => u.objects.map((o) => o.object as Json));

/** The Kubernetes sample stacks, and prod with every optional pod: RedisInsight, a restore. */
const STACKS: [string, () => ResolvedConfig][] = [
  ...Object.keys(GOLDEN_CASES)
    .filter((name) => goldenConfig(name).target === "kubernetes")
    .map((name): [string, () => ResolvedConfig] => [name, () => goldenConfig(name)]),
  [
    "prod with RedisInsight and a restore",
    () =>
      resolve({ ...PROD, insightEnabled: true, restoreFrom: "prod-20260101T020000Z.rdb" }, "prod"),
  ],
];

describe("Pod Security Admission: the namespace enforces restricted, and every pod meets it", () => {
  it("the namespace the program creates enforces, audits and warns by the restricted profile", () => {
    const namespace = objectsOf(goldenConfig("prod")).find((o) => o.kind === "Namespace");
    assert.ok(namespace, "prod creates its namespace");
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(namespace.metadata.labels).filter(([k]) => k.startsWith("pod-security")),
      ),
      {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
      },
    );
    assert.deepEqual(POD_SECURITY_LABELS["pod-security.kubernetes.io/enforce"], "restricted");
  });

  for (const [name, config] of STACKS)
    it(`${name}: every pod spec meets the restricted profile`, () => {
      const workloads = objectsOf(config()).filter((o) => podSpecOf(o) !== undefined);
      assert.ok(workloads.length >= 2, `${name} has workloads`);
      for (const o of workloads)
        assert.deepEqual(restrictedViolations(podSpecOf(o)!), [], `${o.kind} ${o.metadata.name}`);
    });

  it("the prod stack's pods: Redis, sentinels, backup, restore, Commander and RedisInsight", () => {
    const cfg = resolve(
      { ...PROD, insightEnabled: true, restoreFrom: "prod-20260101T020000Z.rdb" },
      "prod",
    );
    const kinds = objectsOf(cfg)
      .filter((o) => podSpecOf(o) !== undefined)
      .map((o) => o.kind);
    for (const kind of ["StatefulSet", "Deployment", "CronJob", "Job"])
      assert.ok(kinds.includes(kind), `a ${kind} is checked`);
  });

  it("the check finds what the profile refuses", () => {
    const redis = objectsOf(goldenConfig("prod")).find((o) => o.kind === "StatefulSet")!;
    const pod: Json = structuredClone(podSpecOf(redis)!);
    assert.deepEqual(restrictedViolations(pod), []);
    pod.securityContext = {
      ...pod.securityContext,
      runAsNonRoot: undefined,
      seccompProfile: undefined,
    };
    pod.containers[0].securityContext = {
      ...pod.containers[0].securityContext,
      allowPrivilegeEscalation: true,
      runAsNonRoot: undefined,
      capabilities: { add: ["SYS_ADMIN"] },
    };
    pod.volumes.push({ name: "host", hostPath: { path: "/" } });
    pod.hostNetwork = true;
    const found = restrictedViolations(pod).join("\n");
    for (const expected of [
      "pod: hostNetwork",
      "volume host: hostPath volume",
      "container redis: allowPrivilegeEscalation not false",
      "container redis: capabilities not dropping ALL",
      "container redis: adds SYS_ADMIN",
      "container redis: runAsNonRoot not true",
      "container redis: seccompProfile unset",
    ])
      assert.ok(found.includes(expected), `${expected} in:\n${found}`);
  });
});
