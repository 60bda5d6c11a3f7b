import { ResolvedConfig } from "../config/resolve";
import type { K8sObject } from "./kubernetes";

/** Lets the patch take the field over from the StatefulSet controller, which created the claim. */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/**
 * The claims a StatefulSet made from its template `claimTemplate`, one per pod, as patches that
 * set only their requested size. Kubernetes never changes an existing claim when the template
 * changes: these expand the volumes in place (the storage class must allow expansion), and the
 * same size again changes nothing. `skip` leaves out the claims something else manages (the
 * restore's first data claim).
 */
export function claimSizePatches(
  cfg: ResolvedConfig,
  claim: { statefulSet: string; claimTemplate: string; size: string; replicas: number },
  skip: (ordinal: number) => boolean = () => false,
): K8sObject[] {
  return Array.from({ length: claim.replicas }, (_, ordinal) => ordinal)
    .filter((ordinal) => !skip(ordinal))
    .map((ordinal) => ({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: {
        name: `${claim.claimTemplate}-${claim.statefulSet}-${ordinal}`,
        namespace: cfg.kubernetes.namespace,
        annotations: { [PATCH_FORCE_ANNOTATION]: "true" },
      },
      spec: { resources: { requests: { storage: claim.size } } },
    }));
}
