import { ResolvedConfig } from "../config/resolve";
import { appSecretUnits } from "./app-secret";
import { backupUnits } from "./backup";
import { commanderUnits } from "./commander";
import { insightUnits } from "./insight";
import { metricsUnits } from "./metrics";
import { namespaceUnits } from "./namespace";
import { networkPolicyUnits } from "./network-policies";
import { nodeUnits } from "./nodes";
import { sentinelUnits } from "./sentinels";
import { DeploymentPlan, Owner, PlannedObject, ProcessSpec, Unit } from "./types";

export * from "./types";
export { COMPONENT_NAMES } from "./names";
export { backupSite } from "./backup";

/**
 * Every unit of the deployment, in apply order: the one place that decides which parts exist.
 * The Pulumi components create the units they own, `npm run render` writes every unit's files and
 * objects, the sandbox runs every unit's processes.
 */
export function planDeployment(cfg: ResolvedConfig): DeploymentPlan {
  return {
    units: [
      ...namespaceUnits(cfg),
      // The restore Job runs before the StatefulSet that adopts the claim it seeds.
      ...backupUnits(cfg),
      // Policies before the pods: no pod runs a moment without its policy.
      ...networkPolicyUnits(cfg),
      ...nodeUnits(cfg),
      ...sentinelUnits(cfg),
      ...metricsUnits(cfg),
      ...appSecretUnits(cfg),
      ...commanderUnits(cfg),
      ...insightUnits(cfg),
    ],
  };
}

/** The units a component creates. */
export function unitsOf(plan: DeploymentPlan, owner: Owner): Unit[] {
  return plan.units.filter((u) => u.owner === owner);
}

/** Every Kubernetes object of the plan, in apply order. */
export function plannedObjects(plan: DeploymentPlan): PlannedObject[] {
  return plan.units.flatMap((u) => u.objects);
}

/** Every process the sandbox runs, in order. */
export function plannedProcesses(plan: DeploymentPlan): ProcessSpec[] {
  return plan.units.flatMap((u) => u.processes);
}
