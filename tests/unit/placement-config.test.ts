import { strict as assert } from "node:assert";
import { DEV, PROD, problemsOf, resolve } from "../helpers/config";

describe("config validation: where the Redis and sentinel pods run, and the replication backlog", () => {
  it("defaults: a soft zone spread, nothing else", () => {
    assert.deepEqual(resolve(PROD).kubernetes.placement, {
      zoneSpread: "soft",
      priorityClassName: "",
      tolerations: [],
      nodeSelector: {},
      podLabels: {},
      podAnnotations: {},
    });
  });

  it("reads tolerations as `kubectl taint` writes taints", () => {
    const cfg = resolve({
      ...PROD,
      tolerations: ["dedicated=redis:NoSchedule", "spot:NoExecute", "maintenance"],
    });
    assert.deepEqual(cfg.kubernetes.placement.tolerations, [
      { key: "dedicated", operator: "Equal", value: "redis", effect: "NoSchedule" },
      { key: "spot", operator: "Exists", effect: "NoExecute" },
      { key: "maintenance", operator: "Exists" },
    ]);
  });

  it("reads nodeSelector and podLabels as k=v lists, podAnnotations as key=value entries", () => {
    const p = resolve({
      ...PROD,
      nodeSelector: "node-pool=redis,kubernetes.io/arch=amd64",
      podLabels: "team=platform",
      podAnnotations: ["example.com/note=a=b, c", "sidecar.istio.io/inject=false"],
    }).kubernetes.placement;
    assert.deepEqual(p.nodeSelector, { "node-pool": "redis", "kubernetes.io/arch": "amd64" });
    assert.deepEqual(p.podLabels, { team: "platform" });
    assert.deepEqual(p.podAnnotations, {
      "example.com/note": "a=b, c",
      "sidecar.istio.io/inject": "false",
    });
  });

  const TOLERATIONS =
    'must be a list of tolerations as `kubectl taint` writes taints: "key=value:Effect" (Equal), "key:Effect" (Exists), or without ":Effect" for every effect; Effect one of NoSchedule, PreferNoSchedule, NoExecute; each at most once';
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      "an unknown zoneSpread",
      { zoneSpread: "strict" },
      'Invalid lowcode-redis:zoneSpread "strict": must be one of soft, hard, none.',
    ],
    [
      "a priorityClassName in capitals",
      { priorityClassName: "High" },
      `Invalid lowcode-redis:priorityClassName "High": must be "" (the cluster's default priority) or the name of a PriorityClass (a DNS-1123 name, lowercase letters, digits, "-" and ".").`,
    ],
    [
      "a toleration with an unknown effect",
      { tolerations: ["dedicated=redis:NoRun"] },
      `Invalid lowcode-redis:tolerations ["dedicated=redis:NoRun"]: ${TOLERATIONS}; "NoRun" is not an effect.`,
    ],
    [
      "a toleration given twice",
      { tolerations: ["spot", "spot"] },
      `Invalid lowcode-redis:tolerations ["spot","spot"]: ${TOLERATIONS}; "spot" is given twice.`,
    ],
    [
      "a toleration that is no taint",
      { tolerations: ["a:b:c"] },
      `Invalid lowcode-redis:tolerations ["a:b:c"]: ${TOLERATIONS}; "a:b:c" is not "key[=value][:Effect]".`,
    ],
    [
      "podLabels over a selector label",
      { podLabels: "app.kubernetes.io/component=cache" },
      'Invalid lowcode-redis:podLabels "app.kubernetes.io/component=cache": must not set app.kubernetes.io/component: the pods carry it of their own and their StatefulSet selects them by it (app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component, app.kubernetes.io/part-of, app.kubernetes.io/managed-by, controller-revision-hash, statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index); add labels beside them.',
    ],
    [
      "podLabels over the StatefulSet controller's label",
      { podLabels: "controller-revision-hash=x" },
      'Invalid lowcode-redis:podLabels "controller-revision-hash=x": must not set controller-revision-hash: the pods carry it of their own and their StatefulSet selects them by it (app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component, app.kubernetes.io/part-of, app.kubernetes.io/managed-by, controller-revision-hash, statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index); add labels beside them.',
    ],
    [
      "a podAnnotation of the program's own",
      { podAnnotations: ["lowcode.ton/config-sha256=0"] },
      'Invalid lowcode-redis:podAnnotations ["lowcode.ton/config-sha256=0"]: must not set lowcode.ton/config-sha256: the lowcode.ton/ annotations are the program\'s own (the digests that roll the pods).',
    ],
    [
      "a podAnnotation without a value",
      { podAnnotations: ["team"] },
      'Invalid lowcode-redis:podAnnotations ["team"]: must be a list of "key=value" annotations (keys: an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_", "."), each key once; "team" has no "=".',
    ],
    [
      "a nodeSelector that is no label list",
      { nodeSelector: "pool" },
      'Invalid lowcode-redis:nodeSelector "pool": must be "" or Kubernetes labels "key=value" separated by commas, e.g. "app.kubernetes.io/part-of=lowcode-platform,tier=api" (keys: an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_", "."; values: at most 63 of the same); "pool" has no "=".',
    ],
    [
      "a replBacklogSize below 1mb",
      { replBacklogSize: "512kb" },
      'Invalid lowcode-redis:replBacklogSize "512kb": must be "" (derived) or a memory size of whole mb from 1mb to 16gb, such as "32mb".',
    ],
    [
      "a replBacklogSize of decimal megabytes",
      { replBacklogSize: "32m" },
      'Invalid lowcode-redis:replBacklogSize "32m": must be "" (derived) or a memory size of whole mb from 1mb to 16gb, such as "32mb".',
    ],
  ];
  for (const [what, values, message] of cases)
    it(`refuses ${what}`, () => assert.deepEqual(problemsOf({ ...PROD, ...values }), [message]));

  it("the backlog: 32mb by default, a quarter of a small maxmemory, as set otherwise; in the memory limit", () => {
    assert.equal(resolve(PROD).redis.replicationBuffers.backlogMb, 32);
    assert.equal(resolve({ ...PROD, maxmemory: "64mb" }).redis.replicationBuffers.backlogMb, 16);
    assert.equal(resolve({ ...PROD, maxmemory: "2mb" }).redis.replicationBuffers.backlogMb, 1);
    const set = resolve({ ...PROD, replBacklogSize: "64mb" });
    assert.equal(set.redis.replicationBuffers.backlogMb, 64);
    // 32 more than the default's 32: the memory limit holds the backlog.
    assert.equal(
      set.resources.memoryLimitBytes - resolve(PROD).resources.memoryLimitBytes,
      32 * 1024 ** 2,
    );
    // A standalone server reserves none.
    assert.equal(resolve(DEV).redis.replicationBuffers.reservedBytes, 0);
  });
});
