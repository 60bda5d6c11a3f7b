import { ResolvedConfig } from "../config/resolve";
import { DOCKER_LAYOUT as LAYOUT, dockerNodeAddress } from "../render/redis-conf";
import { dockerSentinelEndpoints, endpointList } from "../render/sentinel";
import { COMPONENT_NAMES } from "./names";
import { ContainerSpec, FileSet } from "./types";

/** The image's redis user: Redis and Sentinel rewrite their config files, which it owns. */
export const REDIS_UID = 999;

/** The Redis components' pinned image, pulled once. */
export function redisImage(cfg: ResolvedConfig, component: string): ContainerSpec["image"] {
  return { resourceName: `${component}-image`, name: cfg.image };
}

/** What a group's start scripts get from Docker: the stable addresses of the group. */
export function dockerGroupEnv(cfg: ResolvedConfig): Record<string, string> {
  return {
    CONF_DIR: LAYOUT.confDir,
    DATA_DIR: LAYOUT.dataDir,
    DEFAULT_MASTER: `${dockerNodeAddress(cfg, 0)} ${cfg.port}`,
    SENTINELS: endpointList(dockerSentinelEndpoints(cfg)),
    NODES: Array.from(
      { length: cfg.sentinel.nodes },
      (_, i) => `${dockerNodeAddress(cfg, i)}:${cfg.port}`,
    ).join(" "),
  };
}

/**
 * A node's or a sentinel's container: the image's redis user, its files in the data volume's conf
 * dir, a fixed address on the network, the port on 127.0.0.1, an authenticated health check that
 * `pulumi up` waits for.
 */
export function redisProcessContainer(
  cfg: ResolvedConfig,
  spec: Pick<
    ContainerSpec,
    "name" | "command" | "env" | "publish" | "memoryMb" | "afterRestore"
  > & {
    readonly address: string;
    readonly files: FileSet;
    readonly probe: string;
  },
): ContainerSpec {
  return {
    resourceName: `${spec.name}-container`,
    name: spec.name,
    image: redisImage(cfg, COMPONENT_NAMES.redis),
    user: `${REDIS_UID}:${REDIS_UID}`,
    command: spec.command,
    env: spec.env,
    uploads: { dir: LAYOUT.confDir, uid: REDIS_UID, permissions: "0600", files: spec.files },
    network: { alias: spec.name, address: spec.address },
    publish: spec.publish,
    volumes: [
      { source: { create: { resourceName: `${spec.name}-data` } }, containerPath: LAYOUT.dataDir },
    ],
    healthcheck: {
      tests: ["CMD", "sh", spec.probe],
      interval: "10s",
      timeout: "3s",
      retries: 5,
      startPeriod: "30s",
    },
    waitHealthy: true,
    memoryMb: spec.memoryMb,
    afterRestore: spec.afterRestore,
  };
}
