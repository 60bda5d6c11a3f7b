import { ResolvedConfig } from "../config/resolve";
import { podImagePullSecrets } from "./images";
import type { Endpoint } from "./connection";
import { Files, nodePlainFiles, sentinelPlainFiles } from "./files";
import { LAYOUT, nodeBindArgs, redisServerArgs, sha256Hex } from "./redis-conf";
import { fillTemplate, scriptTemplate } from "./template";
import { AppEndpoints, appSecretObjects } from "./app-secret";
import { exporterContainer, exporterVolume, metricsObjects } from "./metrics";
import { redisNetworkPolicies } from "./network-policy";
import { podMetadata, podPlacement } from "./placement";
import {
  PEER_WAIT_SECONDS,
  SENTINEL_PORT,
  SENTINEL_START_WAIT_SECONDS,
  endpointList,
  masterWaitSeconds,
  terminationGraceSeconds,
} from "./sentinel";

/**
 * Kubernetes object specs as plain objects. The components turn them into resources and add each
 * Secret's data as a secret Output; `npm run render` writes them as YAML; the tests validate them
 * against the Kubernetes schemas.
 */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
} & Record<string, unknown>;

/** Mount points of the read-only sources the init container copies into the writable /conf. */
export const MOUNTS = { config: "/etc/redis-config", secret: "/etc/redis-secret" } as const;

/** Object names derived from the component name, so two instances never collide. */
export function objectNames(name: string) {
  return {
    statefulSet: name,
    headlessService: `${name}-headless`,
    clientService: name,
    configMap: `${name}-config`,
    secret: `${name}-auth`,
    disruptionBudget: name,
    sentinelStatefulSet: `${name}-sentinel`,
    sentinelHeadlessService: `${name}-sentinel-headless`,
    sentinelService: `${name}-sentinel`,
    sentinelConfigMap: `${name}-sentinel-config`,
    sentinelSecret: `${name}-sentinel-auth`,
    sentinelDisruptionBudget: `${name}-sentinel`,
  };
}

export function labels(name: string, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "redis",
    "app.kubernetes.io/instance": name,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": "lowcode-platform",
    "app.kubernetes.io/managed-by": "pulumi",
  };
}

/** Selector labels: the stable subset of `labels`. */
export function selector(name: string, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "redis",
    "app.kubernetes.io/instance": name,
    "app.kubernetes.io/component": component,
  };
}

/** DNS name of a Service of the namespace, in the cluster's domain (`clusterDomain`). */
export function serviceHost(cfg: ResolvedConfig, service: string): string {
  return `${service}.${cfg.kubernetes.namespace}.svc.${cfg.kubernetes.clusterDomain}`;
}

/** Stable DNS name of pod `index` of a StatefulSet behind its headless Service. */
export function podHost(
  cfg: ResolvedConfig,
  statefulSet: string,
  headless: string,
  index: number,
): string {
  return `${statefulSet}-${index}.${serviceHost(cfg, headless)}`;
}

/**
 * Memory of a sentinel container, in MiB, on both targets: Sentinel holds a few connections and
 * the state of one master, about 12 MiB. The limit holds what its clients may take past that:
 * maxmemory-clients (config/client-limits.ts), which Redis counts low for a command of millions
 * of empty arguments (a sentinel whose clients it counted at 10mb held 71 MiB in all).
 */
export const SENTINEL_MEMORY_MI = { request: 32, limit: 128 } as const;

/** Every sentinel pod at its stable DNS name. */
export function sentinelEndpoints(cfg: ResolvedConfig, name: string): Endpoint[] {
  const n = objectNames(name);
  return Array.from({ length: cfg.sentinel.sentinels }, (_, i) => ({
    host: podHost(cfg, n.sentinelStatefulSet, n.sentinelHeadlessService, i),
    port: SENTINEL_PORT,
  }));
}

/** Every sentinel's stable address, "host:port ...", for the start scripts. */
export function sentinelAddresses(cfg: ResolvedConfig, name: string): string {
  return endpointList(sentinelEndpoints(cfg, name));
}

/** Every Redis node's stable address, "host:port ..." in ordinal order, for the start scripts. */
export function nodeAddresses(cfg: ResolvedConfig, name: string): string {
  const n = objectNames(name);
  return Array.from(
    { length: cfg.sentinel.nodes },
    (_, i) => `${podHost(cfg, n.statefulSet, n.headlessService, i)}:${cfg.port}`,
  ).join(" ");
}

