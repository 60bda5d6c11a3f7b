import { strict as assert } from "node:assert";
import { K8sObject } from "../../render/kubernetes";

/** Validates an object against the Kubernetes OpenAPI schema of its apiVersion and kind. */
export function validateAgainstSchema(object: K8sObject): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const module = require(`kubernetes-models/${object.apiVersion}/${object.kind}`);
  const Model = module[object.kind] ?? module.default;
  assert.ok(Model, `no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * Our own invariants across objects: workload selectors match their pod labels, every Service
 * selects some workload's pods and targets a named container port, every mount has a volume,
 * every ConfigMap/Secret volume and headless serviceName refer to an object of the set.
 */
export function checkInvariants(objects: K8sObject[]): void {
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind) as Json[];
  const workloads = [...byKind("StatefulSet"), ...byKind("Deployment")];
  const names = (kind: string) => new Set(byKind(kind).map((o) => o.metadata.name));
  for (const w of workloads) {
    const podLabels = w.spec.template.metadata.labels;
    assert.ok(
      matches(w.spec.selector.matchLabels, podLabels),
      `${w.metadata.name}: selector does not match the pod labels`,
    );
    const pod = w.spec.template.spec;
    const volumes = new Set((pod.volumes ?? []).map((v: Json) => v.name));
    for (const claim of w.spec.volumeClaimTemplates ?? []) volumes.add(claim.metadata.name);
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      for (const m of c.volumeMounts ?? [])
        assert.ok(
          volumes.has(m.name),
          `${w.metadata.name}/${c.name}: mount ${m.name} has no volume`,
        );
    }
    for (const v of pod.volumes ?? []) {
      if (v.configMap)
        assert.ok(
          names("ConfigMap").has(v.configMap.name),
          `${w.metadata.name}: ConfigMap ${v.configMap.name} is not in the set`,
        );
      if (v.secret)
        assert.ok(
          names("Secret").has(v.secret.secretName),
          `${w.metadata.name}: Secret ${v.secret.secretName} is not in the set`,
        );
    }
    if (w.kind === "StatefulSet") {
      const headless = byKind("Service").find((s) => s.metadata.name === w.spec.serviceName);
      assert.ok(
        headless,
        `${w.metadata.name}: serviceName ${w.spec.serviceName} is not a Service of the set`,
      );
      assert.equal(headless.spec.clusterIP, "None", `${w.spec.serviceName} must be headless`);
    }
  }
  // Job pods (the backup CronJob, the restore Job): every mount has a volume, every volume's
  // ConfigMap, Secret and claim is an object of the set.
  const jobPods = [
    ...byKind("CronJob").map((c) => [c.metadata.name, c.spec.jobTemplate.spec.template.spec]),
    ...byKind("Job").map((j) => [j.metadata.name, j.spec.template.spec]),
  ] as [string, Json][];
  for (const [name, pod] of jobPods) {
    const volumes = new Set((pod.volumes ?? []).map((v: Json) => v.name));
    for (const c of [...(pod.initContainers ?? []), ...pod.containers])
      for (const m of c.volumeMounts ?? [])
        assert.ok(volumes.has(m.name), `${name}/${c.name}: mount ${m.name} has no volume`);
    for (const v of pod.volumes ?? []) {
      const sources = v.projected ? v.projected.sources : [v];
      for (const source of sources) {
        if (source.configMap)
          assert.ok(
            names("ConfigMap").has(source.configMap.name),
            `${name}: ConfigMap ${source.configMap.name} is not in the set`,
          );
        if (source.secret)
          assert.ok(
            names("Secret").has(source.secret.name ?? source.secret.secretName),
            `${name}: Secret ${source.secret.name ?? source.secret.secretName} is not in the set`,
          );
      }
      if (v.persistentVolumeClaim)
        assert.ok(
          names("PersistentVolumeClaim").has(v.persistentVolumeClaim.claimName),
          `${name}: claim ${v.persistentVolumeClaim.claimName} is not in the set`,
        );
    }
  }
  for (const s of byKind("Service")) {
    const targets = workloads.filter((w) =>
      matches(s.spec.selector, w.spec.template.metadata.labels),
    );
    assert.ok(targets.length > 0, `Service ${s.metadata.name} selects no pods`);
    for (const port of s.spec.ports) {
      const named = targets.some((w) =>
        w.spec.template.spec.containers.some((c: Json) =>
          (c.ports ?? []).some(
            (p: Json) => p.name === port.targetPort || p.containerPort === port.targetPort,
          ),
        ),
      );
      assert.ok(
        named,
        `Service ${s.metadata.name}: targetPort ${port.targetPort} is no container port`,
      );
    }
  }
  for (const pdb of byKind("PodDisruptionBudget")) {
    assert.ok(
      workloads.some((w) =>
        matches(pdb.spec.selector.matchLabels, w.spec.template.metadata.labels),
      ),
      `PDB ${pdb.metadata.name} selects no pods`,
    );
  }
}
