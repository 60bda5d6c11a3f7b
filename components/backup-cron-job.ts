import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ResolvedConfig } from "../config/resolve";
import {
  DOCKER_BACKUP,
  DOCKER_BACKUP_COMMAND,
  backupPlainFiles,
  backupSecretFiles,
  renderCrontab,
} from "../render/backup";
import { backupSite } from "../plan";
import { Files } from "../render/files";
import { K8sObject } from "../render/kubernetes";
import {
  RCLONE_IMAGE,
  backupAndRestoreObjects,
  backupObjectNames,
} from "../render/kubernetes-backup";
import { SecretValues } from "../render/redis-conf";
import { createImage } from "./targets/docker";
import { networkPolicyNames } from "../render/network-policy";
import { createPlainObject, resourceName } from "./targets/kubernetes";

export interface BackupCronJobArgs {
  /** The validated stack config: `backup.*` (schedule, retention, storage, off-site, restore). */
  readonly config: ResolvedConfig;
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
    if (!cfg.backup.enabled && !cfg.backup.restore)
      throw new Error(`BackupCronJob ${name}: backupEnabled is false and there is no restoreFrom`);
    const secretFiles = pulumi
      .secret(pulumi.output(args.secrets))
      .apply((values) => backupSecretFiles(cfg, values as SecretValues));
    const built =
      cfg.target === "docker"
        ? this.createDocker(name, cfg, args, secretFiles)
        : this.createKubernetes(name, cfg, args, secretFiles);
    this.restoreStep = built.restoreStep;
    this.storage = pulumi.output(built.storage);
    this.registerOutputs({ storage: this.storage });
  }

  private createKubernetes(
    name: string,
    cfg: ResolvedConfig,
    args: BackupCronJobArgs,
    secretFiles: pulumi.Output<Files>,
  ) {
    const n = backupObjectNames(args.redisName);
    // Resource names from the component's name; the objects' names come from the deployment's.
    const resourceSuffix: Record<string, string> = {
      [`PersistentVolumeClaim/${n.claim}`]: "claim",
      [`ConfigMap/${n.configMap}`]: "config",
      [`Secret/${n.secret}`]: "auth",
      [`CronJob/${n.cronJob}`]: "cronjob",
      [`Job/${n.restoreJob}`]: "restore-job",
      [`PersistentVolumeClaim/${n.firstDataClaim}`]: "restore-claim",
      [`NetworkPolicy/${networkPolicyNames(args.redisName).backup}`]: "network-policy",
    };
    const dependsOn = [...(args.dependsOn ?? [])];
    const created: pulumi.Resource[] = [];
    const objects = backupAndRestoreObjects(cfg, args.redisName);
    let restoreJob: pulumi.Resource | undefined;
    const create = (object: K8sObject) => {
      const opts = { parent: this, dependsOn: [...dependsOn] };
      const objectArgs = object as unknown as Record<string, unknown>;
      const rname = `${name}-${resourceSuffix[`${object.kind}/${object.metadata.name}`] ?? resourceName(object)}`;
      switch (object.kind) {
        case "PersistentVolumeClaim":
          // Backups, and a restored node's data, outlive the stack: `pulumi destroy` leaves them.
          created.push(
            new k8s.core.v1.PersistentVolumeClaim(rname, objectArgs, {
              ...opts,
              retainOnDelete: true,
            }),
          );
          break;
        case "ConfigMap":
          created.push(new k8s.core.v1.ConfigMap(rname, objectArgs, opts));
          break;
        case "Secret":
          created.push(
            new k8s.core.v1.Secret(rname, { ...objectArgs, stringData: secretFiles }, opts),
          );
          break;
        case "CronJob":
          new k8s.batch.v1.CronJob(rname, object as unknown as k8s.batch.v1.CronJobArgs, {
            ...opts,
            dependsOn: [...dependsOn, ...created],
          });
          break;
        case "Job":
          // Pulumi waits for the Job to complete: the StatefulSet is created after the seed.
          restoreJob = new k8s.batch.v1.Job(rname, object as unknown as k8s.batch.v1.JobArgs, {
            ...opts,
            dependsOn: [...dependsOn, ...created],
          });
          break;
        default:
          created.push(createPlainObject(rname, object, opts));
      }
    };
    // In apply order: each object waits for those before it (the scripts before the jobs).
    objects.forEach(create);
    return { restoreStep: restoreJob ? [restoreJob] : [], storage: n.claim };
  }

  private createDocker(
    name: string,
    cfg: ResolvedConfig,
    args: BackupCronJobArgs,
    secretFiles: pulumi.Output<Files>,
  ) {
    if (args.network === undefined)
      throw new Error(`BackupCronJob ${name}: args.network is required on the docker target`);
    // The Redis components' pinned image: the same redis-cli and redis-check-rdb as the servers.
    const image = createImage(name, cfg, this).imageId;
    const grouped = cfg.topology === "sentinel";
    const plain = backupPlainFiles(cfg, backupSite(cfg));
    const uploads = secretFiles.apply((secrets) =>
      Object.entries({ ...plain, ...secrets }).map(([file, content]) => ({
        file: `${DOCKER_BACKUP.confDir}/${file}`,
        content,
        owner: "999",
        group: "999",
        permissions: "0600",
      })),
    );
    const storage = cfg.backup.hostDir
      ? { hostPath: cfg.backup.hostDir, containerPath: DOCKER_BACKUP.backupDir }
      : {
          volumeName: new docker.Volume(
            `${name}-volume`,
            { name: `${name}-volume` },
            // Backups outlive the stack: `pulumi destroy` leaves the volume.
            { parent: this, retainOnDelete: true },
          ).name,
          containerPath: DOCKER_BACKUP.backupDir,
        };
    const crontab = (command: string, user: string) => ({
      file: `${DOCKER_BACKUP.crontabs}/${user}`,
      content: renderCrontab(cfg, command),
      owner: "0",
      group: "0",
      permissions: "0600",
    });
    // Docker copies files into a container with a read-only root only onto a volume: each container
    // gets one for its uploaded scripts and crontab.
    const confVolume = (resource: string) => ({
      volumeName: new docker.Volume(
        `${resource}-conf`,
        { name: `${resource}-conf` },
        { parent: this },
      ).name,
      containerPath: DOCKER_BACKUP.confDir,
    });
    // busybox crond runs a job as the user its crontab is named after, and so must itself be root:
    // it keeps only the capabilities to switch users; the job runs as the image's user with none.
    const scheduler = (
      resource: string,
      image: pulumi.Input<string>,
      tab: ReturnType<typeof crontab>,
      caps: string[],
      readOnly: boolean,
    ) =>
      new docker.Container(
        resource,
        {
          name: resource,
          image,
          user: "0:0",
          entrypoints: ["crond"],
          command: ["-f", "-l", "8", "-L", "/dev/stderr", "-c", DOCKER_BACKUP.crontabs],
          uploads: uploads.apply((files) => [...files, tab]),
          networksAdvanced: [{ name: args.network! }],
          volumes: [{ ...storage, readOnly }, confVolume(resource)],
          readOnly: true,
          tmpfs: { "/tmp": "rw,size=16m", "/var/run": "rw,size=1m" },
          restart: "unless-stopped",
          memory: 256,
          capabilities: { drops: ["ALL"], adds: caps },
          securityOpts: ["no-new-privileges:true"],
          logDriver: "json-file",
          logOpts: { "max-size": "10m", "max-file": "3" },
        },
        { parent: this },
      );
    if (cfg.backup.enabled) {
      scheduler(
        `${name}`,
        image,
        crontab(DOCKER_BACKUP_COMMAND, "redis"),
        ["SETUID", "SETGID"],
        false,
      );
      if (cfg.backup.offsite)
        // rclone's image has no redis user: the copy runs as root, reading the redis user's files
        // with DAC_READ_SEARCH only; it waits for the backup of the same run.
        scheduler(
          `${name}-offsite`,
          new docker.RemoteImage(
            `${name}-rclone-image`,
            { name: RCLONE_IMAGE, keepLocally: true },
            { parent: this },
          ).imageId,
          crontab(`sh ${DOCKER_BACKUP.confDir}/offsite.sh --wait 1800 > /proc/1/fd/2 2>&1`, "root"),
          ["SETUID", "SETGID", "DAC_READ_SEARCH"],
          true,
        );
    }

    const restoreStep: pulumi.Input<pulumi.Resource>[] = [];
    const restore = cfg.backup.restore;
    if (restore?.kind === "local") {
      const firstNode = grouped ? `${args.redisName}-0` : args.redisName;
      const seed = new docker.Container(
        `${name}-restore`,
        {
          name: `${name}-restore`,
          image: image,
          user: "999:999",
          command: ["sh", `${DOCKER_BACKUP.confDir}/restore.sh`],
          envs: [`DATA_DIR=/seed`, `RESTORE_SOURCE=${DOCKER_BACKUP.backupDir}/${restore.file}`],
          uploads,
          volumes: [
            { ...storage, readOnly: true },
            // The first node's data volume, by the name its container mounts.
            { volumeName: `${firstNode}-data`, containerPath: "/seed" },
            confVolume(`${name}-restore`),
          ],
          mustRun: false,
          attach: true,
          logs: true,
          restart: "no",
          networkMode: "none",
          readOnly: true,
          memory: 256,
          capabilities: { drops: ["ALL"] },
          securityOpts: ["no-new-privileges:true"],
        },
        { parent: this },
      );
      // The first node waits for the seed, and the deployment stops when it failed.
      restoreStep.push(
        seed.exitCode.apply((code) => {
          if (code !== undefined && code !== 0)
            throw new Error(
              `restore of ${restore.file} into ${firstNode}-data failed (exit ${code}); see "docker logs ${name}-restore"`,
            );
          return seed;
        }),
      );
    }
    return {
      restoreStep,
      storage: cfg.backup.hostDir ? cfg.backup.hostDir : `${name}-volume`,
    };
  }
}
