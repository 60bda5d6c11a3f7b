import { ResolvedConfig } from "../config/resolve";
import { sentinelPlainFiles, sentinelSecretFiles } from "../render/files";
import { SENTINEL_MEMORY_MI, objectNames, sentinelObjects } from "../render/kubernetes";
import { DOCKER_LAYOUT as LAYOUT, dockerSentinelAddress, nodeBindArgs } from "../render/redis-conf";
import { SENTINEL_PORT } from "../render/sentinel";
import { COMPONENT_NAMES, planObjects, resourceName, unit } from "./names";
import { dockerGroupEnv, redisProcessContainer } from "./docker";
import { claimPatches, statefulSetOptions } from "./nodes";
import { FileSet, Unit } from "./types";

export function sentinelFiles(cfg: ResolvedConfig): FileSet {
  return {
    plain: sentinelPlainFiles(cfg),
    secret: (s) => sentinelSecretFiles(cfg, s.values, s.hash),
    renderDir: "sentinel",
    renderSecretDir: "secrets/sentinel",
  };
}

/** A group's sentinels, which fail over when the master is lost. */
export function sentinelUnits(cfg: ResolvedConfig): Unit[] {
  if (cfg.topology !== "sentinel") return [];
  const name = COMPONENT_NAMES.redis;
  const docker = cfg.target === "docker";
  const files = sentinelFiles(cfg);
  return [
    unit({
      name: "sentinels",
      owner: "redis",
      files: [files],
      objects: docker
        ? []
        : [
            ...planObjects(sentinelObjects(cfg, name), resourceName, (object) => {
              if (object.kind === "Secret") return { secretData: files.secret };
              if (object.kind === "StatefulSet") return statefulSetOptions(files.secret);
              return {};
            }),
            ...claimPatches(cfg, {
              statefulSet: objectNames(name).sentinelStatefulSet,
              claimTemplate: "state",
              size: cfg.kubernetes.sentinelStorageSize,
              replicas: cfg.sentinel.sentinels,
            }),
          ],
      containers: docker
        ? Array.from({ length: cfg.sentinel.sentinels }, (_, i) => {
            const address = dockerSentinelAddress(cfg, i);
            return redisProcessContainer(cfg, {
              name: `${name}-sentinel-${i}`,
              address,
              command: ["sh", LAYOUT.startSentinelScript, ...nodeBindArgs(cfg, address)],
              // The state file lives on the data volume, which belongs to the image's redis user.
              env: {
                ...dockerGroupEnv(cfg),
                STATE_DIR: LAYOUT.sentinelStateDir,
                NODE_HOST: address,
              },
              files,
              publish: { internal: SENTINEL_PORT, external: SENTINEL_PORT + i },
              probe: LAYOUT.sentinelProbeScript,
              memoryMb: SENTINEL_MEMORY_MI.limit,
            });
          })
        : [],
      processes: Array.from({ length: cfg.sentinel.sentinels }, (_, i) => ({
        name: `sentinel-${i}`,
        kind: "sentinel" as const,
        ordinal: i,
        port: SENTINEL_PORT,
        files,
        script: "start-sentinel.sh",
      })),
    }),
  ];
}
