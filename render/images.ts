import { ResolvedConfig } from "../config/resolve";

/**
 * The pull Secrets of a pod spec (`imagePullSecrets`), the same on every pod of a deployment:
 * spread into the spec, nothing when none are configured.
 */
export function podImagePullSecrets(cfg: ResolvedConfig): {
  imagePullSecrets?: { name: string }[];
} {
  const secrets = cfg.images.pullSecrets;
  return secrets.length > 0 ? { imagePullSecrets: secrets.map((name) => ({ name })) } : {};
}
