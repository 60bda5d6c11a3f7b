import { ResolvedConfig } from "../config/resolve";
import { BACKUP_STREAM_TIMEOUT_SECONDS, BackupSite, backupPlainFiles } from "./backup";
import {
  CONTAINER_SECURITY_CONTEXT,
  K8sObject,
  POD_SECURITY_CONTEXT,
  labels,
  nodeAddresses,
  objectNames,
  sentinelAddresses,
} from "./kubernetes";
import { podImagePullSecrets } from "./images";
import { sha256Hex } from "./redis-conf";
import { backupNetworkPolicy } from "./network-policy";

/** Where the backup pods mount what they use. */
export const BACKUP_MOUNTS = {
  conf: "/conf",
  backups: "/backup",
  staging: "/staging",
  data: "/data",
  tmp: "/tmp",
} as const;

/** Object names of a deployment's backups, derived from the deployment's name. */
export function backupObjectNames(name: string) {
  return {
    claim: `${name}-backups`,
    configMap: `${name}-backup-config`,
    secret: `${name}-backup-auth`,
    cronJob: `${name}-backup`,
    restoreJob: `${name}-restore`,
    /** The first node's data claim, as the StatefulSet names it (claim template "data"). */
    firstDataClaim: `data-${objectNames(name).statefulSet}-0`,
  };
}

const COMPONENT = "backup";

/** What backup.env says on Kubernetes: the backup claim, the pods' DNS names, a separate off-site step. */
export function kubernetesBackupSite(cfg: ResolvedConfig, name: string): BackupSite {
  return {
    backupDir: BACKUP_MOUNTS.backups,
    nodes: nodeAddresses(cfg, name),
    sentinels: cfg.topology === "sentinel" ? sentinelAddresses(cfg, name) : "",
    offsiteStep: "separate",
  };
}

function meta(cfg: ResolvedConfig, objectName: string, name: string) {
  return { name: objectName, namespace: cfg.kubernetes.namespace, labels: labels(name, COMPONENT) };
}

function claim(
  cfg: ResolvedConfig,
  objectName: string,
  name: string,
  size: string,
  component = COMPONENT,
): K8sObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { ...meta(cfg, objectName, name), labels: labels(name, component) },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: size } },
      ...(cfg.kubernetes.storageClass ? { storageClassName: cfg.kubernetes.storageClass } : {}),
    },
  };
}

/** The ConfigMap and the Secret (without its data) of the scripts, side by side in one projected volume. */
function confVolume(name: string) {
  const n = backupObjectNames(name);
  return {
    name: "conf",
    projected: {
      // Read-only for the redis user (group fsGroup); no one else.
      defaultMode: 0o440,
      sources: [{ configMap: { name: n.configMap } }, { secret: { name: n.secret } }],
    },
  };
}

const TMP_VOLUME = { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } };
const STEP_RESOURCES = {
  requests: { cpu: "50m", memory: "64Mi" },
  limits: { memory: "256Mi" },
};

function step(
  stepName: string,
  image: string,
  script: string,
  mounts: Record<string, unknown>[],
  env: Record<string, string> = {},
) {
  return {
    name: stepName,
    image,
    command: ["sh", `${BACKUP_MOUNTS.conf}/${script}`],
    env: [
      // rclone keeps nothing of its own in a home on the read-only root.
      { name: "HOME", value: BACKUP_MOUNTS.tmp },
      ...Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
    ],
    securityContext: CONTAINER_SECURITY_CONTEXT,
    resources: STEP_RESOURCES,
    volumeMounts: [
      { name: "conf", mountPath: BACKUP_MOUNTS.conf, readOnly: true },
      { name: "tmp", mountPath: BACKUP_MOUNTS.tmp },
      ...mounts,
    ],
  };
}

/** Pod settings of both jobs: the Redis pods' hardening, no service account token, no restarts in place. */
function podSpec(
  cfg: ResolvedConfig,
  containers: Record<string, unknown>[],
  init: Record<string, unknown>[],
  volumes: Record<string, unknown>[],
) {
  return {
    securityContext: POD_SECURITY_CONTEXT,
    automountServiceAccountToken: false,
    ...podImagePullSecrets(cfg),
    restartPolicy: "Never",
    ...(init.length > 0 ? { initContainers: init } : {}),
    containers,
    volumes,
  };
}

/** The scripts: a ConfigMap, and a Secret without its data (the component adds it as a secret Output). */
export function backupConfObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  const n = backupObjectNames(name);
  const files = backupPlainFiles(cfg, kubernetesBackupSite(cfg, name));
  return [
    { apiVersion: "v1", kind: "ConfigMap", metadata: meta(cfg, n.configMap, name), data: files },
    { apiVersion: "v1", kind: "Secret", metadata: meta(cfg, n.secret, name), type: "Opaque" },
  ];
}

