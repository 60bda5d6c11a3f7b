import { ResolvedConfig } from "../config/resolve";
import { namespaceSpec } from "../render/kubernetes";
import { Unit } from "./types";
import { unit } from "./names";

/** The namespace, when the stack creates it. */
export function namespaceUnits(cfg: ResolvedConfig): Unit[] {
  if (cfg.target !== "kubernetes" || !cfg.kubernetes.createNamespace) return [];
  return [
    unit({
      name: "namespace",
      owner: "stack",
      objects: [
        {
          object: namespaceSpec(cfg),
          resourceName: "lowcode-namespace",
          // Deleting a namespace deletes its claims: the data, the sentinels' state, the backups.
          // `pulumi destroy` (or a replacement) leaves it to the operator.
          retainOnDelete: true,
        },
      ],
    }),
  ];
}
