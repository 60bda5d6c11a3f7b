import { stringify } from "yaml";
import { ResolvedConfig } from "../config/resolve";
import {
  Files,
  nodePlainFiles,
  nodeSecretFiles,
  sentinelPlainFiles,
  sentinelSecretFiles,
} from "./files";
import { K8sObject, namespaceSpec, objectNames, redisObjects } from "./kubernetes";
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
    ...redisObjects(cfg, DEPLOYMENT_NAME),
  ];
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
  if (cfg.target === "kubernetes") {
    const names = objectNames(DEPLOYMENT_NAME);
    const secretData: Record<string, Files> = {
      [names.secret]: nodeSecrets,
      [names.sentinelSecret]: sentinelSecrets,
    };
    kubernetesObjects(cfg).forEach((object, index) => {
      const withData =
        object.kind === "Secret"
          ? { ...object, stringData: secretData[object.metadata.name] }
          : object;
      files[manifestFileName(index, object)] = stringify(withData, { lineWidth: 0 });
    });
  }
  return files;
}
