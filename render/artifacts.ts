import { stringify } from "yaml";
import { ResolvedConfig } from "../config/resolve";
import { DEPLOYMENT_NAME } from "./names";
import { K8sObject, namespaceSpec, redisObjectNames, standaloneObjects } from "./kubernetes";
import {
  LAYOUT,
  SecretValues,
  dockerNodeAddress,
  plainFiles,
  redisServerArgs,
  requiredSecrets,
  secretFiles,
} from "./redis-conf";

/** Stand-ins for secret values: `{{secret:<key>}}`, naming where the value comes from. */
export function secretReferences(cfg: ResolvedConfig): SecretValues {
  return Object.fromEntries(requiredSecrets(cfg).map((key) => [key, `{{secret:${key}}}`]));
}

/** Kubernetes objects of the stack, in apply order. */
export function kubernetesObjects(cfg: ResolvedConfig): K8sObject[] {
  return [
    ...(cfg.kubernetes.createNamespace ? [namespaceSpec(cfg)] : []),
    ...standaloneObjects(cfg, DEPLOYMENT_NAME),
  ];
}

function manifestFileName(index: number, object: K8sObject): string {
  return `manifests/${String(index).padStart(2, "0")}-${object.kind.toLowerCase()}-${object.metadata.name}.yaml`;
}

/**
 * Every rendered artifact of a stack, by relative path. Secrets appear only as references:
 * `{{secret:<key>}}` in the secret files and the Secret's stringData.
 */
export function renderArtifacts(cfg: ResolvedConfig): Record<string, string> {
  const refs = secretReferences(cfg);
  const files: Record<string, string> = {};
  for (const [file, content] of Object.entries(plainFiles(cfg))) files[`redis/${file}`] = content;
  const secretFileRefs = secretFiles(cfg, refs, (ref) => `{{sha256:${ref.slice(2, -2)}}}`);
  for (const [file, content] of Object.entries(secretFileRefs)) files[`secrets/${file}`] = content;
  const nodeAddress = cfg.target === "docker" ? dockerNodeAddress(cfg, 0) : "$(POD_IP)";
  files["redis/redis-server.args"] =
    ["redis-server", ...redisServerArgs(cfg, LAYOUT, nodeAddress)].join("\n") + "\n";
  if (cfg.target === "kubernetes") {
    const secretName = redisObjectNames(DEPLOYMENT_NAME).secret;
    kubernetesObjects(cfg).forEach((object, index) => {
      const withData =
        object.kind === "Secret" && object.metadata.name === secretName
          ? { ...object, stringData: secretFileRefs }
          : object;
      files[manifestFileName(index, object)] = stringify(withData, { lineWidth: 0 });
    });
  }
  return files;
}
