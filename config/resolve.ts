import { BackupConfig, resolveBackup } from "./backup";
import { ClientLimits, CostlyCommand } from "./client-limits";
import { ClusterConfig, resolveCluster } from "./cluster";
import { CommanderConfig, resolveCommander } from "./commander";
import { ConfigError } from "./config-error";
import { DatabasePurpose, resolveDatabases } from "./dataset";
import { DockerConfig, resolveDocker } from "./docker";
import { ImagesConfig, resolveImages } from "./images";
import { SECRET_KEYS, SecretName } from "./keys";
import { KubernetesConfig, resolveKubernetes } from "./kubernetes";
import { ReplicationBuffers, resolveMemory } from "./memory";
import { MetricsConfig, resolveMetrics } from "./metrics";
import { NetworkPolicyConfig, resolveNetworkPolicy } from "./network-policy";
import { ParsedConfig, parseConfig } from "./parse";
import { PROFILES, Profile, ProfileSettings } from "./profiles";
import { RawConfig } from "./raw-config";
import { resolveSecurity } from "./security";
import { SentinelConfig, redisNodes, resolveSentinel } from "./sentinel";

export { ConfigError } from "./config-error";
export type { DatabasePurpose } from "./dataset";
export type { SecretName } from "./keys";
export { FORK_HEADROOM, replicationBuffers } from "./memory";
export type { ReplicationBuffers } from "./memory";
export { STACK_NAME, stackNameProblem } from "./parse";
export type { RawConfig, SecretReference } from "./raw-config";

/** The redis.conf settings of a node. */
export interface RedisSettings {
  readonly maxmemory: string;
  readonly maxmemoryBytes: number;
  readonly maxmemoryPolicy: string;
  readonly maxmemorySamples: number;
  readonly maxclients: number;
  readonly tcpKeepalive: number;
  readonly appendonly: boolean;
  readonly appendfsync: string;
  readonly save: readonly string[];
  readonly activedefrag: boolean;
  readonly notifyKeyspaceEvents: string;
  readonly databases: number;
  /** Sentinel group: the master's replica output buffer limit and backlog (see `replicationBuffers`). */
  readonly replicationBuffers: ReplicationBuffers;
  /** What one client may hold or make, and all clients together (config/client-limits.ts). */
  readonly clients: ClientLimits;
}

/** Plain data every renderer, component and the sandbox work from. Holds no secret values. */
export interface ResolvedConfig {
  readonly stack: string;
  readonly target: "docker" | "kubernetes";
  readonly profile: Profile;
  readonly topology: "standalone" | "sentinel";
  /** The Redis image, imageRegistry applied (the same as `images.redis`). */
  readonly image: string;
  /** Every image, imageRegistry applied, and the pull Secrets (config/images.ts). */
  readonly images: ImagesConfig;
  readonly port: number;
  readonly hostPort: number;
  /** Addresses of redis.conf's `bind`; the node's own address is added at start where the profile says so. */
  readonly bind: readonly string[];
  readonly security: ProfileSettings;
  readonly redis: RedisSettings;
  readonly resources: {
    readonly memoryLimit: string;
    readonly memoryLimitBytes: number;
    readonly cpuRequest: string;
  };
  readonly databaseIndex: Readonly<Record<DatabasePurpose, number>>;
  /** Kubernetes: the namespace, the volumes, the placement of the pods (config/kubernetes.ts). */
  readonly kubernetes: KubernetesConfig;
  /** Docker: the network of the containers (config/docker.ts). */
  readonly docker: DockerConfig;
  /** Pub/sub channel patterns the app user may publish and subscribe to (besides keyspace events). */
  readonly appChannels: readonly string[];
  /** Commands withheld from the app user: one call could hold a node for seconds. */
  readonly appDeniedCommands: readonly CostlyCommand[];
  /** The Redis nodes and, in a sentinel group, the sentinels (config/sentinel.ts). */
  readonly sentinel: SentinelConfig;
  /** Scheduled backups, off-site copies and the restore of a new deployment (config/backup.ts). */
  readonly backup: BackupConfig;
  /** Redis Commander and RedisInsight (config/commander.ts). */
  readonly commander: CommanderConfig;
  /** Kubernetes: the applications' connection Secret, and rendering instead of applying (config/cluster.ts). */
  readonly cluster: ClusterConfig;
  /** Kubernetes: the NetworkPolicies around the pods (config/network-policy.ts). */
  readonly networkPolicy: NetworkPolicyConfig;
  /** Kubernetes: exporters, ServiceMonitor and alerts (config/metrics.ts). */
  readonly metrics: MetricsConfig;
  /** Secrets set in the stack config; the others are generated. */
  readonly suppliedSecrets: readonly SecretName[];
  /** Settings that are valid but deserve a look (printed by the commands, logged by `pulumi up`). */
  readonly warnings: readonly string[];
}

/**
 * Each feature's rules, in the order their problems are listed. A feature that needs another's
 * outcome (the memory of a node, the published ports, the off-site endpoint) follows it.
 */
