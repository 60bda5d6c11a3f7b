import * as pulumi from "@pulumi/pulumi";
import { ResolvedConfig } from "../config/resolve";
import { ConnectionInfo, Endpoint, buildConnection } from "../render/connection";
import {
  nodePlainFiles,
  nodeSecretFiles,
  sentinelPlainFiles,
  sentinelSecretFiles,
} from "../render/files";
import {
  SENTINEL_MEMORY_MI,
  appEndpoints,
  objectNames,
  podHost,
  sentinelEndpoints,
} from "../render/kubernetes";
import {
  DOCKER_LAYOUT as LAYOUT,
  dockerNodeAddress,
  dockerSentinelAddress,
  nodeBindArgs,
  redisServerArgs,
} from "../render/redis-conf";
import { SENTINEL_PORT, dockerSentinelEndpoints, endpointList } from "../render/sentinel";
import { SecretOutputs, SuppliedSecrets, allSecrets, createSecrets } from "./secrets";
import { createDockerProcess, createImage, redisMemoryMb } from "./targets/docker";
import { createKubernetesObjects } from "./targets/kubernetes";
import { appConnectionEnv, appSecretName } from "../render/app-secret";

export interface SentinelGroupArgs {
  /** The validated stack config; `sentinel.*` sizes the group (default 3 nodes, 3 sentinels, quorum 2). */
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
 * Redis nodes (one master, replicas) watched by sentinels that fail over when the master is lost.
 * Every node runs the same rendered redis.conf as a RedisInstance; a node chooses its role at
 * start from what the sentinels know (start-redis.sh).
 */
export class SentinelGroup extends pulumi.ComponentResource {
  public readonly masterName: pulumi.Output<string>;
  /** Sentinel addresses applications use (ioredis `sentinels`). */
  public readonly sentinels: pulumi.Output<Endpoint[]>;
  /** The connection contract (docs/connecting.md); secret, since it carries passwords. */
  public readonly connection: pulumi.Output<ConnectionInfo>;
  public readonly secrets: SecretOutputs;

  constructor(name: string, args: SentinelGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("lowcode:redis:SentinelGroup", name, {}, opts);
    const cfg = args.config;
    if (cfg.topology !== "sentinel") {
      throw new Error(
        `SentinelGroup ${name}: topology is ${cfg.topology}; a single server is a RedisInstance`,
      );
    }
    this.secrets = createSecrets(name, cfg, args.secrets ?? {}, this);
    const endpoints =
      cfg.target === "docker"
        ? this.createDocker(name, cfg, args)
        : this.createKubernetes(name, cfg, args);
    this.masterName = pulumi.output(cfg.sentinel.masterName);
    this.sentinels = pulumi.output(endpoints.sentinels);
    this.connection = pulumi.secret(
      allSecrets(this.secrets).apply((values) => buildConnection(cfg, values, endpoints)),
    );
    this.registerOutputs({
      masterName: this.masterName,
      sentinels: this.sentinels,
      connection: this.connection,
    });
  }

  /**
   * Containers `name-0…` and `name-sentinel-0…` on the network at fixed addresses; ports on
   * 127.0.0.1 from hostPort and 26379 up.
   */
  private createDocker(name: string, cfg: ResolvedConfig, args: SentinelGroupArgs) {
    if (args.network === undefined)
      throw new Error(`SentinelGroup ${name}: args.network is required on the docker target`);
    const network = args.network;
    const image = createImage(name, cfg, this).imageId;
    const values = allSecrets(this.secrets);
    const nodeSecrets = values.apply((v) => nodeSecretFiles(cfg, v));
    const sentinelSecrets = values.apply((v) => sentinelSecretFiles(cfg, v));
    const sentinelList = endpointList(dockerSentinelEndpoints(cfg));
    const groupEnv = {
      CONF_DIR: LAYOUT.confDir,
      DATA_DIR: LAYOUT.dataDir,
      DEFAULT_MASTER: `${dockerNodeAddress(cfg, 0)} ${cfg.port}`,
      SENTINELS: sentinelList,
      NODES: Array.from(
        { length: cfg.sentinel.nodes },
        (_, i) => `${dockerNodeAddress(cfg, i)}:${cfg.port}`,
      ).join(" "),
    };
    const redis: Endpoint[] = [];
    for (let i = 0; i < cfg.sentinel.nodes; i++) {
      const address = dockerNodeAddress(cfg, i);
      createDockerProcess(
        {
          name: `${name}-${i}`,
          image,
          network,
          address,
          command: ["sh", LAYOUT.startRedisScript, ...redisServerArgs(cfg, LAYOUT, address)],
          env: { ...groupEnv, NODE_HOST: address, NODE_PORT: String(cfg.port) },
          plainFiles: nodePlainFiles(cfg),
          secretFiles: nodeSecrets,
          publish: { internal: cfg.port, external: cfg.hostPort + i },
          healthcheck: LAYOUT.probeScript,
          memoryMb: redisMemoryMb(cfg),
          after: i === 0 ? args.restoreFirst : undefined,
        },
        this,
      );
      redis.push({ host: "127.0.0.1", port: cfg.hostPort + i });
    }
    const sentinels: Endpoint[] = [];
    for (let i = 0; i < cfg.sentinel.sentinels; i++) {
      const address = dockerSentinelAddress(cfg, i);
      createDockerProcess(
        {
          name: `${name}-sentinel-${i}`,
          image,
          network,
          address,
          command: ["sh", LAYOUT.startSentinelScript, ...nodeBindArgs(cfg, address)],
          // The state file lives on the data volume, which belongs to the image's redis user.
          env: { ...groupEnv, STATE_DIR: LAYOUT.sentinelStateDir, NODE_HOST: address },
          plainFiles: sentinelPlainFiles(cfg),
          secretFiles: sentinelSecrets,
          publish: { internal: SENTINEL_PORT, external: SENTINEL_PORT + i },
          healthcheck: LAYOUT.sentinelProbeScript,
          memoryMb: SENTINEL_MEMORY_MI.limit,
        },
        this,
      );
      sentinels.push({ host: "127.0.0.1", port: SENTINEL_PORT + i });
    }
    return { redis, sentinels };
  }

  /** Secrets, ConfigMaps, headless Services, a sentinel Service, two StatefulSets and their PDBs. */
  private createKubernetes(name: string, cfg: ResolvedConfig, args: SentinelGroupArgs) {
    const n = objectNames(name);
    const values = allSecrets(this.secrets);
    createKubernetesObjects(
      name,
      cfg,
      {
        [n.secret]: values.apply((v) => nodeSecretFiles(cfg, v)),
        [n.sentinelSecret]: values.apply((v) => sentinelSecretFiles(cfg, v)),
        [appSecretName(name)]: values.apply((v) =>
          appConnectionEnv(cfg, v, appEndpoints(cfg, name)),
        ),
      },
      this,
      args.dependsOn,
      args.restoreFirst,
    );
    const redis = Array.from({ length: cfg.sentinel.nodes }, (_, i) => ({
      host: podHost(cfg, n.statefulSet, n.headlessService, i),
      port: cfg.port,
    }));
    return { redis, sentinels: sentinelEndpoints(cfg, name) };
  }
}