const PREPARE_TEMPLATE = scriptTemplate("prepare.sh");

/**
 * The init container's script (render/scripts/prepare.sh): copies the read-only ConfigMap and
 * Secret into the writable in-memory /conf, owner-only.
 */
export function renderPrepareScript(cfg: ResolvedConfig): string {
  return fillTemplate(PREPARE_TEMPLATE, {
    STACK: cfg.stack,
    CONFIG_MOUNT: MOUNTS.config,
    SECRET_MOUNT: MOUNTS.secret,
    CONF_DIR: LAYOUT.confDir,
  });
}

const withPrepare = (cfg: ResolvedConfig, files: Files): Files => ({
  ...files,
  "prepare.sh": renderPrepareScript(cfg),
});

export const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: 999,
  runAsGroup: 999,
  fsGroup: 999,
  // Kubelet makes a volume group-writable for fsGroup when its root does not match, not on every
  // mount: the owner-only modes Redis and the start scripts keep survive restarts.
  fsGroupChangePolicy: "OnRootMismatch",
  seccompProfile: { type: "RuntimeDefault" },
};

export const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
};

/**
 * Pod Security Admission: the namespace the program creates admits only pods of the `restricted`
 * profile (and audits and warns by it), which every pod of the deployment meets
 * (tests/unit/pod-security.test.ts).
 */
export const POD_SECURITY_LABELS = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/audit": "restricted",
  "pod-security.kubernetes.io/warn": "restricted",
};

/**
 * The Pulumi Kubernetes provider deletes an object with this propagation policy. A StatefulSet is
 * deleted only to be created again under its name (its claim templates changed, see
 * plan/nodes.ts): orphaned, its pods keep running, and the new StatefulSet adopts them.
 */
export const DELETION_PROPAGATION_ANNOTATION = "pulumi.com/deletionPropagationPolicy";

export function namespaceSpec(cfg: ResolvedConfig): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: cfg.kubernetes.namespace,
      labels: { "app.kubernetes.io/part-of": "lowcode-platform", ...POD_SECURITY_LABELS },
    },
  };
}

function meta(cfg: ResolvedConfig, objectName: string, name: string, component: string) {
  return { name: objectName, namespace: cfg.kubernetes.namespace, labels: labels(name, component) };
}

function configMap(
  cfg: ResolvedConfig,
  objectName: string,
  name: string,
  component: string,
  data: Files,
): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta(cfg, objectName, name, component),
    data,
  };
}

/** A Secret without its data: the component adds `stringData` as a secret Output. */
function secret(
  cfg: ResolvedConfig,
  objectName: string,
  name: string,
  component: string,
): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta(cfg, objectName, name, component),
    type: "Opaque",
  };
}

function service(
  cfg: ResolvedConfig,
  objectName: string,
  name: string,
  component: string,
  port: { name: string; port: number },
  headless: boolean,
): K8sObject {
  const ports = [{ name: port.name, port: port.port, targetPort: port.name, protocol: "TCP" }];
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(cfg, objectName, name, component),
    // A headless Service gives each pod a stable DNS name, published before readiness so that
    // starting nodes and sentinels can find their peers.
    spec: headless
      ? {
          clusterIP: "None",
          publishNotReadyAddresses: true,
          selector: selector(name, component),
          ports,
        }
      : { type: "ClusterIP", selector: selector(name, component), ports },
  };
}

function disruptionBudget(
  cfg: ResolvedConfig,
  objectName: string,
  name: string,
  component: string,
): K8sObject {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta(cfg, objectName, name, component),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector(name, component) } },
  };
}

function affinity(cfg: ResolvedConfig, name: string, component: string) {
  const term = {
    labelSelector: { matchLabels: selector(name, component) },
    topologyKey: "kubernetes.io/hostname",
  };
  switch (cfg.kubernetes.antiAffinity) {
    case "none":
      return {};
    case "hard":
      return {
        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } },
      };
    case "soft":
      return {
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 100, podAffinityTerm: term },
            ],
          },
        },
      };
  }
}

interface WorkloadSpec {
  readonly objectName: string;
  readonly component: string;
  readonly headless: string;
  readonly replicas: number;
  readonly configMap: string;
  readonly secret: string;
  readonly configData: Files;
  readonly container: Record<string, unknown>;
  /** The persistent volume: a state claim at /state (sentinels) or a data claim at /data (Redis). */
  readonly storage: "data-claim" | "state";
  readonly terminationGraceSeconds: number;
  /** The port of the server the exporter sidecar scrapes (when metrics are on). */
  readonly serverPort: number;
}