/**
 * Everything of a deployment's backups and restore, in apply order: with backups on, the claim,
 * the scripts and the CronJob; with restoreFrom, the first node's claim and the restore Job (and
 * the scripts, when backups are off).
 */
export function backupAndRestoreObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  if (!cfg.backup.enabled && !cfg.backup.restore) return [];
  return [
    ...backupNetworkPolicy(cfg, name),
    ...(cfg.backup.enabled
      ? backupObjects(cfg, name)
      : cfg.backup.restore
        ? backupConfObjects(cfg, name)
        : []),
    ...restoreObjects(cfg, name),
  ];
}

/**
 * The backup claim, the scripts (ConfigMap and Secret) and the CronJob: `backup.sh` in the Redis
 * image, then (off-site copies) `offsite.sh` in rclone's image, as a second step.
 */
export function backupObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  const n = backupObjectNames(name);
  const files = backupPlainFiles(cfg, kubernetesBackupSite(cfg, name));
  const backupsMount = { name: "backups", mountPath: BACKUP_MOUNTS.backups };
  const backupStep = step("backup", cfg.image, "backup.sh", [backupsMount]);
  const steps = cfg.backup.offsite
    ? {
        init: [backupStep],
        containers: [
          step("offsite", cfg.images.rclone, "offsite.sh", [{ ...backupsMount, readOnly: true }]),
        ],
      }
    : { init: [], containers: [backupStep] };
  return [
    claim(cfg, n.claim, name, cfg.backup.storageSize),
    ...backupConfObjects(cfg, name),
    {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: meta(cfg, n.cronJob, name),
      spec: {
        schedule: cfg.backup.schedule,
        timeZone: "Etc/UTC",
        // A run still going when the next is due: the next is skipped, never run beside it.
        concurrencyPolicy: "Forbid",
        // A run missed by more than 10 minutes (controller down) is skipped, not run late in a burst.
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels: labels(name, COMPONENT) },
          spec: {
            backoffLimit: 2,
            // The stream's own bound, the check, the upload, and room to spare.
            activeDeadlineSeconds: BACKUP_STREAM_TIMEOUT_SECONDS + 1800,
            template: {
              metadata: {
                labels: labels(name, COMPONENT),
                annotations: { "lowcode.ton/config-sha256": sha256Hex(JSON.stringify(files)) },
              },
              spec: podSpec(cfg, steps.containers, steps.init, [
                confVolume(name),
                TMP_VOLUME,
                { name: "backups", persistentVolumeClaim: { claimName: n.claim } },
              ]),
            },
          },
        },
      },
    },
  ];
}

/**
 * A new deployment's restore (restoreFrom set): the first node's data claim, created ahead of the
 * StatefulSet (which adopts it by name), and a Job that runs restore.sh on it before the StatefulSet
 * is created; for an s3:// backup, fetch.sh in rclone's image downloads it first.
 */
export function restoreObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  const restore = cfg.backup.restore;
  if (!restore) return [];
  const n = backupObjectNames(name);
  const fromS3 = restore.kind === "s3";
  const sourceDir = fromS3 ? BACKUP_MOUNTS.staging : BACKUP_MOUNTS.backups;
  const sourceMount = fromS3
    ? { name: "staging", mountPath: BACKUP_MOUNTS.staging }
    : { name: "backups", mountPath: BACKUP_MOUNTS.backups, readOnly: true };
  const fetch = fromS3
    ? [
        {
          ...step("fetch", cfg.images.rclone, "fetch.sh", [sourceMount]),
          command: ["sh", `${BACKUP_MOUNTS.conf}/fetch.sh`, BACKUP_MOUNTS.staging],
        },
      ]
    : [];
  const restoreStep = step(
    "restore",
    cfg.image,
    "restore.sh",
    [
      { ...sourceMount, readOnly: true },
      { name: "data", mountPath: BACKUP_MOUNTS.data },
    ],
    { DATA_DIR: BACKUP_MOUNTS.data, RESTORE_SOURCE: `${sourceDir}/${restore.file}` },
  );
  return [
    claim(cfg, n.firstDataClaim, name, cfg.kubernetes.storageSize, "redis"),
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: meta(cfg, n.restoreJob, name),
      spec: {
        backoffLimit: 2,
        activeDeadlineSeconds: 3600,
        template: {
          metadata: { labels: labels(name, COMPONENT) },
          spec: podSpec(cfg, [restoreStep], fetch, [
            confVolume(name),
            TMP_VOLUME,
            fromS3
              ? { name: "staging", emptyDir: { sizeLimit: cfg.kubernetes.storageSize } }
              : { name: "backups", persistentVolumeClaim: { claimName: n.claim, readOnly: true } },
            { name: "data", persistentVolumeClaim: { claimName: n.firstDataClaim } },
          ]),
        },
      },
    },
  ];
}
