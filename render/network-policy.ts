import { ResolvedConfig } from "../config/resolve";
import { COMMANDER_CONTAINER_PORT } from "./commander";
import { K8sObject, labels, selector } from "./kubernetes";
import { EXPORTER_PORT } from "./metrics";
import { SENTINEL_PORT } from "./sentinel";

/**
 * NetworkPolicies of the pods of this program. One policy denies every pod of the deployment all
 * traffic; each other policy opens, for one component, what it needs and nothing more:
 *
 * | pods | may be reached by | may reach |
 * |---|---|---|
 * | redis | clients, the nodes, sentinels, Commander, RedisInsight, the backup (Redis port); Prometheus (metrics) | DNS; the nodes (replication); the sentinels (the start and pre-stop scripts) |
 * | sentinel | clients, the nodes, sentinels, Commander, RedisInsight, the backup (26379); Prometheus (metrics) | DNS; the nodes; the sentinels |
 * | commander | the Ingress controller's namespace (its port) | DNS; the nodes; the sentinels |
 * | insight | nobody (kubectl port-forward is not network traffic) | DNS; the nodes; the sentinels |
 * | backup (CronJob, restore Job) | nobody | DNS; the nodes; the sentinels; the off-site endpoint |
 *
 * Clients are the pods with `networkPolicyClientLabels` in `networkPolicyClientNamespaces`.
 */

type Peer = Record<string, unknown>;
type Rule = { from?: Peer[]; to?: Peer[]; ports: { protocol: string; port: number }[] };

const tcp = (port: number) => ({ protocol: "TCP", port });

/** The address of NodeLocal DNSCache, where a cluster runs it (a host-network pod). */
export const NODE_LOCAL_DNS = "169.254.20.10/32";

/** Name resolution: the cluster's DNS pods, or a node-local cache; no other server. */
function dns(cfg: ResolvedConfig): Rule {
  return {
    to: [namespaceNamed(cfg.networkPolicy.dnsNamespace), { ipBlock: { cidr: NODE_LOCAL_DNS } }],
    ports: [{ protocol: "UDP", port: 53 }, tcp(53)],
  };
}

export function networkPolicyNames(name: string) {
  return {
    defaultDeny: `${name}-default-deny`,
    redis: `${name}-redis`,
    sentinel: `${name}-sentinel`,
    commander: `${name}-commander`,
    insight: `${name}-insight`,
    backup: `${name}-backup`,
  };
}

/** Pods of one component of this deployment, in its namespace. */
const podsOf = (name: string, component: string): Peer => ({
  podSelector: { matchLabels: selector(name, component) },
});

/** Every pod of a namespace, by the name label Kubernetes sets on each namespace. */
const namespaceNamed = (...names: string[]): Peer => ({
  namespaceSelector: {
    matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: names }],
  },
});

function policy(
  cfg: ResolvedConfig,
  name: string,
  objectName: string,
  component: string,
  rules: { ingress: Rule[]; egress: Rule[] },
): K8sObject {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: objectName,
      namespace: cfg.kubernetes.namespace,
      labels: labels(name, component),
    },
    spec: {
      podSelector: { matchLabels: selector(name, component) },
      policyTypes: ["Ingress", "Egress"],
      ingress: rules.ingress,
      egress: rules.egress,
    },
  };
}

/** What the pods of a component may reach inside the deployment: the nodes, and the sentinels. */
function egressToRedis(cfg: ResolvedConfig, name: string): Rule[] {
  return [
    { to: [podsOf(name, "redis")], ports: [tcp(cfg.port)] },
    ...(cfg.topology === "sentinel"
      ? [{ to: [podsOf(name, "sentinel")], ports: [tcp(SENTINEL_PORT)] }]
      : []),
  ];
}

/** The pods that may connect to the nodes and the sentinels. */
function redisPeers(cfg: ResolvedConfig, name: string): Peer[] {
  const { clientLabels, clientNamespaces } = cfg.networkPolicy;
  return [
    { ...namespaceNamed(...clientNamespaces), podSelector: { matchLabels: { ...clientLabels } } },
    podsOf(name, "redis"),
    ...(cfg.topology === "sentinel" ? [podsOf(name, "sentinel")] : []),
    ...(cfg.commander.enabled ? [podsOf(name, "commander")] : []),
    ...(cfg.commander.insight.enabled ? [podsOf(name, "insight")] : []),
    ...(cfg.backup.enabled || cfg.backup.restore ? [podsOf(name, "backup")] : []),
  ];
}