const POD_ENV = [
  { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
];

function statefulSet(cfg: ResolvedConfig, name: string, w: WorkloadSpec): K8sObject {
  // Redis data, or a sentinel's state file: on a persistent volume, so a sentinel that restarts
  // (the whole group with it) still knows which node is master.
  const [claimName, size] =
    w.storage === "data-claim"
      ? ["data", cfg.kubernetes.storageSize]
      : ["state", cfg.kubernetes.sentinelStorageSize];
  const claim = {
    metadata: { name: claimName, labels: selector(name, w.component) },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: size } },
      ...(cfg.kubernetes.storageClass ? { storageClassName: cfg.kubernetes.storageClass } : {}),
    },
  };
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      ...meta(cfg, w.objectName, name, w.component),
      annotations: { [DELETION_PROPAGATION_ANNOTATION]: "orphan" },
    },
    spec: {
      serviceName: w.headless,
      replicas: w.replicas,
      // Pods start together: a node chooses its role from the sentinels, not from start order.
      podManagementPolicy: w.replicas > 1 ? "Parallel" : "OrderedReady",
      selector: { matchLabels: selector(name, w.component) },
      template: {
        metadata: podMetadata(cfg, {
          labels: labels(name, w.component),
          // A changed config rolls the pods.
          annotations: { "lowcode.ton/config-sha256": sha256Hex(JSON.stringify(w.configData)) },
        }),
        spec: {
          securityContext: POD_SECURITY_CONTEXT,
          automountServiceAccountToken: false,
          ...podImagePullSecrets(cfg),
          terminationGracePeriodSeconds: w.terminationGraceSeconds,
          ...affinity(cfg, name, w.component),
          ...podPlacement(cfg, selector(name, w.component)),
          initContainers: [
            {
              name: "config",
              image: cfg.image,
              command: ["sh", `${MOUNTS.config}/prepare.sh`],
              securityContext: CONTAINER_SECURITY_CONTEXT,
              resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "32Mi" } },
              volumeMounts: [
                { name: "config", mountPath: MOUNTS.config, readOnly: true },
                { name: "secret", mountPath: MOUNTS.secret, readOnly: true },
                { name: "conf", mountPath: LAYOUT.confDir },
              ],
            },
          ],
          containers: [
            { ...w.container, securityContext: CONTAINER_SECURITY_CONTEXT },
            ...(cfg.metrics.enabled ? [exporterContainer(cfg.images.exporter, w.serverPort)] : []),
          ],
          volumes: [
            // Read by the init container only. Kubelet adds group read for fsGroup, whose only member
            // is the redis user.
            { name: "config", configMap: { name: w.configMap, defaultMode: 0o400 } },
            { name: "secret", secret: { secretName: w.secret, defaultMode: 0o400 } },
            // In memory: the copied secrets never reach a node's disk.
            { name: "conf", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
            ...(cfg.metrics.enabled ? [exporterVolume(w.secret)] : []),
          ],
        },
      },
      volumeClaimTemplates: [claim],
    },
  };
}

function execProbe(script: string, ...args: string[]) {
  return { exec: { command: ["sh", script, ...args] }, timeoutSeconds: 5 };
}

/** The floor of the load budget: the process start, a small dataset, a slow volume's first reads. */
export const STARTUP_LOAD_FLOOR_SECONDS = 60;
/**
 * The load rate the budget assumes, in MiB/s: conservative for a network volume, and for the AOF
 * increment, which Redis replays command by command (an RDB loads several times faster).
 */
export const STARTUP_LOAD_MIB_PER_SECOND = 10;

/**
 * How long a node may take to load its data at start before liveness applies:
 * 60 s + 2 × maxmemory ÷ 10 MiB/s. At start a node reads the AOF's base (an RDB of up to
 * maxmemory) and its increment, which grows to the base's size before a rewrite
 * (auto-aof-rewrite-percentage 100): up to twice maxmemory. 384mb: 60 + 77 = 137 s.
 */
export function startupLoadSeconds(maxmemoryBytes: number): number {
  const mib = maxmemoryBytes / 1024 ** 2;
  return STARTUP_LOAD_FLOOR_SECONDS + Math.ceil((2 * mib) / STARTUP_LOAD_MIB_PER_SECOND);
}

