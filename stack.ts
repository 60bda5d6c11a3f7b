import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  BackupCronJob,
  CommanderUI,
  RedisInstance,
  SentinelGroup,
  SuppliedSecrets,
  allSecrets,
} from "./components";
import { createObjects } from "./components/targets/kubernetes";
import { NAMESPACE } from "./config/keys";
import { ResolvedConfig } from "./config/resolve";
import { COMPONENT_NAMES, DeploymentPlan, planDeployment, unitsOf } from "./plan";
import { ConnectionInfo } from "./render/connection";
import { DEPLOYMENT_NAME } from "./render/names";
import { SecretValues } from "./render/redis-conf";

export interface StackOutputs {
  readonly connection: pulumi.Output<ConnectionInfo>;
  /** Where Redis Commander is reached, when enabled. */
  readonly commanderUrl?: pulumi.Output<string>;
  /** Commander's sign-in; secret. */
  readonly commanderLogin?: pulumi.Output<{ username: string; password: string }>;
}

/**
 * Builds the whole resource graph of one stack from its validated config: the units of its plan,
 * each created by the component that owns it.
 */
export function deployStack(cfg: ResolvedConfig, secrets: SuppliedSecrets): StackOutputs {
  for (const warning of cfg.warnings) void pulumi.log.warn(warning);
  const plan = planDeployment(cfg);

  const stack = { cfg, plan, secrets };
  if (cfg.target === "docker") return deploy(stack, { network: dockerNetwork(cfg) });

  const provider = kubernetesProvider(cfg);
  // The stack's own objects (the namespace) come before every component's.
  const { created } = createObjects(
    unitsOf(plan, "stack").flatMap((u) => u.objects),
    { opts: { provider }, secrets: pulumi.output({ values: {} }) },
  );
  return deploy(stack, { dependsOn: created, providers: provider ? [provider] : undefined });
}

/**
 * With `renderYamlTo`, a provider that writes every object as YAML into that directory instead of
 * applying it (GitOps: a controller in the cluster applies the files). Without it, the default
 * provider of the stack (`kubernetes:context`), so that a stack applied before keeps its provider.
 */
export function kubernetesProvider(cfg: ResolvedConfig): k8s.Provider | undefined {
  if (cfg.cluster.renderYamlTo === undefined) return undefined;
  return new k8s.Provider("lowcode-render-yaml", {
    renderYamlToDirectory: cfg.cluster.renderYamlTo,
  });
}

/** What the components are built from: the config, its plan, the secrets set for the stack. */
interface StackInput {
  readonly cfg: ResolvedConfig;
  readonly plan: DeploymentPlan;
  readonly secrets: SuppliedSecrets;
}

/** Where the components go: the Docker network, what they wait for, the Kubernetes provider. */
interface Placement {
  readonly network?: pulumi.Input<string>;
  readonly dependsOn?: pulumi.Resource[];
  readonly providers?: pulumi.ProviderResource[];
}

/** The Redis component with its backups, then Commander beside it. */
function deploy(stack: StackInput, placement: Placement): StackOutputs {
  const { cfg, plan, secrets } = stack;
  const redis = deployRedis(stack, placement);
  const units = unitsOf(plan, "commander");
  if (units.length === 0) return { connection: redis.connection };
  const ui = new CommanderUI(
    COMPONENT_NAMES.commander,
    {
      config: cfg,
      units,
      redisName: DEPLOYMENT_NAME,
      redisSecrets: allSecrets(redis.secrets),
      password: secrets.commanderPassword,
      network: placement.network,
      dependsOn: [...(placement.dependsOn ?? []), redis],
    },
    { providers: placement.providers },
  );
  if (!ui.url || !ui.login) return { connection: redis.connection };
  return {
    // The contract's `commander` entry: the URL and the sign-in.
    connection: pulumi.secret(
      pulumi
        .all([redis.connection, ui.url, ui.login])
        .apply(([connection, url, login]) => ({ ...connection, commander: { url, ...login } })),
    ),
    commanderUrl: ui.url,
    commanderLogin: ui.login,
  };
}

/**
 * The Redis component and its backups. The backups are built first, so that the first node can
 * wait for their restore step; they get the Redis component's secrets once it has made them.
 */
function deployRedis(stack: StackInput, placement: Placement): RedisInstance | SentinelGroup {
  const units = unitsOf(stack.plan, "backup");
  if (units.length === 0) return createRedis(stack, placement);
  let handOver!: (values: pulumi.Output<SecretValues>) => void;
  const groupSecrets = pulumi.output(
    new Promise<pulumi.Output<SecretValues>>((resolve) => (handOver = resolve)),
  );
  const backup = new BackupCronJob(
    COMPONENT_NAMES.backup,
    {
      config: stack.cfg,
      units,
      redisName: DEPLOYMENT_NAME,
      secrets: groupSecrets.apply((values) => values),
      network: placement.network,
      dependsOn: placement.dependsOn,
    },
    { providers: placement.providers },
  );
  const redis = createRedis(stack, { ...placement, restoreFirst: backup.restoreStep });
  handOver(allSecrets(redis.secrets));
  return redis;
}

/**
 * The name of the Docker network the containers join: the network created with `dockerSubnet`
 * (`dockerNetworkCreate`, the default), or the platform's existing network of that name (its
 * compose setup may have created it), looked up so that a missing network or another subnet
 * fails the deployment before any container is created: the containers take fixed addresses
 * from `dockerSubnet`, which must then be that network's subnet.
 */
export function dockerNetwork(cfg: ResolvedConfig): pulumi.Output<string> {
  const { network, subnet, createNetwork } = cfg.docker;
  if (createNetwork) {
    return new docker.Network("lowcode-network", {
      name: network,
      driver: "bridge",
      ipamConfigs: [{ subnet }],
    }).name;
  }
  return docker.getNetworkOutput({ name: network }).apply((found) => {
    const subnets = (found.ipamConfigs ?? []).flatMap((c) => (c.subnet ? [c.subnet] : []));
    if (!subnets.includes(subnet)) {
      throw new Error(
        `Invalid ${NAMESPACE}:dockerSubnet ${JSON.stringify(subnet)}: must be the subnet of the existing Docker network ${JSON.stringify(network)} that ${NAMESPACE}:dockerNetworkCreate false joins (it has ${subnets.join(", ") || "none"}): the containers take fixed addresses from it.`,
      );
    }
    return found.name;
  });
}

/** The topology's component: one RedisInstance, or a SentinelGroup. */
function createRedis(
  { cfg, plan, secrets }: StackInput,
  placement: Placement & { restoreFirst?: pulumi.Input<pulumi.Resource>[] },
): RedisInstance | SentinelGroup {
  const { providers, ...where } = placement;
  const args = { config: cfg, units: unitsOf(plan, "redis"), secrets, ...where };
  return cfg.topology === "sentinel"
    ? new SentinelGroup(COMPONENT_NAMES.redis, args, { providers })
    : new RedisInstance(COMPONENT_NAMES.redis, args, { providers });
}
