import { strict as assert } from "node:assert";
import { planDeployment, plannedObjects, plannedProcesses } from "../../plan";
import { GOLDEN_CASES, goldenConfig } from "../golden/cases";

/** The deployment plan: the one list of what exists, which every consumer reads. */
describe("the deployment plan", () => {
  for (const name of Object.keys(GOLDEN_CASES)) {
    it(`${name}: objects on Kubernetes only, containers on Docker only, each resource named once`, () => {
      const cfg = goldenConfig(name);
      const plan = planDeployment(cfg);
      const objects = plannedObjects(plan);
      const containers = plan.units.flatMap((u) => u.containers);
      if (cfg.target === "docker") assert.deepEqual(objects, []);
      else assert.deepEqual(containers, []);
      const names = [
        ...objects.map((o) => `${o.object.kind} ${o.resourceName}`),
        ...containers.map((c) => c.resourceName),
      ];
      assert.deepEqual(names, [...new Set(names)]);
      const units = plan.units.map((u) => u.name);
      assert.deepEqual(units, [...new Set(units)]);
    });
  }

  it("a group's processes: every node, every sentinel, and Commander when enabled", () => {
    const cfg = goldenConfig("docker-sentinel");
    const processes = plannedProcesses(planDeployment(cfg)).map((p) => `${p.name}:${p.port}`);
    assert.deepEqual(processes, [
      ...Array.from({ length: cfg.sentinel.nodes }, (_, i) => `redis-${i}:${cfg.port}`),
      ...Array.from({ length: cfg.sentinel.sentinels }, (_, i) => `sentinel-${i}:26379`),
      ...(cfg.commander.enabled ? [`commander:${cfg.commander.port}`] : []),
    ]);
  });

  it("a standalone server runs one node and no sentinel", () => {
    const names = plannedProcesses(planDeployment(goldenConfig("k8s-standalone"))).map(
      (p) => p.name,
    );
    assert.ok(names.includes("redis-0"));
    assert.ok(!names.some((k) => k.startsWith("sentinel") || k === "redis-1"));
  });

  it("every Docker container is limited in memory and runs as a named user", () => {
    for (const name of ["dev", "docker-sentinel"]) {
      for (const unit of planDeployment(goldenConfig(name)).units)
        for (const c of unit.containers) {
          assert.ok(c.memoryMb > 0, `${c.name}: no memory limit`);
          assert.match(c.user, /^\d+:\d+$/, `${c.name}: user`);
        }
    }
  });

  it("a Secret always has its data, and only a Secret", () => {
    for (const planned of plannedObjects(planDeployment(goldenConfig("prod-offsite"))))
      assert.equal(planned.secretData !== undefined, planned.object.kind === "Secret");
  });
});
