import { createHmac } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ResolvedConfig } from "../../config/resolve";
import { Files } from "../../render/files";
import { K8sObject, objectNames, redisObjects } from "../../render/kubernetes";

/** Secret data of the Secrets of `redisObjects`, by object name. */
export type SecretData = Record<string, pulumi.Output<Files>>;

/** The Pulumi resource name of an object: its kind keeps same-named objects apart. */
export function resourceName(object: K8sObject): string {
  return `${object.metadata.name}-${object.kind.toLowerCase()}`;
}

/** The pod template annotation that changes whenever the data of the Secret the pods mount does. */
export const SECRET_DIGEST_ANNOTATION = "lowcode.ton/secret-hmac";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * A StatefulSet whose pod template carries an HMAC of its Secret's data. The init step copies the
 * Secret into the pod once, so a changed password reaches Redis only through new pods: the digest
 * rolls them. Keyed with a generated key, it reveals nothing of the passwords it covers.
 */
export function withSecretDigest(
  object: K8sObject,
  data: pulumi.Output<Files>,
  key: pulumi.Output<string>,
) {
  const spec = object.spec as Json;
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
        ...spec.template,
        metadata: {
          ...spec.template.metadata,
          annotations: { ...spec.template.metadata.annotations, [SECRET_DIGEST_ANNOTATION]: hmac },
        },
      },
    })),
  };
}

/**
 * Creates an object that needs nothing but its spec: a NetworkPolicy, a Service, a
 * PodDisruptionBudget, or the Prometheus operator's ServiceMonitor and PrometheusRule. Throws on
 * any other kind, which its component creates itself.
 */
export function createPlainObject(
  resourceName: string,
  object: K8sObject,
  opts: pulumi.CustomResourceOptions,
): pulumi.Resource {
  const args = object as unknown as Record<string, unknown>;
  switch (object.kind) {
    case "NetworkPolicy":
      return new k8s.networking.v1.NetworkPolicy(resourceName, args, opts);
    case "Service":
      return new k8s.core.v1.Service(resourceName, args, opts);
    case "PodDisruptionBudget":
      return new k8s.policy.v1.PodDisruptionBudget(resourceName, args, opts);
    case "ServiceMonitor":
    case "PrometheusRule":
      return new k8s.apiextensions.CustomResource(
        resourceName,
        args as unknown as k8s.apiextensions.CustomResourceArgs,
        opts,
      );
    default:
      throw new Error(`no resource type for ${object.kind}`);
  }
}

/**
 * Creates the Kubernetes objects of a standalone instance or a sentinel group as children of
 * `parent`: Secrets get their data as secret Outputs; workloads wait for their config.
 */
export function createKubernetesObjects(
  name: string,
  cfg: ResolvedConfig,
  secretData: SecretData,
  parent: pulumi.Resource,
  dependsOn: pulumi.Input<pulumi.Resource>[] = [],
  /** What the Redis nodes' StatefulSet waits for: the restore Job that seeds the first node. */
  nodesAfter: pulumi.Input<pulumi.Resource>[] = [],
): void {
  const created: pulumi.Resource[] = [];
  const digestKey = new random.RandomPassword(
    `${name}-rollout-key`,
    { length: 32, special: false },
    { parent },
  ).result;
  for (const object of redisObjects(cfg, name)) {
    const opts: pulumi.CustomResourceOptions = { parent, dependsOn: [...dependsOn] };
    const args = object as unknown as Record<string, unknown>;
    switch (object.kind) {
      case "Secret": {
        const data = secretData[object.metadata.name];
        if (!data) throw new Error(`no data for Secret ${object.metadata.name}`);
        // The applications' Secret has one name in several namespaces.
        const inOtherNamespace = object.metadata.namespace !== cfg.kubernetes.namespace;
        created.push(
          new k8s.core.v1.Secret(
            inOtherNamespace
              ? `${resourceName(object)}-${object.metadata.namespace}`
              : resourceName(object),
            { ...args, stringData: pulumi.secret(data) },
            opts,
          ),
        );
        break;
      }
      case "ConfigMap":
        created.push(new k8s.core.v1.ConfigMap(resourceName(object), args, opts));
        break;
      case "StatefulSet": {
        const mounted = ((object.spec as Json).template.spec.volumes as Json[]).find(
          (v) => v.secret,
        )?.secret.secretName as string;
        const data = secretData[mounted];
        if (!data) throw new Error(`no data for Secret ${mounted}`);
        new k8s.apps.v1.StatefulSet(
          resourceName(object),
          withSecretDigest(object, data, digestKey) as unknown as k8s.apps.v1.StatefulSetArgs,
          {
            ...opts,
            dependsOn: [
              ...dependsOn,
              ...created,
              ...(object.metadata.name === objectNames(name).statefulSet ? nodesAfter : []),
            ],
            // Kubernetes refuses to change the claim templates of a StatefulSet (a new volume size):
            // it is deleted (its claims stay, with their data) and created again under its name.
            replaceOnChanges: ["spec.volumeClaimTemplates"],
            deleteBeforeReplace: true,
          },
        );
        break;
      }
      default:
        // Policies and Services before the pods: no pod runs a moment without its policy.
        created.push(createPlainObject(resourceName(object), object, opts));
    }
  }
}
