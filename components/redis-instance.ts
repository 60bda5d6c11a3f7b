import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ResolvedConfig } from "../config/resolve";
import { ConnectionInfo, Endpoint, buildConnection } from "../render/connection";
import {
  configMapSpec,
  redisObjectNames,
  redisStatefulSetSpec,
  secretSpec,
  servicesSpec,
} from "../render/kubernetes";
import {
  LAYOUT,
  dockerNodeAddress,
  plainFiles,
  redisServerArgs,
  secretFiles,
} from "../render/redis-conf";
import { SecretOutputs, SuppliedSecrets, allSecrets, createSecrets } from "./secrets";

export interface RedisInstanceArgs {
  /** The validated stack config (`loadPulumiConfig`); decides the target and the profile. */
  readonly config: ResolvedConfig;
  /** Passwords set with `pulumi config set --secret`. Default: every password is generated. */
  readonly secrets?: SuppliedSecrets;
  /** Docker: network to join (the platform's `lowcode-network`). Required on the docker target. */
  readonly network?: pulumi.Input<string>;
  /** Kubernetes: resources to create first (the Namespace). Default none. */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * One Redis server with the platform's settings and the profile's security: a container on the
 * Docker network, or a one-pod StatefulSet with Services in Kubernetes.
 */
export class RedisInstance extends pulumi.ComponentResource {
  /** Address applications use: the Docker alias or the Service DNS name. */
  public readonly host: pulumi.Output<string>;
  public readonly port: pulumi.Output<number>;
  /** DESIGN §3 connection contract; secret, since it carries passwords. */
  public readonly connection: pulumi.Output<ConnectionInfo>;
  public readonly secrets: SecretOutputs;

  constructor(name: string, args: RedisInstanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("lowcode:redis:RedisInstance", name, {}, opts);
    const cfg = args.config;
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
  private createDocker(
    name: string,
    cfg: ResolvedConfig,
    args: RedisInstanceArgs,
  ): { internal: Endpoint; external: Endpoint } {
    if (args.network === undefined)
      throw new Error(`RedisInstance ${name}: args.network is required on the docker target`);
    const image = new docker.RemoteImage(
      `${name}-image`,
      { name: cfg.image, keepLocally: true },
      { parent: this },
    );
    const volume = new docker.Volume(`${name}-data`, { name: `${name}-data` }, { parent: this });
    const files = allSecrets(this.secrets).apply((values) => secretFiles(cfg, values));
    // Owned by the image's redis user (999): Sentinel's CONFIG REWRITE needs a writable redis.conf.
    const upload = (file: string, content: pulumi.Input<string>) => ({
      file: `${LAYOUT.confDir}/${file}`,
      content,
      owner: "999",
      group: "999",
      permissions: "0600",
    });
    const address = dockerNodeAddress(cfg, 0);
    new docker.Container(
      `${name}-container`,
      {
        name,
        image: image.imageId,
        user: "999:999",
        command: ["redis-server", ...redisServerArgs(cfg, LAYOUT, address)],
        uploads: [
          ...Object.entries(plainFiles(cfg)).map(([file, content]) => upload(file, content)),
          ...["secrets.conf", ...(cfg.security.aclUsers ? ["users.acl"] : []), "probe.pass"].map(
            (file) => upload(file, pulumi.secret(files.apply((f) => f[file]))),
          ),
        ],
        networksAdvanced: [{ name: args.network, aliases: [name], ipv4Address: address }],
        ports: [{ internal: cfg.port, external: cfg.hostPort, ip: "127.0.0.1", protocol: "tcp" }],
        volumes: [{ volumeName: volume.name, containerPath: LAYOUT.dataDir }],
        restart: "unless-stopped",
        healthcheck: {
          tests: ["CMD", "sh", LAYOUT.probeScript],
          interval: "10s",
          timeout: "3s",
          retries: 5,
          startPeriod: "10s",
        },
        wait: true,
        memory: Math.ceil(cfg.resources.memoryLimitBytes / 1024 ** 2),
        capabilities: { drops: ["ALL"] },
        securityOpts: ["no-new-privileges:true"],
        logDriver: "json-file",
        logOpts: { "max-size": "10m", "max-file": "3" },
      },
      { parent: this },
    );
    return {
      internal: { host: name, port: cfg.port },
      external: { host: "127.0.0.1", port: cfg.hostPort },
    };
  }

  /** Secret, ConfigMap, headless and client Services, and a one-pod StatefulSet. */
  private createKubernetes(
    name: string,
    cfg: ResolvedConfig,
    args: RedisInstanceArgs,
  ): { internal: Endpoint; external: Endpoint } {
    const opts = { parent: this, dependsOn: args.dependsOn };
    const names = redisObjectNames(name);
    const files = allSecrets(this.secrets).apply((values) => secretFiles(cfg, values));
    const secret = new k8s.core.v1.Secret(
      `${name}-auth`,
      { ...secretSpec(cfg, name), stringData: pulumi.secret(files) } as k8s.core.v1.SecretArgs,
      opts,
    );
    const configMap = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      configMapSpec(cfg, name) as unknown as k8s.core.v1.ConfigMapArgs,
      opts,
    );
    const [headless, client] = servicesSpec(cfg, name);
    new k8s.core.v1.Service(
      `${name}-headless`,
      headless as unknown as k8s.core.v1.ServiceArgs,
      opts,
    );
    new k8s.core.v1.Service(`${name}-service`, client as unknown as k8s.core.v1.ServiceArgs, opts);
    new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      redisStatefulSetSpec(cfg, name) as unknown as k8s.apps.v1.StatefulSetArgs,
      {
        ...opts,
        dependsOn: [...(args.dependsOn ?? []), secret, configMap],
      },
    );
    const host = `${names.clientService}.${cfg.kubernetes.namespace}.svc.cluster.local`;
    return { internal: { host, port: cfg.port }, external: { host, port: cfg.port } };
  }
}
