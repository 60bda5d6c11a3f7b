import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ResolvedConfig } from "../../config/resolve";
import { Files } from "../../render/files";
import { K8sObject, redisObjects } from "../../render/kubernetes";

/** Secret data of the Secrets of `redisObjects`, by object name. */
export type SecretData = Record<string, pulumi.Output<Files>>;

/** The Pulumi resource name of an object: its kind keeps same-named objects apart. */
export function resourceName(object: K8sObject): string {
  return `${object.metadata.name}-${object.kind.toLowerCase()}`;
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
): void {
  const created: pulumi.Resource[] = [];
  for (const object of redisObjects(cfg, name)) {
    const opts: pulumi.CustomResourceOptions = { parent, dependsOn: [...dependsOn] };
    const args = object as unknown as Record<string, unknown>;
    switch (object.kind) {
      case "Secret": {
        const data = secretData[object.metadata.name];
        if (!data) throw new Error(`no data for Secret ${object.metadata.name}`);
        created.push(
          new k8s.core.v1.Secret(
            resourceName(object),
            { ...args, stringData: pulumi.secret(data) },
            opts,
          ),
        );
        break;
      }
      case "ConfigMap":
        created.push(new k8s.core.v1.ConfigMap(resourceName(object), args, opts));
        break;
      case "Service":
        new k8s.core.v1.Service(resourceName(object), args, opts);
        break;
      case "PodDisruptionBudget":
        new k8s.policy.v1.PodDisruptionBudget(resourceName(object), args, opts);
        break;
      case "StatefulSet":
        new k8s.apps.v1.StatefulSet(
          resourceName(object),
          args as unknown as k8s.apps.v1.StatefulSetArgs,
          { ...opts, dependsOn: [...dependsOn, ...created] },
        );
        break;
      default:
        throw new Error(`no resource type for ${object.kind}`);
    }
  }
}
