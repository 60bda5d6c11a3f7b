import { ResolvedConfig } from "../config/resolve";
import { EXPORTER_USER } from "./acl";
import { alertRuleGroups } from "./alerts";
import { K8sObject, CONTAINER_SECURITY_CONTEXT, labels, selector } from "./kubernetes";

/**
 * redis_exporter beside every Redis node and sentinel (Kubernetes), as the `exporter` user, and
 * what Prometheus needs to find it. The image is `exporterImage` (config/images.ts); the tests run
 * Debian's prometheus-redis-exporter 1.45 with the same flags, and the metrics the alerts read are
 * in both (docs/metrics.md#exporter-versions).
 */
export const EXPORTER_PORT = 9121;
/** Where the exporter container finds its password file (one item of the pod's Secret). */
export const EXPORTER_SECRET_DIR = "/etc/redis-exporter";
/** The password file's name in the Secret and in the exporter's directory. */
export const EXPORTER_PASSWORD_FILE = "exporter.json";

/** The address the exporter scrapes: the server in the same pod, on loopback (every bind has it). */
export function exporterTarget(port: number): string {
  return `redis://127.0.0.1:${port}`;
}

/**
 * redis_exporter's password file: a JSON map from the address to its password. A file, so the
 * password is in no argument and no environment variable of the container.
 */
export function renderExporterPasswordFile(port: number, password: string): string {
  return JSON.stringify({ [exporterTarget(port)]: password }) + "\n";
}

/**
 * The exporter's flags, the same in a pod and in the tests. CONFIG GET is not granted (it returns
 * masterauth and requirepass), so the config metrics are absent; maxmemory comes from INFO.
 */
export function exporterArgs(port: number, passwordFile: string, listen: string): string[] {
  return [
    `--redis.addr=${exporterTarget(port)}`,
    `--redis.user=${EXPORTER_USER}`,
    `--redis.password-file=${passwordFile}`,
    `--web.listen-address=${listen}`,
    // Redis's metrics only, not the exporter's own Go runtime.
    "--redis-only-metrics",
  ];
}

/** The sidecar of a Redis or sentinel pod, of `image`; it reads the password file of the pod's Secret. */
export function exporterContainer(image: string, port: number): Record<string, unknown> {
  return {
    name: "metrics",
    image,
    args: exporterArgs(
      port,
      `${EXPORTER_SECRET_DIR}/${EXPORTER_PASSWORD_FILE}`,
      `:${EXPORTER_PORT}`,
    ),
    ports: [{ name: "metrics", containerPort: EXPORTER_PORT, protocol: "TCP" }],
    // No readiness probe: a pod is Ready when all its containers are, and a missing exporter must
    // not take a Redis node out of its Services.
    livenessProbe: {
      httpGet: { path: "/health", port: "metrics" },
      initialDelaySeconds: 10,
      periodSeconds: 20,
      timeoutSeconds: 5,
    },
    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "64Mi" } },
    securityContext: CONTAINER_SECURITY_CONTEXT,
    volumeMounts: [{ name: "exporter-secret", mountPath: EXPORTER_SECRET_DIR, readOnly: true }],
  };
}

/** The volume of the sidecar: only the password file of the pod's Secret, owner-read-only. */
export function exporterVolume(secretName: string): Record<string, unknown> {
  return {
    name: "exporter-secret",
    secret: {
      secretName,
      items: [{ key: EXPORTER_PASSWORD_FILE, path: EXPORTER_PASSWORD_FILE }],
      defaultMode: 0o400,
    },
  };
}

export function metricsObjectNames(name: string) {
  return {
    service: `${name}-metrics`,
    sentinelService: `${name}-sentinel-metrics`,
    serviceMonitor: name,
    prometheusRule: name,
  };
}

/** The label of the metrics Services the ServiceMonitor selects. */
export const METRICS_SERVICE_LABEL = "lowcode.ton/metrics";

/**
 * The metrics Services (one per workload, so each selects pods that have the port), and, when
 * asked, the ServiceMonitor and the PrometheusRule of the Prometheus operator.
 */
export function metricsObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  if (!cfg.metrics.enabled) return [];
  const n = metricsObjectNames(name);
  const namespace = cfg.kubernetes.namespace;
  const service = (objectName: string, component: string): K8sObject => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: objectName,
      namespace,
      labels: { ...labels(name, component), [METRICS_SERVICE_LABEL]: "true" },
    },
    spec: {
      type: "ClusterIP",
      // An unready pod (Redis down, a replica's link down) stays scraped: its series read 0
      // instead of vanishing, so the per-pod alerts fire.
      publishNotReadyAddresses: true,
      selector: selector(name, component),
      ports: [{ name: "metrics", port: EXPORTER_PORT, targetPort: "metrics", protocol: "TCP" }],
    },
  });
  const objects = [service(n.service, "redis")];
  if (cfg.topology === "sentinel") objects.push(service(n.sentinelService, "sentinel"));
  const operatorLabels = { ...labels(name, "metrics"), ...cfg.metrics.labels };
  if (cfg.metrics.serviceMonitor)
    objects.push({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name: n.serviceMonitor, namespace, labels: operatorLabels },
      spec: {
        selector: {
          matchLabels: { "app.kubernetes.io/instance": name, [METRICS_SERVICE_LABEL]: "true" },
        },
        namespaceSelector: { matchNames: [namespace] },
        endpoints: [{ port: "metrics", interval: "30s", scrapeTimeout: "10s" }],
      },
    });
  if (cfg.metrics.prometheusRule)
    objects.push({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: { name: n.prometheusRule, namespace, labels: operatorLabels },
      spec: { groups: alertRuleGroups(cfg, name) },
    });
  return objects;
}
