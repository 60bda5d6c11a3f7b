import { BlockList, isIP } from "node:net";
import { K8sObject } from "../../render/kubernetes";

/**
 * NetworkPolicy semantics (networking.k8s.io/v1), as a cluster's network plugin applies them, so
 * the tests can ask whether one pod may open a connection to another. A connection passes when
 * the source's egress allows it and the destination's ingress allows it; a side that no policy
 * selects for that direction allows everything.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A pod in the cluster, or an address outside it (no namespace: only ipBlock peers match). */
export interface Endpoint {
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ip: string;
}

function selects(selector: Json | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = ((selector.matchExpressions ?? []) as Json[]).every((e) => {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case "In":
        return has && e.values.includes(labels[e.key]);
      case "NotIn":
        return !has || !e.values.includes(labels[e.key]);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        throw new Error(`unknown operator ${e.operator}`);
    }
  });
  return byLabels && byExpressions;
}

function inBlock(ip: string, block: Json): boolean {
  const family = isIP(ip) === 6 ? "ipv6" : "ipv4";
  const cidrFamily = isIP(block.cidr.split("/")[0]) === 6 ? "ipv6" : "ipv4";
  if (family !== cidrFamily) return false;
  const within = (cidr: string) => {
    const list = new BlockList();
    const [address, prefix] = cidr.split("/");
    list.addSubnet(address, Number(prefix), family);
    return list.check(ip, family);
  };
  return within(block.cidr) && !((block.except ?? []) as string[]).some(within);
}

/** Whether `peer` of a rule in a policy of namespace `policyNamespace` names `other`. */
function peerMatches(peer: Json, policyNamespace: string, other: Endpoint): boolean {
  if (peer.ipBlock) return inBlock(other.ip, peer.ipBlock);
  if (other.namespace === undefined) return false;
  const namespaceLabels = { "kubernetes.io/metadata.name": other.namespace };
  const namespaceOk = peer.namespaceSelector
    ? selects(peer.namespaceSelector, namespaceLabels)
    : other.namespace === policyNamespace;
  return namespaceOk && selects(peer.podSelector, other.labels ?? {});
}

function portMatches(ports: Json[] | undefined, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some(
    (p) =>
      (p.protocol ?? "TCP") === protocol &&
      (p.port === undefined ||
        p.port === port ||
        (p.endPort !== undefined && port >= p.port && port <= p.endPort)),
  );
}

function sideAllows(
  policies: Json[],
  subject: Endpoint,
  other: Endpoint,
  direction: "Ingress" | "Egress",
  port: number,
  protocol: string,
): boolean {
  if (subject.namespace === undefined) return true;
  const applying = policies.filter(
    (p) =>
      p.metadata.namespace === subject.namespace &&
      selects(p.spec.podSelector, subject.labels ?? {}) &&
      (p.spec.policyTypes ?? ["Ingress"]).includes(direction),
  );
  if (applying.length === 0) return true;
  const rulesKey = direction === "Ingress" ? "ingress" : "egress";
  const peersKey = direction === "Ingress" ? "from" : "to";
  return applying.some((p) =>
    ((p.spec[rulesKey] ?? []) as Json[]).some(
      (rule) =>
        portMatches(rule.ports, port, protocol) &&
        (!rule[peersKey] ||
          rule[peersKey].length === 0 ||
          (rule[peersKey] as Json[]).some((peer) =>
            peerMatches(peer, p.metadata.namespace, other),
          )),
    ),
  );
}

/** Whether `from` may open a connection to `to` on `port`, under the NetworkPolicies in `objects`. */
export function connectionAllowed(
  objects: readonly K8sObject[],
  from: Endpoint,
  to: Endpoint,
  port: number,
  protocol = "TCP",
): boolean {
  const policies = objects.filter((o) => o.kind === "NetworkPolicy") as unknown as Json[];
  return (
    sideAllows(policies, from, to, "Egress", port, protocol) &&
    sideAllows(policies, to, from, "Ingress", port, protocol)
  );
}

/** The pod labels of every workload of `objects`, by workload name. */
export function podLabelsOf(objects: readonly K8sObject[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const o of objects as unknown as Json[]) {
    const template =
      o.kind === "CronJob"
        ? o.spec.jobTemplate.spec.template
        : ["StatefulSet", "Deployment", "Job"].includes(o.kind)
          ? o.spec.template
          : undefined;
    if (template) out[o.metadata.name] = template.metadata.labels;
  }
  return out;
}
