import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RedisInstance, SentinelGroup, SuppliedSecrets } from "./components";
import { ResolvedConfig } from "./config/resolve";
import { ConnectionInfo } from "./render/connection";
import { namespaceSpec } from "./render/kubernetes";
import { DEPLOYMENT_NAME } from "./render/names";

export interface StackOutputs {
  readonly connection: pulumi.Output<ConnectionInfo>;
}

/** Builds the whole resource graph of one stack from its validated config. */
export function deployStack(cfg: ResolvedConfig, secrets: SuppliedSecrets): StackOutputs {
  for (const warning of cfg.warnings) void pulumi.log.warn(warning);

  if (cfg.target === "docker") {
    const network = new docker.Network("lowcode-network", {
      name: cfg.docker.network,
      driver: "bridge",
      ipamConfigs: [{ subnet: cfg.docker.subnet }],
    });
    return { connection: createRedis(cfg, secrets, { network: network.name }).connection };
  }

  const dependsOn: pulumi.Resource[] = [];
  if (cfg.kubernetes.createNamespace) {
    dependsOn.push(
      new k8s.core.v1.Namespace(
        "lowcode-namespace",
        namespaceSpec(cfg) as k8s.core.v1.NamespaceArgs,
      ),
    );
  }
  return { connection: createRedis(cfg, secrets, { dependsOn }).connection };
}

/** The topology's component: one RedisInstance, or a SentinelGroup. */
function createRedis(
  cfg: ResolvedConfig,
  secrets: SuppliedSecrets,
  placement: { network?: pulumi.Input<string>; dependsOn?: pulumi.Resource[] },
): RedisInstance | SentinelGroup {
  const args = { config: cfg, secrets, ...placement };
  return cfg.topology === "sentinel"
    ? new SentinelGroup(DEPLOYMENT_NAME, args)
    : new RedisInstance(DEPLOYMENT_NAME, args);
}