function resolveFeatures({ values, supplied, invalid }: ParsedConfig) {
  const { target, profile, topology } = values;
  const security = PROFILES[profile];
  const nodes = redisNodes(topology, values.replicas);
  const memory = resolveMemory(values, { nodes }, invalid);
  const { maxmemoryBytes } = memory.memory;
  const { maxmemory, namespace } = values;
  const kubernetes = resolveKubernetes(values, { target, maxmemory, maxmemoryBytes }, invalid);
  const databases = resolveDatabases(values, invalid);
  const access = resolveSecurity(values, { profile, security, supplied }, invalid);
  const sentinels = topology === "sentinel" ? values.sentinels : 0;
  const docker = resolveDocker(
    values,
    { target, hostPort: values.hostPort, nodes, sentinels },
    invalid,
  );
  const sentinel = resolveSentinel(
    values,
    { topology, profile, profileMinReplicasToWrite: security.minReplicasToWrite },
    invalid,
  );
  const backup = resolveBackup(
    values,
    { target, profile, maxmemoryBytes, maxmemory, supplied },
    invalid,
  );
  const commander = resolveCommander(
    values,
    {
      target,
      profile,
      profileReadOnly: security.commanderReadOnly,
      publishedPorts: docker.publishedPorts,
      supplied,
    },
    invalid,
  );
  const restores = backup.backup.restore !== undefined;
  const cluster = resolveCluster(values, { target, namespace, restores }, invalid);
  const networkPolicy = resolveNetworkPolicy(
    values,
    {
      target,
      profile,
      profileDefault: security.networkPolicy,
      appSecretNamespaces: cluster.cluster.appSecretNamespaces,
      namespace,
      clusterDomain: values.clusterDomain,
      offsiteEndpoint: backup.backup.offsite?.endpoint,
    },
    invalid,
  );
  const metrics = resolveMetrics(values, { target }, invalid);
  const images = resolveImages(values, { target }, invalid);
  const problems = [
    images,
    memory,
    kubernetes,
    databases,
    access,
    docker,
    sentinel,
    backup,
    commander,
    cluster,
    networkPolicy,
    metrics,
  ].flatMap((feature) => feature.problems);
  return {
    security,
    memory: memory.memory,
    kubernetes: kubernetes.kubernetes,
    databaseIndex: databases.databaseIndex,
    bind: access.bind,
    docker: docker.docker,
    sentinel: sentinel.sentinel,
    backup: backup.backup,
    commander: commander.commander,
    cluster: cluster.cluster,
    networkPolicy: networkPolicy.networkPolicy,
    metrics: metrics.metrics,
    images: images.images,
    problems,
    warnings: [backup, commander, networkPolicy, sentinel].flatMap((feature) => feature.warnings),
    memoryWarnings: memory.warnings,
  };
}

type Features = ReturnType<typeof resolveFeatures>;

/** The config the rest of the program works from, out of the keys' values and the features' outcomes. */
function resolvedConfig(
  stack: string,
  { values, supplied }: ParsedConfig,
  features: Features,
  warnings: readonly string[],
): ResolvedConfig {
  const { memory } = features;
  return {
    stack,
    target: values.target,
    profile: values.profile,
    topology: values.topology,
    image: features.images.redis,
    images: features.images,
    port: values.port,
    hostPort: values.hostPort,
    bind: features.bind,
    security: features.security,
    redis: {
      maxmemory: values.maxmemory,
      maxmemoryBytes: memory.maxmemoryBytes,
      maxmemoryPolicy: values.maxmemoryPolicy,
      maxmemorySamples: values.maxmemorySamples,
      maxclients: values.maxclients,
      tcpKeepalive: values.tcpKeepalive,
      appendonly: values.appendonly,
      appendfsync: values.appendfsync,
      save: values.save,
      activedefrag: values.activedefrag,
      notifyKeyspaceEvents: values.notifyKeyspaceEvents,
      databases: values.databases,
      replicationBuffers: memory.replicationBuffers,
      clients: memory.clients,
    },
    resources: {
      memoryLimit: memory.memoryLimit,
      memoryLimitBytes: memory.memoryLimitBytes,
      cpuRequest: values.cpuRequest,
    },
    databaseIndex: features.databaseIndex,
    kubernetes: features.kubernetes,
    docker: features.docker,
    appChannels: values.appChannels,
    appDeniedCommands: memory.appDeniedCommands,
    sentinel: features.sentinel,
    backup: features.backup,
    commander: features.commander,
    cluster: features.cluster,
    networkPolicy: features.networkPolicy,
    metrics: features.metrics,
    suppliedSecrets: SECRET_KEYS.filter((key) => supplied.has(key)),
    warnings,
  };
}

/**
 * Validates raw stack config and resolves profile defaults: each key on its own, then each
 * feature's rules between keys. Throws a ConfigError listing every problem (key, value, what is
 * allowed) before anything is created.
 */
export function resolveConfig(raw: RawConfig): ResolvedConfig {
  const parsed = parseConfig(raw);
  const features = resolveFeatures(parsed);
  if (features.problems.length > 0) throw new ConfigError(features.problems);
  // The features' warnings, then the keys of look-alike namespaces, then the eviction policy's.
  const warnings = [...features.warnings, ...parsed.warnings, ...features.memoryWarnings];
  return resolvedConfig(raw.stack, parsed, features, warnings);
}
