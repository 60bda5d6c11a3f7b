import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ResolvedConfig } from "../../config/resolve";
import { Files } from "../../render/files";
import { DOCKER_LAYOUT as LAYOUT } from "../../render/redis-conf";

/** A container of the deployment: files uploaded into its data volume's conf dir. */
export interface DockerProcessSpec {
  /** Container name and network alias; resource names derive from it. */
  readonly name: string;
  readonly image: pulumi.Input<string>;
  readonly network: pulumi.Input<string>;
  readonly address: string;
  readonly command: string[];
  readonly env?: Record<string, string>;
  readonly plainFiles: Files;
  readonly secretFiles: pulumi.Output<Files>;
  /** Container port published on 127.0.0.1 of the host. */
  readonly publish: { readonly internal: number; readonly external: number };
  readonly healthcheck: string;
  /** Memory limit in MiB (the provider's "MB"); every container of the deployment has one. */
  readonly memoryMb: number;
  /** What must be done first: the restore step that seeds the first node's volume. */
  readonly after?: pulumi.Input<pulumi.Resource>[];
}

/**
 * One container with the image's redis user (999), all capabilities dropped, a restart policy, an
 * authenticated health check, and the port on 127.0.0.1 only. Owned by 999 and writable: Redis and
 * Sentinel rewrite their config files.
 */
export function createDockerProcess(
  spec: DockerProcessSpec,
  parent: pulumi.Resource,
): docker.Container {
  const volume = new docker.Volume(`${spec.name}-data`, { name: `${spec.name}-data` }, { parent });
  const upload = (file: string, content: string) => ({
    file: `${LAYOUT.confDir}/${file}`,
    content,
    owner: "999",
    group: "999",
    permissions: "0600",
  });
  return new docker.Container(
    `${spec.name}-container`,
    {
      name: spec.name,
      image: spec.image,
      user: "999:999",
      command: spec.command,
      envs: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
      // Secret as a whole: the engine keeps secretness per property.
      uploads: spec.secretFiles.apply((secretFiles) =>
        Object.entries({ ...spec.plainFiles, ...secretFiles }).map(([file, content]) =>
          upload(file, content),
        ),
      ),
      networksAdvanced: [{ name: spec.network, aliases: [spec.name], ipv4Address: spec.address }],
      ports: [
        {
          internal: spec.publish.internal,
          external: spec.publish.external,
          ip: "127.0.0.1",
          protocol: "tcp",
        },
      ],
      volumes: [{ volumeName: volume.name, containerPath: LAYOUT.dataDir }],
      restart: "unless-stopped",
      healthcheck: {
        tests: ["CMD", "sh", spec.healthcheck],
        interval: "10s",
        timeout: "3s",
        retries: 5,
        startPeriod: "30s",
      },
      wait: true,
      memory: spec.memoryMb,
      capabilities: { drops: ["ALL"] },
      securityOpts: ["no-new-privileges:true"],
      logDriver: "json-file",
      logOpts: { "max-size": "10m", "max-file": "3" },
    },
    { parent, dependsOn: [volume, ...(spec.after ?? [])] },
  );
}

/** The pinned image, pulled once per component. */
export function createImage(
  name: string,
  cfg: ResolvedConfig,
  parent: pulumi.Resource,
): docker.RemoteImage {
  return new docker.RemoteImage(
    `${name}-image`,
    { name: cfg.image, keepLocally: true },
    { parent },
  );
}

/** Memory limit of a Redis container in MiB: `memoryLimit` (maxmemory, replication buffers, fork headroom). */
export function redisMemoryMb(cfg: ResolvedConfig): number {
  return Math.ceil(cfg.resources.memoryLimitBytes / 1024 ** 2);
}
