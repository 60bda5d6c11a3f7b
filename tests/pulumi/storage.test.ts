import { strict as assert } from "node:assert";
import { loadStackConfig } from "../../config/stack-file";
import { PROD, resolve } from "../helpers/config";
import { Json, MockRecorder, unwrap } from "../helpers/pulumi-mocks";

const recorder = new MockRecorder();
const STATEFUL_SET = "kubernetes:apps/v1:StatefulSet";
const CLAIM_PATCH = "kubernetes:core/v1:PersistentVolumeClaimPatch";

/** Whether a URN names the resource (its type last in the parent chain). */
const names = (urn: string, type: string, name: string) => urn.endsWith(`${type}::${name}`);

/** The patches of the claims, by name: the size each sets. */
function patchedSizes(): Record<string, string> {
  return Object.fromEntries(
    recorder.ofType(CLAIM_PATCH).map((r) => {
      const inputs = unwrap(r.inputs) as Json;
      return [inputs.metadata.name, inputs.spec.resources.requests.storage];
    }),
  );
}

describe("Pulumi program: a new volume size expands the claims and keeps the pods", () => {
  it("each StatefulSet is replaced when its claim templates change, deleted first, its pods orphaned", async () => {
    await recorder.deploy(loadStackConfig("prod"), {});
    for (const name of ["lowcode-redis-statefulset", "lowcode-redis-sentinel-statefulset"]) {
      const options = recorder.optionsOf(STATEFUL_SET, name);
      assert.deepEqual(options.replaceOnChanges, ["spec.volumeClaimTemplates"], name);
      assert.equal(options.deleteBeforeReplace, true, name);
      const inputs = unwrap(recorder.find(STATEFUL_SET, name).inputs) as Json;
      // The provider deletes it with this propagation: the pods run on, the new one adopts them.
      assert.equal(inputs.metadata.annotations["pulumi.com/deletionPropagationPolicy"], "orphan");
    }
  });

  it("every claim of both StatefulSets gets its size as a forced server-side patch, after its StatefulSet", async () => {
    await recorder.deploy(loadStackConfig("prod"), {});
    assert.deepEqual(patchedSizes(), {
      "data-lowcode-redis-0": "3Gi",
      "data-lowcode-redis-1": "3Gi",
      "data-lowcode-redis-2": "3Gi",
      "state-lowcode-redis-sentinel-0": "16Mi",
      "state-lowcode-redis-sentinel-1": "16Mi",
      "state-lowcode-redis-sentinel-2": "16Mi",
    });
    for (const r of recorder.ofType(CLAIM_PATCH)) {
      const inputs = unwrap(r.inputs) as Json;
      assert.equal(inputs.metadata.namespace, "lowcode");
      assert.equal(inputs.metadata.annotations["pulumi.com/patchForce"], "true");
      // Only the size: the patch takes over no other field of the claim.
      assert.deepEqual(Object.keys(inputs.spec), ["resources"]);
      const statefulSet = r.name.startsWith("data-")
        ? "lowcode-redis-statefulset"
        : "lowcode-redis-sentinel-statefulset";
      const waitsFor = recorder.optionsOf(CLAIM_PATCH, r.name).dependencies;
      assert.ok(
        waitsFor.some((urn) => names(urn, STATEFUL_SET, statefulSet)),
        `${r.name} waits for ${statefulSet}: ${waitsFor.join(", ")}`,
      );
    }
    // No workload waits for a patch: the sentinels do not wait for the nodes' claims.
    for (const r of recorder.ofType(STATEFUL_SET))
      assert.ok(
        !recorder
          .optionsOf(STATEFUL_SET, r.name)
          .dependencies.some((urn) => urn.includes("PersistentVolumeClaimPatch")),
        `${r.name} waits for a claim patch`,
      );
  });

  it("a new storageSize changes the claim template and the patches under the same names, so the claims grow in place", async () => {
    await recorder.deploy(loadStackConfig("prod"), {});
    const before = recorder.ofType(CLAIM_PATCH).map((r) => r.name);
    await recorder.deploy(resolve({ ...PROD, storageSize: "5Gi" }, "prod"), {});
    assert.deepEqual(
      recorder.ofType(CLAIM_PATCH).map((r) => r.name),
      before,
    );
    assert.equal(patchedSizes()["data-lowcode-redis-1"], "5Gi");
    assert.equal(patchedSizes()["state-lowcode-redis-sentinel-1"], "16Mi");
    const sts = unwrap(recorder.find(STATEFUL_SET, "lowcode-redis-statefulset").inputs) as Json;
    assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, "5Gi");
  });

  it("more nodes: the new ones' claims come from the template, patched as well", async () => {
    await recorder.deploy(resolve({ ...PROD, replicas: 4, sentinels: 5 }, "prod"), {});
    const claims = Object.keys(patchedSizes());
    assert.ok(claims.includes("data-lowcode-redis-3"), claims.join(", "));
    assert.ok(claims.includes("state-lowcode-redis-sentinel-4"), claims.join(", "));
  });

  it("with a restore, the first node's claim is the stack's own resource: no patch of it", async () => {
    await recorder.deploy(
      resolve({ ...PROD, restoreFrom: "prod-20260101T020000Z.rdb", storageSize: "4Gi" }, "prod"),
      {},
    );
    const claims = Object.keys(patchedSizes());
    assert.ok(!claims.includes("data-lowcode-redis-0"), claims.join(", "));
    assert.ok(claims.includes("data-lowcode-redis-1"), claims.join(", "));
    const restoreClaim = recorder
      .ofType("kubernetes:core/v1:PersistentVolumeClaim")
      .map((r) => unwrap(r.inputs) as Json)
      .find((c) => c.metadata.name === "data-lowcode-redis-0");
    assert.equal(restoreClaim?.spec.resources.requests.storage, "4Gi");
  });

  it("no patches when a GitOps controller applies the manifests (renderYamlTo)", async () => {
    await recorder.deploy(resolve({ ...PROD, renderYamlTo: "rendered/prod" }, "prod"), {});
    assert.deepEqual(recorder.ofType(CLAIM_PATCH), []);
  });
});
