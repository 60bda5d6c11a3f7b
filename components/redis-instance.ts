import * as pulumi from "@pulumi/pulumi";
import { ResolvedConfig } from "../config/resolve";
import { ConnectionInfo, Endpoint, buildConnection } from "../render/connection";
import { nodePlainFiles, nodeSecretFiles } from "../render/files";
import { appEndpoints, objectNames, serviceHost } from "../render/kubernetes";
import { DOCKER_LAYOUT, dockerNodeAddress, redisServerArgs } from "../render/redis-conf";
import { SecretOutputs, SuppliedSecrets, allSecrets, createSecrets } from "./secrets";
import { createDockerProcess, createImage, redisMemoryMb } from "./targets/docker";
import { createKubernetesObjects } from "./targets/kubernetes";
import { appConnectionEnv, appSecretName } from "../render/app-secret";

export interface RedisInstanceArgs {
  /** The validated stack config (`loadPulumiConfig`); decides the target and the profile. */
  readonly config: ResolvedConfig;
  /** Passwords set with `pulumi config set --secret`. Default: every password is generated. */
  readonly secrets?: SuppliedSecrets;
  /** Docker: network to join (the platform's `lowcode-network`). Required on the docker target. */
  readonly network?: pulumi.Input<string>;
  /** Kubernetes: resources to create first (the Namespace). Default none. */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
  /** The restore step the first node waits for (BackupCronJob.restoreStep). Default none. */
  readonly restoreFirst?: pulumi.Input<pulumi.Resource>[];
}

/**
 * One Redis server with the platform's settings and the profile's security: a container on the
 * Docker network, or a one-pod StatefulSet with Services in Kubernetes.
 */
export class RedisInstance extends pulumi.ComponentResource {
  /** Address applications in the same network or cluster use. */
  public readonly host: pulumi.Output<string>;
  public readonly port: pulumi.Output<number>;
  /** The connection contract (docs/connecting.md); secret, since it carries passwords. */
  public readonly connection: pulumi.Output<ConnectionInfo>;
  public readonly secrets: SecretOutputs;

  constructor(name: string, args: RedisInstanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("lowcode:redis:RedisInstance", name, {}, opts);
    const cfg = args.config;
    if (cfg.topology !== "standalone") {
      throw new Error(
        `RedisInstance ${name}: topology is ${cfg.topology}; a sentinel group is a SentinelGroup`,
      );
    }
    this.secrets = createSecrets(name, cfg, args.secrets ?? {}, this);
    const endpoint =
      cfg.target === "docker"
        ? this.createDocker(name, cfg, args)
        : this.createKubernetes(name, cfg, args);
    this.host = pulumi.output(endpoint.internal.host);
    this.port = pulumi.output(endpoint.internal.port);
    this.connection = pulumi.secret(
      allSecrets(this.secrets).apply((values) =>
        buildConnection(cfg, values, { redis: [endpoint.external] }),
      ),
    );
    this.registerOutputs({ host: this.host, port: this.port, connection: this.connection });
  }

  /** Container `name` on the network, data in a named volume, port published on 127.0.0.1 only. */
  private createDocker(name: string, cfg: ResolvedConfig, args: RedisInstanceArgs) {
    if (args.network === undefined)
      throw new Error(`RedisInstance ${name}: args.network is required on the docker target`);
    const image = createImage(name, cfg, this);
    const address = dockerNodeAddress(cfg, 0);
    createDockerProcess(
      {
        name,
        image: image.imageId,
        network: args.network,
        address,
        command: [
          "sh",
          DOCKER_LAYOUT.startRedisScript,
          ...redisServerArgs(cfg, DOCKER_LAYOUT, address),
        ],
        env: { CONF_DIR: DOCKER_LAYOUT.confDir, DATA_DIR: DOCKER_LAYOUT.dataDir },
        plainFiles: nodePlainFiles(cfg),
        secretFiles: allSecrets(this.secrets).apply((values) => nodeSecretFiles(cfg, values)),
        publish: { internal: cfg.port, external: cfg.hostPort },
        healthcheck: DOCKER_LAYOUT.probeScript,
        memoryMb: redisMemoryMb(cfg),
        after: args.restoreFirst,
      },
      this,
    );
    const internal: Endpoint = { host: name, port: cfg.port };
    return { internal, external: { host: "127.0.0.1", port: cfg.hostPort } };
  }

  /** Secret, ConfigMap, headless and client Services, and a one-pod StatefulSet. */
  private createKubernetes(name: string, cfg: ResolvedConfig, args: RedisInstanceArgs) {
    const names = objectNames(name);
    const values = allSecrets(this.secrets);
    createKubernetesObjects(
      name,
      cfg,
      {
        [names.secret]: values.apply((v) => nodeSecretFiles(cfg, v)),
        [appSecretName(name)]: values.apply((v) =>
          appConnectionEnv(cfg, v, appEndpoints(cfg, name)),
        ),
      },
      this,
      args.dependsOn,
      args.restoreFirst,
    );
    const host = serviceHost(cfg, names.clientService);
    const internal: Endpoint = { host, port: cfg.port };
    return { internal, external: internal };
  }
}
