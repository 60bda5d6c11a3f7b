import { ResolvedConfig } from "../config/resolve";
import {
  BackupSite,
  DOCKER_BACKUP,
  DOCKER_BACKUP_COMMAND,
  backupPlainFiles,
  backupSecretFiles,
  renderCrontab,
} from "../render/backup";
import {
  backupAndRestoreObjects,
  backupObjectNames,
  kubernetesBackupSite,
} from "../render/kubernetes-backup";
import { networkPolicyNames } from "../render/network-policy";
import { dockerNodeAddress } from "../render/redis-conf";
import { dockerSentinelEndpoints, endpointList } from "../render/sentinel";
import { COMPONENT_NAMES, planObjects, suffixedName, unit } from "./names";
import { REDIS_UID, redisImage } from "./docker";
import { ContainerSpec, FileSet, PlannedObject, Unit, Upload, VolumeMount } from "./types";

/** What backup.env says on the stack's target. */
export function backupSite(cfg: ResolvedConfig): BackupSite {
  if (cfg.target === "kubernetes") return kubernetesBackupSite(cfg, COMPONENT_NAMES.redis);
  return {
    backupDir: DOCKER_BACKUP.backupDir,
    nodes: Array.from(
      { length: cfg.sentinel.nodes },
      (_, i) => `${dockerNodeAddress(cfg, i)}:${cfg.port}`,
    ).join(" "),
    sentinels: cfg.topology === "sentinel" ? endpointList(dockerSentinelEndpoints(cfg)) : "",
    offsiteStep: "separate",
  };
}

export function backupFiles(cfg: ResolvedConfig): FileSet {
  return {
    plain: backupPlainFiles(cfg, backupSite(cfg)),
    secret: (s) => backupSecretFiles(cfg, s.values),
    renderDir: "backup",
    renderSecretDir: "secrets/backup",
  };
}

/**
 * Scheduled, verified backups, off-site copies when configured, and the restore step of a new
 * deployment (`restoreFrom`) that seeds the first node's data before it starts.
 */
export function backupUnits(cfg: ResolvedConfig): Unit[] {
  if (!cfg.backup.enabled && !cfg.backup.restore) return [];
  const files = backupFiles(cfg);
  const docker = cfg.target === "docker";
  return [
    unit({
      name: "backup",
      owner: "backup",
      files: [files],
      artifacts:
        docker && cfg.backup.enabled
          ? { "backup/crontab": renderCrontab(cfg, DOCKER_BACKUP_COMMAND) }
          : {},
      objects: docker ? [] : backupObjects(cfg, files),
      containers: docker ? backupContainers(cfg, files) : [],
    }),
  ];
}

/** Kubernetes: the policy, the claim, the scripts, the CronJob; the restore claim and Job. */
function backupObjects(cfg: ResolvedConfig, files: FileSet): PlannedObject[] {
  const redis = COMPONENT_NAMES.redis;
  const n = backupObjectNames(redis);
  // Resource names from the component's name; the objects' names come from the deployment's.
  const name = suffixedName(COMPONENT_NAMES.backup, {
    [`PersistentVolumeClaim/${n.claim}`]: "claim",
    [`ConfigMap/${n.configMap}`]: "config",
    [`Secret/${n.secret}`]: "auth",
    [`CronJob/${n.cronJob}`]: "cronjob",
    [`Job/${n.restoreJob}`]: "restore-job",
    [`PersistentVolumeClaim/${n.firstDataClaim}`]: "restore-claim",
    [`NetworkPolicy/${networkPolicyNames(redis).backup}`]: "network-policy",
  });
  return planObjects(backupAndRestoreObjects(cfg, redis), name, (object) => {
    switch (object.kind) {
      // Backups, and a restored node's data, outlive the stack: `pulumi destroy` leaves them.
      case "PersistentVolumeClaim":
        return { retainOnDelete: true };
      case "Secret":
        return { secretData: files.secret };
      case "CronJob":
        return { waitsForEarlier: true };
      // Pulumi waits for the Job to complete: the StatefulSet is created after the seed.
      case "Job":
        return { waitsForEarlier: true, restoreStep: true };
      default:
        return {};
    }
  });
}

/**
 * Docker: a container whose busybox crond runs backup.sh on the schedule as the redis user, an
 * rclone container that copies off-site on the same schedule; with a local restoreFrom, a
 * one-shot container that seeds the first node's volume before it starts.
 */
