import { stringify } from "yaml";
import { ResolvedConfig } from "../config/resolve";
import {
  Files,
  nodePlainFiles,
  nodeSecretFiles,
  sentinelPlainFiles,
  sentinelSecretFiles,
} from "./files";
import {
  BackupSite,
  DOCKER_BACKUP,
  DOCKER_BACKUP_COMMAND,
  backupPlainFiles,
  backupSecretFiles,
  renderCrontab,
} from "./backup";
import { K8sObject, appEndpoints, namespaceSpec, objectNames, redisObjects } from "./kubernetes";
import { appConnectionEnv, appSecretName } from "./app-secret";
import { renderAlertRules } from "./alerts";
import {
  commanderObjectNames,
  commanderObjects,
  commanderPlainFiles,
  commanderSecretFiles,
  commanderSite,
  insightObjects,
} from "./commander";
import {
  backupAndRestoreObjects,
  backupObjectNames,
  kubernetesBackupSite,
} from "./kubernetes-backup";
import { dockerSentinelEndpoints, endpointList } from "./sentinel";
import { DEPLOYMENT_NAME } from "./names";

import {
  DOCKER_LAYOUT,
  LAYOUT,
  SecretValues,
  dockerNodeAddress,
  redisServerArgs,
  requiredSecrets,
} from "./redis-conf";

/** Stand-ins for secret values: `{{secret:<key>}}`, naming where the value comes from. */
export function secretReferences(cfg: ResolvedConfig): SecretValues {
  return Object.fromEntries(requiredSecrets(cfg).map((key) => [key, `{{secret:${key}}}`]));
}

/** A password hash stand-in: `{{sha256:<key>}}`. */
const hashReference = (reference: string) =>
  `{{sha256:${reference.slice("{{secret:".length, -2)}}}`;

/** Kubernetes objects of the stack, in apply order. */
export function kubernetesObjects(cfg: ResolvedConfig): K8sObject[] {
  return [
    ...(cfg.kubernetes.createNamespace ? [namespaceSpec(cfg)] : []),
    // The restore Job runs before the StatefulSet that adopts the claim it seeds.
    ...backupAndRestoreObjects(cfg, DEPLOYMENT_NAME),
    ...redisObjects(cfg, DEPLOYMENT_NAME),
    ...(cfg.commander.enabled ? commanderObjects(cfg, DEPLOYMENT_NAME) : []),
    ...(cfg.commander.insight.enabled ? insightObjects(cfg, DEPLOYMENT_NAME) : []),
  ];
}

/** What backup.env says on the stack's target: the BackupCronJob component renders the same. */
export function backupSite(cfg: ResolvedConfig): BackupSite {
  if (cfg.target === "kubernetes") return kubernetesBackupSite(cfg, DEPLOYMENT_NAME);
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

/**
 * One object as YAML the way reviewers read it: every value written out where it is used, no
 * anchors or aliases (the yaml package would otherwise alias an object used twice), no folding.
 */
export function manifestYaml(object: object): string {
  return stringify(object, { lineWidth: 0, aliasDuplicateObjects: false });
}

function manifestFileName(index: number, object: K8sObject): string {
  return `manifests/${String(index).padStart(2, "0")}-${object.kind.toLowerCase()}-${object.metadata.name}.yaml`;
}

function under(dir: string, files: Files): Files {
  return Object.fromEntries(
    Object.entries(files).map(([file, content]) => [`${dir}/${file}`, content]),
  );
}

/**
 * Every rendered artifact of a stack, by relative path. Secrets appear only as references:
 * `{{secret:<key>}}` (and `{{sha256:<key>}}` for password hashes) in the secret files and in
 * the Secrets' stringData.
 */
export function renderArtifacts(cfg: ResolvedConfig): Files {
  const refs = secretReferences(cfg);
  const grouped = cfg.topology === "sentinel";
  const nodeSecrets = nodeSecretFiles(cfg, refs, hashReference);
  const sentinelSecrets = grouped ? sentinelSecretFiles(cfg, refs, hashReference) : {};
  const docker = cfg.target === "docker";
  const nodeAddress = docker ? dockerNodeAddress(cfg, 0) : "$(POD_IP)";
  const files: Files = {
    ...under("redis", nodePlainFiles(cfg)),
    "redis/redis-server.args":
      ["redis-server", ...redisServerArgs(cfg, docker ? DOCKER_LAYOUT : LAYOUT, nodeAddress)].join(
        "\n",
      ) + "\n",
    ...under("secrets", nodeSecrets),
    ...(grouped ? under("sentinel", sentinelPlainFiles(cfg)) : {}),
    ...(grouped ? under("secrets/sentinel", sentinelSecrets) : {}),
  };
  const backups = cfg.backup.enabled || cfg.backup.restore !== undefined;
  const backupSecrets = backups ? backupSecretFiles(cfg, refs) : {};
  if (backups) {
    Object.assign(files, under("backup", backupPlainFiles(cfg, backupSite(cfg))));
    Object.assign(files, under("secrets/backup", backupSecrets));
    if (cfg.target === "docker" && cfg.backup.enabled)
      files["backup/crontab"] = renderCrontab(cfg, DOCKER_BACKUP_COMMAND);
  }
  const commanderSecrets = cfg.commander.enabled
    ? commanderSecretFiles(cfg, refs, {
        passwordHash: "{{bcrypt:commanderPassword}}",
        sessionSecret: "{{secret:commanderSessionSecret}}",
      })
    : {};
  if (cfg.commander.enabled) {
    Object.assign(
      files,
      under("commander", commanderPlainFiles(cfg, commanderSite(cfg, DEPLOYMENT_NAME))),
    );
    Object.assign(files, under("secrets/commander", commanderSecrets));
  }
  // The alerts as a plain Prometheus rules file, for a Prometheus without the operator.
  if (cfg.metrics.enabled)
    files["metrics/alert-rules.yaml"] = renderAlertRules(cfg, DEPLOYMENT_NAME);
  if (cfg.target === "kubernetes") {
    const names = objectNames(DEPLOYMENT_NAME);
    const secretData: Record<string, Files> = {
      [names.secret]: nodeSecrets,
      [names.sentinelSecret]: sentinelSecrets,
      [backupObjectNames(DEPLOYMENT_NAME).secret]: backupSecrets,
      [commanderObjectNames(DEPLOYMENT_NAME).secret]: commanderSecrets,
      [appSecretName(DEPLOYMENT_NAME)]: appConnectionEnv(
        cfg,
        refs,
        appEndpoints(cfg, DEPLOYMENT_NAME),
      ),
    };
    kubernetesObjects(cfg).forEach((object, index) => {
      const withData =
        object.kind === "Secret"
          ? { ...object, stringData: secretData[object.metadata.name] }
          : object;
      files[manifestFileName(index, object)] = manifestYaml(withData);
    });
  }
  return files;
}
