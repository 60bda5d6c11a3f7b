import * as pulumi from "@pulumi/pulumi";
import { ResolvedConfig } from "../config/resolve";
import { Unit } from "../plan";
import { ConnectionInfo, Endpoint, buildConnection } from "../render/connection";
import { objectNames, serviceHost } from "../render/kubernetes";
import { SecretOutputs, SuppliedSecrets, allSecrets, createSecrets } from "./secrets";
import { createUnits } from "./targets/units";

export interface RedisInstanceArgs {
  /** The validated stack config (`loadPulumiConfig`): the secrets it needs, the endpoints. */
  readonly config: ResolvedConfig;
  /** The plan's units this component creates (`unitsOf(planDeployment(config), "redis")`). */
  readonly units: readonly Unit[];
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
    const values = allSecrets(this.secrets);
    createUnits(args.units, {
      name,
      component: "RedisInstance",
      parent: this,
      secrets: values.apply((v) => ({ values: v })),
      network: args.network,
      dependsOn: args.dependsOn,
      restoreFirst: args.restoreFirst,
    });
    const endpoint = endpoints(name, cfg);
    this.host = pulumi.output(endpoint.internal.host);
    this.port = pulumi.output(endpoint.internal.port);
    this.connection = pulumi.secret(
      values.apply((v) => buildConnection(cfg, v, { redis: [endpoint.external] })),
    );
    this.registerOutputs({ host: this.host, port: this.port, connection: this.connection });
  }
}

/**
 * Docker: the container `name` on the network, its port published on 127.0.0.1. Kubernetes: the
 * client Service, in the cluster and out.
 */
function endpoints(name: string, cfg: ResolvedConfig): { internal: Endpoint; external: Endpoint } {
  if (cfg.target === "docker")
    return {
      internal: { host: name, port: cfg.port },
      external: { host: "127.0.0.1", port: cfg.hostPort },
    };
  const internal = { host: serviceHost(cfg, objectNames(name).clientService), port: cfg.port };
  return { internal, external: internal };
}
