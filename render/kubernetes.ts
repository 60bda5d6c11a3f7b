import { ResolvedConfig } from "../config/resolve";
import { LAYOUT, plainFiles, redisServerArgs, sha256Hex } from "./redis-conf";

/**
 * Kubernetes object specs of a Redis node set, as plain objects. The component turns them into
 * resources and adds the Secret's data as a secret Output; `npm run render` writes them as YAML;
 * the tests validate them against the Kubernetes schemas.
 */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;

/** Mount points of the read-only sources the init container copies into the writable /conf. */
export const MOUNTS = { config: "/etc/redis-config", secret: "/etc/redis-secret" } as const;

export interface RedisObjectNames {
  readonly statefulSet: string;
  readonly headlessService: string;
  readonly clientService: string;
  readonly configMap: string;
  readonly secret: string;
}

/** Object names derived from the component name, so two instances never collide. */
export function redisObjectNames(name: string): RedisObjectNames {
  return {
    statefulSet: name,
    headlessService: `${name}-headless`,
    clientService: name,
    configMap: `${name}-config`,
    secret: `${name}-auth`,
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
  const all = labels(name, component);
  return {
    "app.kubernetes.io/name": all["app.kubernetes.io/name"],
    "app.kubernetes.io/instance": all["app.kubernetes.io/instance"],
    "app.kubernetes.io/component": all["app.kubernetes.io/component"],
  };
}

/** Copies the read-only ConfigMap and Secret into the writable in-memory /conf, owner-only. */
export function renderPrepareScript(cfg: ResolvedConfig): string {
  return [
    "#!/bin/sh",
    `# prepare.sh of lowcode-redis, stack ${cfg.stack}: Redis (and Sentinel) rewrite their config files,`,
    "# so they run from a writable copy. The secret files never leave the in-memory volume.",
    "set -eu",
    `cp ${MOUNTS.config}/redis.conf ${MOUNTS.config}/probe.sh ${LAYOUT.confDir}/`,
    `for f in ${MOUNTS.secret}/*; do cp "$f" ${LAYOUT.confDir}/; done`,
    `chmod 0600 ${LAYOUT.confDir}/*`,
    "",
  ].join("\n");
}

/** Files of the ConfigMap: nothing secret. */
export function configMapData(cfg: ResolvedConfig): Record<string, string> {
  return { ...plainFiles(cfg), "prepare.sh": renderPrepareScript(cfg) };
}

export const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: 999,
  runAsGroup: 999,
  fsGroup: 999,
  seccompProfile: { type: "RuntimeDefault" },
};

export const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
};

export function namespaceSpec(cfg: ResolvedConfig): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: cfg.kubernetes.namespace,
      labels: { "app.kubernetes.io/part-of": "lowcode-platform" },
    },
  };
}

export function configMapSpec(cfg: ResolvedConfig, name: string): K8sObject {
  const names = redisObjectNames(name);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: names.configMap,
      namespace: cfg.kubernetes.namespace,
      labels: labels(name, "redis"),
    },
    data: configMapData(cfg),
  };
}

/** The Secret without its data: the component adds `stringData` as a secret Output. */
export function secretSpec(cfg: ResolvedConfig, name: string): K8sObject {
  const names = redisObjectNames(name);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: names.secret,
      namespace: cfg.kubernetes.namespace,
      labels: labels(name, "redis"),
    },
    type: "Opaque",
  };
}

export function servicesSpec(cfg: ResolvedConfig, name: string): K8sObject[] {
  const names = redisObjectNames(name);
  const port = { name: "redis", port: cfg.port, targetPort: "redis", protocol: "TCP" };
  return [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: names.headlessService,
        namespace: cfg.kubernetes.namespace,
        labels: labels(name, "redis"),
      },
      // Stable per-pod DNS names; published before readiness so replicas and sentinels can find peers.
      spec: {
        clusterIP: "None",
        publishNotReadyAddresses: true,
        selector: selector(name, "redis"),
        ports: [port],
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: names.clientService,
        namespace: cfg.kubernetes.namespace,
        labels: labels(name, "redis"),
      },
      spec: { type: "ClusterIP", selector: selector(name, "redis"), ports: [port] },
    },
  ];
}