function redisContainer(cfg: ResolvedConfig, name: string): Record<string, unknown> {
  const n = objectNames(name);
  const grouped = cfg.topology === "sentinel";
  // Kubernetes expands $(POD_IP) and $(POD_NAME) from the env defined before them.
  const args = redisServerArgs(cfg, LAYOUT, "$(POD_IP)");
  const groupEnv = grouped
    ? [
        {
          name: "NODE_HOST",
          value: `$(POD_NAME).${serviceHost(cfg, n.headlessService)}`,
        },
        { name: "NODE_PORT", value: String(cfg.port) },
        {
          name: "DEFAULT_MASTER",
          value: `${podHost(cfg, n.statefulSet, n.headlessService, 0)} ${cfg.port}`,
        },
        { name: "SENTINELS", value: sentinelAddresses(cfg, name) },
        { name: "NODES", value: nodeAddresses(cfg, name) },
      ]
    : [];
  return {
    name: "redis",
    image: cfg.image,
    command: ["sh", LAYOUT.startRedisScript],
    args,
    env: [
      ...POD_ENV,
      { name: "CONF_DIR", value: LAYOUT.confDir },
      { name: "DATA_DIR", value: LAYOUT.dataDir },
      ...groupEnv,
    ],
    ports: [{ name: "redis", containerPort: cfg.port, protocol: "TCP" }],
    // Ready: PONG, and a replica linked to its master with no full sync running.
    readinessProbe: { ...execProbe(LAYOUT.probeScript), periodSeconds: 5, failureThreshold: 3 },
    // Alive: answering, LOADING, MASTERDOWN and a full client table included. The start may take long: a restarting
    // old master waits for the failover before it listens, then loads its data.
    startupProbe: {
      ...execProbe(LAYOUT.probeScript, "live"),
      periodSeconds: 5,
      // The start may choose with the other nodes, wait for a failover, then load the data.
      failureThreshold: Math.ceil(
        (PEER_WAIT_SECONDS +
          masterWaitSeconds(cfg) +
          startupLoadSeconds(cfg.redis.maxmemoryBytes)) /
          5,
      ),
    },
    livenessProbe: {
      ...execProbe(LAYOUT.probeScript, "live"),
      periodSeconds: 10,
      failureThreshold: 3,
    },
    ...(grouped
      ? { lifecycle: { preStop: { exec: { command: ["sh", LAYOUT.preStopScript] } } } }
      : {}),
    resources: {
      // Memory request = limit: Redis is never the first pod evicted under node pressure.
      requests: { cpu: cfg.resources.cpuRequest, memory: cfg.resources.memoryLimit },
      limits: { memory: cfg.resources.memoryLimit },
    },
    volumeMounts: [
      { name: "data", mountPath: LAYOUT.dataDir },
      { name: "conf", mountPath: LAYOUT.confDir },
    ],
  };
}

function sentinelContainer(cfg: ResolvedConfig, name: string): Record<string, unknown> {
  const n = objectNames(name);
  return {
    name: "sentinel",
    image: cfg.image,
    command: ["sh", LAYOUT.startSentinelScript],
    args: nodeBindArgs(cfg, "$(POD_IP)"),
    env: [
      ...POD_ENV,
      { name: "CONF_DIR", value: LAYOUT.confDir },
      { name: "STATE_DIR", value: LAYOUT.sentinelStateDir },
      {
        name: "NODE_HOST",
        value: `$(POD_NAME).${serviceHost(cfg, n.sentinelHeadlessService)}`,
      },
      {
        name: "DEFAULT_MASTER",
        value: `${podHost(cfg, n.statefulSet, n.headlessService, 0)} ${cfg.port}`,
      },
      { name: "SENTINELS", value: sentinelAddresses(cfg, name) },
      { name: "NODES", value: nodeAddresses(cfg, name) },
    ],
    ports: [{ name: "sentinel", containerPort: SENTINEL_PORT, protocol: "TCP" }],
    // A sentinel without state waits for the nodes to choose a master before it listens.
    // Alive also when every client slot is taken (a connection flood needs no password).
    startupProbe: {
      ...execProbe(LAYOUT.sentinelProbeScript, "live"),
      periodSeconds: 5,
      failureThreshold: Math.ceil((SENTINEL_START_WAIT_SECONDS + 30) / 5),
    },
    readinessProbe: {
      ...execProbe(LAYOUT.sentinelProbeScript),
      periodSeconds: 5,
      failureThreshold: 3,
    },
    livenessProbe: {
      ...execProbe(LAYOUT.sentinelProbeScript, "live"),
      initialDelaySeconds: 10,
      periodSeconds: 10,
      failureThreshold: 6,
    },
    resources: {
      requests: { cpu: "50m", memory: `${SENTINEL_MEMORY_MI.request}Mi` },
      limits: { memory: `${SENTINEL_MEMORY_MI.limit}Mi` },
    },
    volumeMounts: [
      { name: "conf", mountPath: LAYOUT.confDir },
      { name: "state", mountPath: LAYOUT.sentinelStateDir },
    ],
  };
}

