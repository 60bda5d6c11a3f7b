import * as pulumi from "@pulumi/pulumi";
import { ResolvedConfig } from "../config/resolve";
import { Unit } from "../plan";
import { backupObjectNames } from "../render/kubernetes-backup";
import { SecretValues } from "../render/redis-conf";
import { createUnits } from "./targets/units";

export interface BackupCronJobArgs {
  /** The validated stack config: the target, and `backup.hostDir` (where the backups are). */
  readonly config: ResolvedConfig;
  /** The plan's units this component creates (`unitsOf(planDeployment(config), "backup")`). */
  readonly units: readonly Unit[];
  /** Name of the RedisInstance or SentinelGroup whose data is backed up. */
  readonly redisName: string;
  /**
   * The deployment's secrets (the backup user's password, the sentinel lookup's, the S3 keys), as
   * one secret Output; it may resolve after this component is built (the Redis component, which
   * owns them, waits for this component's restore step).
   */
  readonly secrets: pulumi.Input<SecretValues>;
  /** Docker: network of the Redis containers. Required on the docker target. */
  readonly network?: pulumi.Input<string>;
  /** Kubernetes: resources to create first (the Namespace). Default none. */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Scheduled, verified backups of a Redis deployment, off-site copies when configured, and the
 * restore step of a new deployment (`restoreFrom`), on both targets:
 * - Kubernetes: a backup PersistentVolumeClaim, the scripts as a ConfigMap and a Secret, a CronJob
 *   (backup.sh in the Redis image, then offsite.sh in rclone's); with restoreFrom, the first node's
 *   data claim and a Job that seeds it before the StatefulSet exists.
 * - Docker: a backup volume (or `backupHostDir`), a container whose busybox crond runs backup.sh on
 *   the schedule as the redis user, an rclone container that copies off-site on the same schedule;
 *   with restoreFrom, a one-shot container that seeds the first node's volume before it starts.
 */
export class BackupCronJob extends pulumi.ComponentResource {
  /** What the first Redis node must wait for (restoreFrom set), or nothing. */
  public readonly restoreStep: pulumi.Input<pulumi.Resource>[];
  /** Where the backups are: the claim, the volume or the host folder. */
  public readonly storage: pulumi.Output<string>;

  constructor(name: string, args: BackupCronJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("lowcode:redis:BackupCronJob", name, {}, opts);
    const cfg = args.config;
    if (args.units.length === 0)
      throw new Error(`BackupCronJob ${name}: backupEnabled is false and there is no restoreFrom`);
    this.restoreStep = createUnits(args.units, {
      name,
      component: "BackupCronJob",
      parent: this,
      secrets: pulumi.secret(pulumi.output(args.secrets)).apply((values) => ({ values })),
      network: args.network,
      dependsOn: args.dependsOn,
    }).restoreSteps;
    this.storage = pulumi.output(
      cfg.target === "kubernetes"
        ? backupObjectNames(args.redisName).claim
        : cfg.backup.hostDir || `${name}-volume`,
    );
    this.registerOutputs({ storage: this.storage });
  }
}
