import { ResolvedConfig } from "../config/resolve";
import { appConnectionEnv, appSecretObjects } from "../render/app-secret";
import { appEndpoints } from "../render/kubernetes";
import { Unit } from "./types";
import { COMPONENT_NAMES, planObjects, resourceName, unit } from "./names";

/** The applications' connection Secret, one per namespace of `appSecretNamespaces`. */
export function appSecretUnits(cfg: ResolvedConfig): Unit[] {
  if (cfg.target !== "kubernetes") return [];
  const name = COMPONENT_NAMES.redis;
  const objects = appSecretObjects(cfg, name);
  if (objects.length === 0) return [];
  return [
    unit({
      name: "app-secret",
      owner: "redis",
      objects: planObjects(
        objects,
        // The Secret has one name in several namespaces.
        (object) =>
          object.metadata.namespace === cfg.kubernetes.namespace
            ? resourceName(object)
            : `${resourceName(object)}-${object.metadata.namespace}`,
        () => ({
          secretData: (s) => appConnectionEnv(cfg, s.values, appEndpoints(cfg, name)),
        }),
      ),
    }),
  ];
}
