import { strict as assert } from "node:assert";
import { K8sObject } from "../../render/kubernetes";

type ModelClass = new (data: unknown) => { validate(): void };

/**
 * The Prometheus operator's models (ServiceMonitor, PrometheusRule) ship as ES modules only:
 * loaded once with a real dynamic import (`loadOperatorModels`) before they are validated.
 */
const operatorModels = new Map<string, ModelClass>();
const importModule = new Function("specifier", "return import(specifier)") as (
  specifier: string,
) => Promise<Record<string, ModelClass>>;

export async function loadOperatorModels(): Promise<void> {
  for (const kind of ["ServiceMonitor", "PrometheusRule"]) {
    const module = await importModule(
      `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`,
    );
    operatorModels.set(`monitoring.coreos.com/v1/${kind}`, module[kind]);
  }
}

/** Validates an object against the Kubernetes OpenAPI schema of its apiVersion and kind. */
export function validateAgainstSchema(object: K8sObject): void {
  const id = `${object.apiVersion}/${object.kind}`;
  let Model: ModelClass | undefined;
  if (object.apiVersion.startsWith("monitoring.coreos.com/")) {
    Model = operatorModels.get(id);
    assert.ok(Model, `no schema for ${id}: call loadOperatorModels() first`);
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = require(`kubernetes-models/${id}`);
    Model = module[object.kind] ?? module.default;
  }
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

/** Every pod template of `objects`: workloads, the CronJob's and the Job's, by object name. */
export function podTemplates(objects: readonly K8sObject[]): [string, Json][] {
  return (objects as unknown as Json[]).flatMap((o): [string, Json][] => {
    if (o.kind === "CronJob") return [[o.metadata.name, o.spec.jobTemplate.spec.template]];
    if (["StatefulSet", "Deployment", "Job"].includes(o.kind))
      return [[o.metadata.name, o.spec.template]];
    return [];
  });
}

/**
 * The hardening every pod of the program keeps: not root, RuntimeDefault seccomp, no service
 * account token, nothing of the host; every container without privilege escalation, with a
 * read-only root, every capability dropped, requests and a memory limit, a pinned image.
 */
export function checkHardening(objects: readonly K8sObject[]): void {
  const templates = podTemplates(objects);
  assert.ok(templates.length > 0, "no pod template to check");
  for (const [name, template] of templates) {
    const pod = template.spec;
    assert.equal(pod.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`);
    assert.ok(pod.securityContext?.runAsUser > 0, `${name}: runAsUser is not root`);
    assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault", `${name}: seccomp`);
    assert.equal(pod.automountServiceAccountToken, false, `${name}: service account token`);
    for (const field of ["hostNetwork", "hostPID", "hostIPC"])
      assert.ok(!pod[field], `${name}: ${field}`);
    for (const v of pod.volumes ?? []) assert.ok(!v.hostPath, `${name}: hostPath volume ${v.name}`);
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      const where = `${name}/${c.name}`;
      const sc = c.securityContext ?? {};
      assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
      assert.equal(sc.runAsNonRoot, true, `${where}: runAsNonRoot`);
      assert.deepEqual(sc.capabilities?.drop, ["ALL"], `${where}: capabilities dropped`);
      assert.equal(sc.capabilities?.add, undefined, `${where}: no capability added`);
      assert.ok(!sc.privileged, `${where}: privileged`);
      assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${where}: requests`);
      assert.ok(c.resources?.limits?.memory, `${where}: memory limit`);
      assert.match(
        c.image,
        // A registry host may carry a port; the tag follows the last path component.
        /^(?:[^\s/@]+\/)*[^\s:/@]+(:[A-Za-z0-9._-]+)(@sha256:[0-9a-f]{64})?$/,
        `${where}: image tag`,
      );
      assert.doesNotMatch(c.image, /:latest$/, `${where}: image pinned`);
    }
  }
}
