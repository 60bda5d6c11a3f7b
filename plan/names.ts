import { K8sObject } from "../render/kubernetes";
import { DEPLOYMENT_NAME } from "../render/names";
import { PlannedObject, Unit } from "./types";

/** The Pulumi components' names: their resources' names derive from them. */
export const COMPONENT_NAMES = {
  redis: DEPLOYMENT_NAME,
  backup: `${DEPLOYMENT_NAME}-backup`,
  commander: `${DEPLOYMENT_NAME}-commander`,
} as const;

/** The Pulumi resource name of an object: its kind keeps same-named objects apart. */
export function resourceName(object: K8sObject): string {
  return `${object.metadata.name}-${object.kind.toLowerCase()}`;
}

/**
 * Resource names of a component whose objects are named after the deployment: `component-<suffix>`
 * from a table by kind and object name, else from the object.
 */
export function suffixedName(
  component: string,
  suffixes: Record<string, string>,
): (object: K8sObject) => string {
  return (object) =>
    `${component}-${suffixes[`${object.kind}/${object.metadata.name}`] ?? resourceName(object)}`;
}

/** Objects as planned: a resource name each, and what each kind needs beyond its spec. */
export function planObjects(
  objects: readonly K8sObject[],
  name: (object: K8sObject) => string,
  extras: (object: K8sObject) => Omit<PlannedObject, "object" | "resourceName"> = () => ({}),
): PlannedObject[] {
  return objects.map((object) => ({ object, resourceName: name(object), ...extras(object) }));
}

/** A unit with nothing of what it does not set. */
export function unit(parts: Pick<Unit, "name" | "owner"> & Partial<Unit>): Unit {
  return { files: [], objects: [], containers: [], processes: [], ...parts };
}
