import * as pulumi from "@pulumi/pulumi";
import { ResolvedConfig } from "../config/resolve";
import { Unit } from "../plan";
import { ConnectionInfo, Endpoint, buildConnection } from "../render/connection";
import { objectNames, podHost, sentinelEndpoints } from "../render/kubernetes";
import { SENTINEL_PORT } from "../render/sentinel";
import { SecretOutputs, SuppliedSecrets, allSecrets, createSecrets } from "./secrets";
import { createUnits } from "./targets/units";

export interface SentinelGroupArgs {
  /** The validated stack config: the secrets it needs, `sentinel.*` for the endpoints. */
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
    const values = allSecrets(this.secrets);
    createUnits(args.units, {
      name,
      component: "SentinelGroup",
      parent: this,
      secrets: values.apply((v) => ({ values: v })),
      network: args.network,
      dependsOn: args.dependsOn,
      restoreFirst: args.restoreFirst,
    });
    const found = endpoints(name, cfg);
    this.masterName = pulumi.output(cfg.sentinel.masterName);
    this.sentinels = pulumi.output(found.sentinels);
    this.connection = pulumi.secret(values.apply((v) => buildConnection(cfg, v, found)));
    this.registerOutputs({
      masterName: this.masterName,
      sentinels: this.sentinels,
      connection: this.connection,
    });
  }
}

/**
 * Docker: the nodes' and sentinels' ports on 127.0.0.1, from hostPort and 26379 up. Kubernetes:
 * each node's pod, and the sentinels'.
 */
function endpoints(
  name: string,
  cfg: ResolvedConfig,
): { redis: Endpoint[]; sentinels: Endpoint[] } {
  if (cfg.target === "docker")
    return {
      redis: Array.from({ length: cfg.sentinel.nodes }, (_, i) => ({
        host: "127.0.0.1",
        port: cfg.hostPort + i,
      })),
      sentinels: Array.from({ length: cfg.sentinel.sentinels }, (_, i) => ({
        host: "127.0.0.1",
        port: SENTINEL_PORT + i,
      })),
    };
  const n = objectNames(name);
  return {
    redis: Array.from({ length: cfg.sentinel.nodes }, (_, i) => ({
      host: podHost(cfg, n.statefulSet, n.headlessService, i),
      port: cfg.port,
    })),
    sentinels: sentinelEndpoints(cfg, name),
  };
}