function backupContainers(cfg: ResolvedConfig, files: FileSet): ContainerSpec[] {
  const name = COMPONENT_NAMES.backup;
  const storage: VolumeMount = {
    source: cfg.backup.hostDir
      ? { hostPath: cfg.backup.hostDir }
      : // Backups outlive the stack: `pulumi destroy` leaves the volume.
        { create: { resourceName: `${name}-volume`, retainOnDelete: true } },
    containerPath: DOCKER_BACKUP.backupDir,
  };
  const containers: ContainerSpec[] = [];
  if (cfg.backup.enabled) {
    containers.push(
      scheduler(files, storage, {
        name,
        image: redisImage(cfg, name),
        crontab: crontab(cfg, DOCKER_BACKUP_COMMAND, "redis"),
        caps: ["SETUID", "SETGID"],
        readOnly: false,
      }),
    );
    if (cfg.backup.offsite)
      // rclone's image has no redis user: the copy runs as root, reading the redis user's files
      // with DAC_READ_SEARCH only; it waits for the backup of the same run.
      containers.push(
        scheduler(files, storage, {
          name: `${name}-offsite`,
          image: { resourceName: `${name}-rclone-image`, name: cfg.images.rclone },
          crontab: crontab(
            cfg,
            `sh ${DOCKER_BACKUP.confDir}/offsite.sh --wait 1800 > /proc/1/fd/2 2>&1`,
            "root",
          ),
          caps: ["SETUID", "SETGID", "DAC_READ_SEARCH"],
          readOnly: true,
        }),
      );
  }
  const restore = cfg.backup.restore;
  if (restore?.kind === "local")
    containers.push(restoreContainer(cfg, files, storage, restore.file));
  return containers;
}

function crontab(cfg: ResolvedConfig, command: string, user: string): Upload {
  return {
    file: `${DOCKER_BACKUP.crontabs}/${user}`,
    content: renderCrontab(cfg, command),
    owner: "0",
    group: "0",
    permissions: "0600",
  };
}

/**
 * Docker copies files into a container with a read-only root only onto a volume: each container
 * gets one for its uploaded scripts and crontab.
 */
function confVolume(container: string): VolumeMount {
  return {
    source: { create: { resourceName: `${container}-conf` } },
    containerPath: DOCKER_BACKUP.confDir,
  };
}

function backupUploads(files: FileSet, extra?: Upload[]): ContainerSpec["uploads"] {
  return { dir: DOCKER_BACKUP.confDir, uid: REDIS_UID, permissions: "0600", files, extra };
}

/**
 * busybox crond runs a job as the user its crontab is named after, and so must itself be root: it
 * keeps only the capabilities to switch users; the job runs as the image's user with none.
 */
function scheduler(
  files: FileSet,
  storage: VolumeMount,
  spec: {
    name: string;
    image: ContainerSpec["image"];
    crontab: Upload;
    caps: string[];
    readOnly: boolean;
  },
): ContainerSpec {
  return {
    resourceName: spec.name,
    name: spec.name,
    image: spec.image,
    user: "0:0",
    entrypoints: ["crond"],
    command: ["-f", "-l", "8", "-L", "/dev/stderr", "-c", DOCKER_BACKUP.crontabs],
    uploads: backupUploads(files, [spec.crontab]),
    network: {},
    volumes: [{ ...storage, readOnly: spec.readOnly }, confVolume(spec.name)],
    readOnlyRoot: true,
    tmpfs: { "/tmp": "rw,size=16m", "/var/run": "rw,size=1m" },
    memoryMb: 256,
    addCapabilities: spec.caps,
  };
}

/** The one-shot seed of the first node's volume, by the name its container mounts. */
function restoreContainer(
  cfg: ResolvedConfig,
  files: FileSet,
  storage: VolumeMount,
  file: string,
): ContainerSpec {
  const name = `${COMPONENT_NAMES.backup}-restore`;
  const redis = COMPONENT_NAMES.redis;
  const firstNode = cfg.topology === "sentinel" ? `${redis}-0` : redis;
  return {
    resourceName: name,
    name,
    image: redisImage(cfg, COMPONENT_NAMES.backup),
    user: `${REDIS_UID}:${REDIS_UID}`,
    command: ["sh", `${DOCKER_BACKUP.confDir}/restore.sh`],
    env: { DATA_DIR: "/seed", RESTORE_SOURCE: `${DOCKER_BACKUP.backupDir}/${file}` },
    uploads: backupUploads(files),
    network: "none",
    volumes: [
      { ...storage, readOnly: true },
      { source: { existing: `${firstNode}-data` }, containerPath: "/seed" },
      confVolume(name),
    ],
    readOnlyRoot: true,
    memoryMb: 256,
    runOnce: {
      failure: (code) =>
        `restore of ${file} into ${firstNode}-data failed (exit ${code}); see "docker logs ${name}"`,
    },
    restoreStep: true,
  };
}