/** Prometheus's namespace may scrape the exporters. */
function metricsIngress(cfg: ResolvedConfig): Rule[] {
  if (!cfg.metrics.enabled) return [];
  return [
    { from: [namespaceNamed(cfg.networkPolicy.monitoringNamespace)], ports: [tcp(EXPORTER_PORT)] },
  ];
}

/** The policies of the Redis component: deny-all for the deployment, the nodes, the sentinels. */
export function redisNetworkPolicies(cfg: ResolvedConfig, name: string): K8sObject[] {
  if (!cfg.networkPolicy.enabled) return [];
  const n = networkPolicyNames(name);
  const defaultDeny: K8sObject = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: n.defaultDeny,
      namespace: cfg.kubernetes.namespace,
      labels: labels(name, "redis"),
    },
    spec: {
      // Every pod of this deployment: Redis, sentinels, Commander, RedisInsight, the backups.
      podSelector: {
        matchLabels: {
          "app.kubernetes.io/name": "redis",
          "app.kubernetes.io/instance": name,
        },
      },
      policyTypes: ["Ingress", "Egress"],
    },
  };
  const peers = redisPeers(cfg, name);
  const objects = [
    defaultDeny,
    policy(cfg, name, n.redis, "redis", {
      ingress: [{ from: peers, ports: [tcp(cfg.port)] }, ...metricsIngress(cfg)],
      egress: [dns(cfg), ...egressToRedis(cfg, name)],
    }),
  ];
  if (cfg.topology === "sentinel")
    objects.push(
      policy(cfg, name, n.sentinel, "sentinel", {
        ingress: [{ from: peers, ports: [tcp(SENTINEL_PORT)] }, ...metricsIngress(cfg)],
        egress: [dns(cfg), ...egressToRedis(cfg, name)],
      }),
    );
  return objects;
}

/** Commander's policy: the Ingress controller in; the nodes and sentinels out. */
export function commanderNetworkPolicy(cfg: ResolvedConfig, name: string): K8sObject[] {
  if (!cfg.networkPolicy.enabled) return [];
  return [
    policy(cfg, name, networkPolicyNames(name).commander, "commander", {
      ingress: [
        {
          from: [namespaceNamed(cfg.networkPolicy.ingressNamespace)],
          ports: [tcp(COMMANDER_CONTAINER_PORT)],
        },
      ],
      egress: [dns(cfg), ...egressToRedis(cfg, name)],
    }),
  ];
}

/** RedisInsight's policy: nothing in (port-forward only); the nodes and sentinels out. */
export function insightNetworkPolicy(cfg: ResolvedConfig, name: string): K8sObject[] {
  if (!cfg.networkPolicy.enabled) return [];
  return [
    policy(cfg, name, networkPolicyNames(name).insight, "insight", {
      ingress: [],
      egress: [dns(cfg), ...egressToRedis(cfg, name)],
    }),
  ];
}

/** The backup's policy (CronJob and restore Job): nothing in; the group and the off-site endpoint out. */
export function backupNetworkPolicy(cfg: ResolvedConfig, name: string): K8sObject[] {
  if (!cfg.networkPolicy.enabled) return [];
  const offsite = cfg.networkPolicy.offsite;
  return [
    policy(cfg, name, networkPolicyNames(name).backup, "backup", {
      ingress: [],
      egress: [
        dns(cfg),
        ...egressToRedis(cfg, name),
        ...(offsite
          ? [
              {
                to: offsite.namespace
                  ? [namespaceNamed(offsite.namespace)]
                  : offsite.cidrs.map(({ cidr, except }) => ({
                      ipBlock: { cidr, ...(except ? { except: [...except] } : {}) },
                    })),
                ports: [tcp(offsite.port)],
              },
            ]
          : []),
      ],
    }),
  ];
}
