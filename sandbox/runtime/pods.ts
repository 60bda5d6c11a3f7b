import * as fs from "node:fs";
import * as path from "node:path";
import { ResolvedConfig } from "../../config/resolve";
import { Files, nodeSecretFiles, sentinelSecretFiles } from "../../render/files";
import { K8sObject, objectNames, podHost, redisObjects } from "../../render/kubernetes";
import { DEPLOYMENT_NAME } from "../../render/names";
import { SecretValues } from "../../render/redis-conf";
import { SENTINEL_PORT } from "../../render/sentinel";
import { Deviation, applyDeviations } from "./capabilities";
import { RunnablePod, preparePod } from "./kubelet";
import { Pod, PodNetwork } from "./pod-network";

/**
 * Pods mode of the sandbox: the StatefulSets `npm run render` writes for this stack, each pod in a
 * pod of a `PodNetwork` under its stable DNS name, run by `preparePod` (sandbox/runtime/kubelet.ts).
 */

/** Where the pods' volumes and container roots live under the sandbox dir. */
export const podsDir = (dir: string) => path.join(dir, "pods");

/** The stable DNS name of a node or sentinel pod, as the StatefulSet and its headless Service give it. */
export function podDnsName(
  cfg: ResolvedConfig,
  kind: "redis" | "sentinel",
  ordinal: number,
): string {
  const n = objectNames(DEPLOYMENT_NAME);
  return kind === "redis"
    ? podHost(cfg, n.statefulSet, n.headlessService, ordinal)
    : podHost(cfg, n.sentinelStatefulSet, n.sentinelHeadlessService, ordinal);
}

/** The port a node or sentinel listens on in its pod: the deployed one. */
export const podPort = (cfg: ResolvedConfig, kind: "redis" | "sentinel") =>
  kind === "redis" ? cfg.port : SENTINEL_PORT;

/**
 * The rendered objects with the sandbox's deviations applied to redis.conf (the ConfigMap), and
 * the Secrets' data as the components would fill them.
 */
function sources(cfg: ResolvedConfig, secrets: SecretValues, deviations: readonly Deviation[]) {
  const n = objectNames(DEPLOYMENT_NAME);
  const objects = redisObjects(cfg, DEPLOYMENT_NAME);
  const configMaps: Record<string, Files> = {};
  for (const o of objects.filter((o): o is K8sObject & { data: Files } => o.kind === "ConfigMap"))
    configMaps[o.metadata.name] = { ...o.data };
  const nodeConfig = configMaps[n.configMap];
  nodeConfig["redis.conf"] = applyDeviations(nodeConfig["redis.conf"], deviations);
  const secretData: Record<string, Files> = {
    [n.secret]: nodeSecretFiles(cfg, secrets),
    ...(cfg.topology === "sentinel"
      ? { [n.sentinelSecret]: sentinelSecretFiles(cfg, secrets) }
      : {}),
  };
  const statefulSet = (name: string) =>
    objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === name)!;
  return {
    configMaps,
    secrets: secretData,
    redis: statefulSet(n.statefulSet),
    sentinel: cfg.topology === "sentinel" ? statefulSet(n.sentinelStatefulSet) : undefined,
  };
}

/**
 * Lays out and initialises (init containers) every pod of the deployment; `pods` names the
 * sandbox's processes (`redis-0`, `sentinel-1`…), already added to the network, each with the
 * host directory of its claim. Returns how to run each.
 */
export function prepareDeploymentPods(
  cfg: ResolvedConfig,
  network: PodNetwork,
  dir: string,
  secrets: SecretValues,
  deviations: readonly Deviation[],
  pods: ReadonlyArray<{ name: string; kind: "redis" | "sentinel"; ordinal: number; claim: string }>,
): Map<string, RunnablePod> {
  const src = sources(cfg, secrets, deviations);
  const prepared = new Map<string, RunnablePod>();
  for (const p of pods) {
    const statefulSet = p.kind === "redis" ? src.redis : src.sentinel!;
    prepared.set(
      p.name,
      preparePod(network, network.get(p.name), {
        statefulSet,
        ordinal: p.ordinal,
        configMaps: src.configMaps,
        secrets: src.secrets,
        claims: { data: p.claim, state: p.claim },
        podDir: path.join(podsDir(dir), p.name),
      }),
    );
  }
  return prepared;
}

/**
 * A pod for a program of the host (Commander, the backup, a drill's client): its network
 * namespace, and a mount namespace where /etc/hosts is the network's shared hosts file (nothing
 * else changes).
 */
export function hostProgramPod(network: PodNetwork, dir: string, name: string): Pod {
  const pod = network.addPod(name, []);
  const etc = path.join(podsDir(dir), name, "etc");
  fs.mkdirSync(etc, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(etc, "resolv.conf"), "", { mode: 0o644 });
  network.pinMounts(pod);
  network.rootShell(
    pod,
    'mount --bind "$2" /etc/hosts && mount --bind "$1/resolv.conf" /etc/resolv.conf',
    [etc, network.hostsPath],
  );
  return pod;
}
