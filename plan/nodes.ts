import { ResolvedConfig } from "../config/resolve";
import { nodePlainFiles, nodeSecretFiles } from "../render/files";
import { claimSizePatches } from "../render/claim-patches";
import { K8sObject, nodeObjects, objectNames } from "../render/kubernetes";
import { DOCKER_LAYOUT, LAYOUT, dockerNodeAddress, redisServerArgs } from "../render/redis-conf";
import { COMPONENT_NAMES, planObjects, resourceName, unit } from "./names";
import { dockerGroupEnv, redisProcessContainer } from "./docker";
import { FileSet, PlannedObject, Unit } from "./types";

/** Memory limit of a Redis container in MiB: `memoryLimit` (maxmemory, replication buffers, fork headroom). */
export function redisMemoryMb(cfg: ResolvedConfig): number {
  return Math.ceil(cfg.resources.memoryLimitBytes / 1024 ** 2);
}

export function nodeFiles(cfg: ResolvedConfig): FileSet {
  return {
    plain: nodePlainFiles(cfg),
    secret: (s) => nodeSecretFiles(cfg, s.values, s.hash),
    renderDir: "redis",
    renderSecretDir: "secrets",
  };
}

/** Kubernetes: a StatefulSet rolls when its Secret's data changes, and is replaced for new claims. */
export function statefulSetOptions(
  rollsWith: FileSet["secret"],
): Omit<PlannedObject, "object" | "resourceName"> {
  return {
    rollsWith,
    waitsForEarlier: true,
    // Kubernetes refuses to change the claim templates of a StatefulSet (a new volume size): it is
    // deleted and created again under its name. Its deletion orphans the pods (the StatefulSet's
    // `pulumi.com/deletionPropagationPolicy: orphan`, render/kubernetes.ts): they run on, their
    // claims and data stay, and the new StatefulSet adopts them; `claimPatches` expand the claims.
    replaceOnChanges: ["spec.volumeClaimTemplates"],
    deleteBeforeReplace: true,
  };
}

/**
 * The size patches of a StatefulSet's claims (render/claim-patches.ts), after the StatefulSet.
 * None when the manifests are written for a GitOps controller (`renderYamlTo`): it applies files
 * in its own order, and a patch applied before its claim exists would fail.
 */
export function claimPatches(
  cfg: ResolvedConfig,
  claim: Parameters<typeof claimSizePatches>[1],
  skip?: (ordinal: number) => boolean,
): PlannedObject[] {
  if (cfg.cluster.renderYamlTo !== undefined) return [];
  return planObjects(claimSizePatches(cfg, claim, skip), patchResourceName, () => ({
    patchesExisting: true,
  }));
}

const patchResourceName = (object: K8sObject) => `${resourceName(object)}-size`;

/** The Redis nodes: one of a standalone instance, `sentinel.nodes` of a group. */
export function nodeUnits(cfg: ResolvedConfig): Unit[] {
  const name = COMPONENT_NAMES.redis;
  const grouped = cfg.topology === "sentinel";
  const docker = cfg.target === "docker";
  const files = nodeFiles(cfg);
  const count = cfg.sentinel.nodes;
  const nodeAddress = docker ? dockerNodeAddress(cfg, 0) : "$(POD_IP)";
  return [
    unit({
      name: "redis-nodes",
      owner: "redis",
      files: [files],
      artifacts: {
        "redis/redis-server.args":
          [
            "redis-server",
            ...redisServerArgs(cfg, docker ? DOCKER_LAYOUT : LAYOUT, nodeAddress),
          ].join("\n") + "\n",
      },
      objects: docker
        ? []
        : [
            ...planObjects(nodeObjects(cfg, name), resourceName, (object) => {
              if (object.kind === "Secret") return { secretData: files.secret };
              if (object.kind === "StatefulSet")
                return { ...statefulSetOptions(files.secret), afterRestore: true };
              return {};
            }),
            ...claimPatches(
              cfg,
              {
                statefulSet: objectNames(name).statefulSet,
                claimTemplate: "data",
                size: cfg.kubernetes.storageSize,
                replicas: count,
              },
              // A restore creates the first node's claim itself, at the configured size.
              (ordinal) => ordinal === 0 && cfg.backup.restore !== undefined,
            ),
          ],
      containers: docker
        ? Array.from({ length: count }, (_, i) => {
            const address = dockerNodeAddress(cfg, i);
            const dirs = { CONF_DIR: DOCKER_LAYOUT.confDir, DATA_DIR: DOCKER_LAYOUT.dataDir };
            return redisProcessContainer(cfg, {
              name: grouped ? `${name}-${i}` : name,
              address,
              command: [
                "sh",
                DOCKER_LAYOUT.startRedisScript,
                ...redisServerArgs(cfg, DOCKER_LAYOUT, address),
              ],
              env: grouped
                ? { ...dockerGroupEnv(cfg), NODE_HOST: address, NODE_PORT: String(cfg.port) }
                : dirs,
              files,
              publish: { internal: cfg.port, external: cfg.hostPort + i },
              probe: DOCKER_LAYOUT.probeScript,
              memoryMb: redisMemoryMb(cfg),
              afterRestore: i === 0 ? true : undefined,
            });
          })
        : [],
      processes: Array.from({ length: count }, (_, i) => ({
        name: `redis-${i}`,
        kind: "redis" as const,
        ordinal: i,
        port: cfg.port,
        files,
        script: "start-redis.sh",
      })),
    }),
  ];
}
