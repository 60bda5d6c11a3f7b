import { ResolvedConfig } from "../config/resolve";
import { redisNetworkPolicies } from "../render/network-policy";
import { Unit } from "./types";
import { COMPONENT_NAMES, planObjects, resourceName, unit } from "./names";

/**
 * The deployment's policies: deny-all, the nodes', the sentinels'. Backup, Commander and
 * RedisInsight carry their own in their units.
 */
export function networkPolicyUnits(cfg: ResolvedConfig): Unit[] {
  if (cfg.target !== "kubernetes") return [];
  const objects = redisNetworkPolicies(cfg, COMPONENT_NAMES.redis);
  if (objects.length === 0) return [];
  return [
    unit({ name: "network-policies", owner: "redis", objects: planObjects(objects, resourceName) }),
  ];
}
