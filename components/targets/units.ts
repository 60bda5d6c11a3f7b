import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { PlanSecrets, Unit } from "../../plan";
import { createContainers } from "./docker";
import { createObjects } from "./kubernetes";

/** What a component's units get: where they go, the secrets, what they wait for. */
export interface UnitsContext {
  /** The component's name: its generated rollout key's name derives from it. */
  readonly name: string;
  /** The component's type, for messages. */
  readonly component: string;
  readonly parent: pulumi.Resource;
  /** The secrets their files are made of; a secret Output. */
  readonly secrets: pulumi.Output<PlanSecrets>;
  /** Docker: the network to join. Required when the units have containers. */
  readonly network?: pulumi.Input<string>;
  /** Kubernetes: what every object waits for (the namespace); Docker: Commander's Redis. */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
  /** What the first node waits for: the restore step. */
  readonly restoreFirst?: pulumi.Input<pulumi.Resource>[];
}

/** The key of a component's pod-template digests, generated once, when first needed. */
export function rolloutKey(name: string, parent: pulumi.Resource): () => pulumi.Output<string> {
  let key: pulumi.Output<string> | undefined;
  return () =>
    (key ??= new random.RandomPassword(
      `${name}-rollout-key`,
      { length: 32, special: false },
      { parent },
    ).result);
}

/** What the first node waits for among what a component created: the restore steps. */
export interface CreatedUnits {
  readonly restoreSteps: pulumi.Input<pulumi.Resource>[];
}

/**
 * Creates units of one component: their Kubernetes objects in order (a workload waits for the
 * objects before it among these units), or their containers.
 */
export function createUnits(
  units: readonly Unit[],
  ctx: UnitsContext,
  key: () => pulumi.Output<string> = rolloutKey(ctx.name, ctx.parent),
): CreatedUnits {
  const objects = createObjects(
    units.flatMap((u) => u.objects),
    {
      parent: ctx.parent,
      secrets: ctx.secrets,
      dependsOn: ctx.dependsOn,
      restoreFirst: ctx.restoreFirst,
      rolloutKey: key,
    },
  );
  const containers = units.flatMap((u) => u.containers);
  if (containers.length === 0) return { restoreSteps: objects.restoreSteps };
  if (ctx.network === undefined)
    throw new Error(`${ctx.component} ${ctx.name}: args.network is required on the docker target`);
  const restoreSteps = createContainers(containers, {
    parent: ctx.parent,
    network: ctx.network,
    secrets: ctx.secrets,
    restoreFirst: ctx.restoreFirst,
    redis: ctx.dependsOn,
  });
  return { restoreSteps };
}