/** ConfigMap data of the Redis nodes: nothing secret. */
export function nodeConfigData(cfg: ResolvedConfig): Files {
  return withPrepare(cfg, nodePlainFiles(cfg));
}

/** The Redis nodes' objects, in apply order: Secret (without data), ConfigMap, Services, StatefulSet. */
export function nodeObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  const n = objectNames(name);
  const grouped = cfg.topology === "sentinel";
  const redisPort = { name: "redis", port: cfg.port };
  return [
    secret(cfg, n.secret, name, "redis"),
    configMap(cfg, n.configMap, name, "redis", nodeConfigData(cfg)),
    service(cfg, n.headlessService, name, "redis", redisPort, true),
    // A group has no plain client Service: it would spread writes over replicas. Clients ask the sentinels.
    ...(grouped ? [] : [service(cfg, n.clientService, name, "redis", redisPort, false)]),
    statefulSet(cfg, name, {
      objectName: n.statefulSet,
      component: "redis",
      headless: n.headlessService,
      replicas: cfg.sentinel.nodes,
      configMap: n.configMap,
      secret: n.secret,
      configData: nodeConfigData(cfg),
      container: redisContainer(cfg, name),
      storage: "data-claim",
      // A group's master hands over in its pre-stop hook before SIGTERM.
      terminationGraceSeconds: grouped ? terminationGraceSeconds() : 30,
      serverPort: cfg.port,
    }),
    ...(grouped ? [disruptionBudget(cfg, n.disruptionBudget, name, "redis")] : []),
  ];
}

/** A sentinel group's sentinels, in apply order; none for a standalone instance. */
export function sentinelObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  if (cfg.topology !== "sentinel") return [];
  const n = objectNames(name);
  const sentinelPort = { name: "sentinel", port: SENTINEL_PORT };
  const sentinelData = withPrepare(cfg, sentinelPlainFiles(cfg));
  return [
    secret(cfg, n.sentinelSecret, name, "sentinel"),
    configMap(cfg, n.sentinelConfigMap, name, "sentinel", sentinelData),
    service(cfg, n.sentinelHeadlessService, name, "sentinel", sentinelPort, true),
    service(cfg, n.sentinelService, name, "sentinel", sentinelPort, false),
    statefulSet(cfg, name, {
      objectName: n.sentinelStatefulSet,
      component: "sentinel",
      headless: n.sentinelHeadlessService,
      replicas: cfg.sentinel.sentinels,
      configMap: n.sentinelConfigMap,
      secret: n.sentinelSecret,
      configData: sentinelData,
      container: sentinelContainer(cfg, name),
      storage: "state",
      terminationGraceSeconds: 30,
      serverPort: SENTINEL_PORT,
    }),
    disruptionBudget(cfg, n.sentinelDisruptionBudget, name, "sentinel"),
  ];
}

/**
 * Every object of a standalone instance or a sentinel group, in apply order; Secrets without data.
 * Around the pods, and for the applications and Prometheus: policies first, so that no pod runs a
 * moment without them.
 */
export function redisObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  return [
    ...redisNetworkPolicies(cfg, name),
    ...nodeObjects(cfg, name),
    ...sentinelObjects(cfg, name),
    ...metricsObjects(cfg, name),
    ...appSecretObjects(cfg, name),
  ];
}

/** Where applications in the cluster reach Redis: the client Service, or every sentinel pod. */
export function appEndpoints(cfg: ResolvedConfig, name: string): AppEndpoints {
  return {
    redis: { host: serviceHost(cfg, objectNames(name).clientService), port: cfg.port },
    sentinels: cfg.topology === "sentinel" ? sentinelEndpoints(cfg, name) : [],
  };
}
