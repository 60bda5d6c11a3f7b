import { createHmac } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlanSecrets, PlannedObject, SecretFiles } from "../../plan";
import { Files } from "../../render/files";
import { K8sObject } from "../../render/kubernetes";

/** The pod template annotation that changes whenever the data of the Secret the pods mount does. */
export const SECRET_DIGEST_ANNOTATION = "lowcode.ton/secret-hmac";

/** Creates the resource of one object. */
type ObjectResource = (
  name: string,
  object: K8sObject,
  opts: pulumi.CustomResourceOptions,
) => pulumi.CustomResource;

/**
 * A resource class of the Kubernetes provider, for objects of its kind. The plan's objects are
 * plain data of the fields the class takes (tests/unit validates them against the Kubernetes
 * schemas); the class keeps only the fields it knows. The one place an object becomes args.
 */
function ofClass<Args>(
  Resource: new (
    name: string,
    args: Args,
    opts?: pulumi.CustomResourceOptions,
  ) => pulumi.CustomResource,
): ObjectResource {
  return (name, object, opts) => new Resource(name, object as Args, opts);
}

/** The resource class of each kind the plan holds. */
const RESOURCES: Readonly<Record<string, ObjectResource>> = {
  Namespace: ofClass(k8s.core.v1.Namespace),
  Secret: ofClass(k8s.core.v1.Secret),
  ConfigMap: ofClass(k8s.core.v1.ConfigMap),
  Service: ofClass(k8s.core.v1.Service),
  PersistentVolumeClaim: ofClass(k8s.core.v1.PersistentVolumeClaim),
  StatefulSet: ofClass(k8s.apps.v1.StatefulSet),
  Deployment: ofClass(k8s.apps.v1.Deployment),
  CronJob: ofClass(k8s.batch.v1.CronJob),
  Job: ofClass(k8s.batch.v1.Job),
  NetworkPolicy: ofClass(k8s.networking.v1.NetworkPolicy),
  Ingress: ofClass(k8s.networking.v1.Ingress),
  PodDisruptionBudget: ofClass(k8s.policy.v1.PodDisruptionBudget),
  // The Prometheus operator's.
  ServiceMonitor: ofClass(k8s.apiextensions.CustomResource),
  PrometheusRule: ofClass(k8s.apiextensions.CustomResource),
};

/**
 * The patch resource class of each kind the plan patches: server-side apply of only the fields the
 * object holds, to an object something else created.
 */
const PATCHES: Readonly<Record<string, ObjectResource>> = {
  PersistentVolumeClaim: ofClass(k8s.core.v1.PersistentVolumeClaimPatch),
};

/** A nested field of a plain object, or an empty one. */
function field(value: unknown, key: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null) return {};
  const inner: unknown = Object.getOwnPropertyDescriptor(value, key)?.value;
  return typeof inner === "object" && inner !== null ? { ...inner } : {};
}

/**
 * A workload whose pod template carries an HMAC of its Secret's data. The pods copy the Secret
 * once at start, so a changed password reaches them only through new pods: the digest rolls them.
 * Keyed with a generated key, it reveals nothing of the passwords it covers.
 */
export function withSecretDigest(
  object: K8sObject,
  data: pulumi.Output<Files>,
  key: pulumi.Output<string>,
): K8sObject {
  const spec = field(object, "spec");
  const template = field(spec, "template");
  const metadata = field(template, "metadata");
  const digest = pulumi.unsecret(
    pulumi
      .all([data, key])
      .apply(([files, k]) => createHmac("sha256", k).update(JSON.stringify(files)).digest("hex")),
  );
  return {
    ...object,
    spec: digest.apply((hmac) => ({
      ...spec,
      template: {
        ...template,
        metadata: {
          ...metadata,
          annotations: { ...field(metadata, "annotations"), [SECRET_DIGEST_ANNOTATION]: hmac },
        },
      },
    })),
  };
}

/** Where the objects go and what they get. */
export interface ObjectsContext {
  /** The component, or none (the stack's namespace). */
  readonly parent?: pulumi.Resource;
  /** Options every object gets (the provider of the stack's namespace). */
  readonly opts?: pulumi.CustomResourceOptions;
  /** The secrets the Secrets' data and the digests are made of; a secret Output. */
  readonly secrets: pulumi.Output<PlanSecrets>;
  /** What every object waits for (the namespace). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
  /** What an object `afterRestore` waits for besides. */
  readonly restoreFirst?: pulumi.Input<pulumi.Resource>[];
  /** The key of the digests: generated once per component, when first needed. */
  readonly rolloutKey?: () => pulumi.Output<string>;
}

export interface CreatedObjects {
  /** Every resource but the workloads, in order. */
  readonly created: pulumi.Resource[];
  /** The restore Jobs the first node waits for. */
  readonly restoreSteps: pulumi.Resource[];
}

/**
 * Creates planned objects in order. A Secret gets its data as a secret Output; a workload waits
 * for every object created before it in this call (policies, config) and rolls with its Secret; a
 * patch waits for the workloads created before it (the claims exist once their StatefulSet does).
 */
export function createObjects(
  planned: readonly PlannedObject[],
  ctx: ObjectsContext,
): CreatedObjects {
  const created: pulumi.Resource[] = [];
  const restoreSteps: pulumi.Resource[] = [];
  const dependsOn = ctx.dependsOn ?? [];
  const dataOf = (files: SecretFiles) => ctx.secrets.apply(files);
  const digestKey = () => {
    if (!ctx.rolloutKey) throw new Error("objects that roll with a Secret need a rollout key");
    return ctx.rolloutKey();
  };
  const workloads: pulumi.Resource[] = [];
  for (const p of planned) {
    const create = (p.patchesExisting ? PATCHES : RESOURCES)[p.object.kind];
    if (!create)
      throw new Error(`no ${p.patchesExisting ? "patch " : ""}resource type for ${p.object.kind}`);
    const args = p.secretData
      ? { ...p.object, stringData: pulumi.secret(dataOf(p.secretData)) }
      : p.rollsWith
        ? withSecretDigest(p.object, dataOf(p.rollsWith), digestKey())
        : p.object;
    const resource = create(p.resourceName, args, {
      ...ctx.opts,
      parent: ctx.parent,
      dependsOn: [
        ...dependsOn,
        ...(p.waitsForEarlier ? created : []),
        ...(p.patchesExisting ? workloads : []),
        ...(p.afterRestore ? (ctx.restoreFirst ?? []) : []),
      ],
      ...(p.retainOnDelete ? { retainOnDelete: true } : {}),
      ...(p.replaceOnChanges ? { replaceOnChanges: p.replaceOnChanges } : {}),
      ...(p.deleteBeforeReplace ? { deleteBeforeReplace: true } : {}),
    });
    if (p.restoreStep) restoreSteps.push(resource);
    // What later objects wait for: a workload waits for the config before it, a patch for the
    // workloads before it; nothing waits for a patch.
    if (p.waitsForEarlier) workloads.push(resource);
    else if (!p.patchesExisting) created.push(resource);
  }
  return { created, restoreSteps };
}