function affinity(
  cfg: ResolvedConfig,
  name: string,
  component: string,
): Record<string, unknown> | undefined {
  const term = {
    labelSelector: { matchLabels: selector(name, component) },
    topologyKey: "kubernetes.io/hostname",
  };
  switch (cfg.kubernetes.antiAffinity) {
    case "none":
      return undefined;
    case "hard":
      return { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } };
    case "soft":
      return {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }],
        },
      };
  }
}

export interface RedisStatefulSetOptions {
  /** Pods of the set: 1 for standalone, one per node for a sentinel group. */
  readonly replicas: number;
  /** Overrides the container command (the sentinel group starts Redis through a role script). */
  readonly command?: string[];
  readonly args?: string[];
}

export function redisStatefulSetSpec(
  cfg: ResolvedConfig,
  name: string,
  options: RedisStatefulSetOptions = { replicas: 1 },
): K8sObject {
  const names = redisObjectNames(name);
  const probe = { exec: { command: ["sh", LAYOUT.probeScript] }, timeoutSeconds: 3 };
  const volumeClaim: Record<string, unknown> = {
    metadata: { name: "data", labels: selector(name, "redis") },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: cfg.kubernetes.storageSize } },
      ...(cfg.kubernetes.storageClass ? { storageClassName: cfg.kubernetes.storageClass } : {}),
    },
  };
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name: names.statefulSet,
      namespace: cfg.kubernetes.namespace,
      labels: labels(name, "redis"),
    },
    spec: {
      serviceName: names.headlessService,
      replicas: options.replicas,
      podManagementPolicy: "OrderedReady",
      selector: { matchLabels: selector(name, "redis") },
      template: {
        // A changed redis.conf rolls the pods.
        metadata: {
          labels: labels(name, "redis"),
          annotations: {
            "lowcode.ton/config-sha256": sha256Hex(JSON.stringify(configMapData(cfg))),
          },
        },
        spec: {
          securityContext: POD_SECURITY_CONTEXT,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 30,
          ...(affinity(cfg, name, "redis") ? { affinity: affinity(cfg, name, "redis") } : {}),
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
            {
              name: "redis",
              image: cfg.image,
              command: options.command ?? ["redis-server"],
              // Kubernetes expands $(POD_IP) from the env below.
              args: options.args ?? redisServerArgs(cfg, LAYOUT, "$(POD_IP)"),
              env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
              ports: [{ name: "redis", containerPort: cfg.port, protocol: "TCP" }],
              readinessProbe: { ...probe, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: {
                ...probe,
                initialDelaySeconds: 15,
                periodSeconds: 10,
                failureThreshold: 6,
              },
              resources: {
                // Memory request = limit: Redis is never the first pod evicted under node pressure.
                requests: { cpu: cfg.resources.cpuRequest, memory: cfg.resources.memoryLimit },
                limits: { memory: cfg.resources.memoryLimit },
              },
              securityContext: CONTAINER_SECURITY_CONTEXT,
              volumeMounts: [
                { name: "data", mountPath: LAYOUT.dataDir },
                { name: "conf", mountPath: LAYOUT.confDir },
              ],
            },
          ],
          volumes: [
            { name: "config", configMap: { name: names.configMap, defaultMode: 0o440 } },
            { name: "secret", secret: { secretName: names.secret, defaultMode: 0o440 } },
            // In memory: the copied secrets never reach a node's disk.
            { name: "conf", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
          ],
        },
      },
      volumeClaimTemplates: [volumeClaim],
    },
  };
}

/** Every object of a standalone Redis instance, in apply order (Secret data added by the component). */
export function standaloneObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  return [
    secretSpec(cfg, name),
    configMapSpec(cfg, name),
    ...servicesSpec(cfg, name),
    redisStatefulSetSpec(cfg, name),
  ];
}
