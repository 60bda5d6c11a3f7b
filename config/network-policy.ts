import { isIP } from "node:net";
import {
  NEVER_OFFSITE,
  PRIVATE_RANGES,
  addressBits,
  addressText,
  blockOf,
  canonicalIPv6,
  mappedIPv4,
  networkBits,
  rangeOf,
} from "./addresses";
import { z } from "zod";
import {
  Invalid,
  KeySpec,
  KeyValues,
  bool,
  keyNames,
  labelList,
  namespaceList,
  namespaceName,
  parseLabels,
} from "./schemas";

/**
 * The keys of the NetworkPolicies around the pods of this program (Kubernetes): who may reach
 * Redis, the sentinels and Commander, and where the backup may send its copies.
 */

/** The label a client pod carries to reach Redis, unless the stack names others. */
export const DEFAULT_CLIENT_LABELS = "lowcode.ton/redis-client=true";

const CIDR_ALLOWED =
  'must be a list of CIDR blocks such as "203.0.113.10/32" or "2001:db8::/48" (IPv4 prefix 0-32, IPv6 0-128)';
const cidr = z.string({ error: CIDR_ALLOWED }).superRefine((v, ctx) => {
  const problem = cidrProblem(v);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/**
 * Why an off-site CIDR block is refused, or undefined: its spelling must be the one a
 * NetworkPolicy stores (no zone id, no leading zero, no host bits, IPv6 in RFC 5952 form), and it
 * must not open the backup's way to every address, to the node or to the metadata service.
 */
export function cidrProblem(v: string): string | undefined {
  const [address, prefix, extra] = v.split("/");
  if (address.includes("%"))
    return `${CIDR_ALLOWED}; ${JSON.stringify(v)} has a zone id, which names an interface of one host`;
  const parsed = addressBits(address);
  if (extra !== undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix) || !parsed)
    return CIDR_ALLOWED;
  if (Number(prefix) > (parsed.family === 4 ? 32 : 128)) return CIDR_ALLOWED;
  if (prefix !== String(Number(prefix)))
    return `${CIDR_ALLOWED}; the prefix length of ${JSON.stringify(v)} has a leading zero: write ${JSON.stringify(`${address}/${Number(prefix)}`)}`;
  const block = { ...parsed, prefix: Number(prefix) };
  const network = networkBits(block.family, block.bits, block.prefix);
  // Host bits set (10.1.2.3/8): a typo for a /32, or a network the writer did not mean.
  if (network !== block.bits)
    return `${CIDR_ALLOWED}; ${JSON.stringify(v)} has host bits set: the block is ${addressText(block.family, network)}/${prefix}`;
  const mapped = mappedIPv4(block);
  if (mapped)
    return `${CIDR_ALLOWED}; ${JSON.stringify(v)} is an IPv4-mapped IPv6 block: write the IPv4 block ${addressText(4, mapped.bits)}/${mapped.prefix}`;
  if (block.family === 6 && canonicalIPv6(address) !== address)
    return `${CIDR_ALLOWED}; write ${JSON.stringify(v)} as ${JSON.stringify(`${canonicalIPv6(address)}/${prefix}`)}`;
  if (block.prefix === 0)
    return `must not hold every address: ${JSON.stringify(v)} would let the backup reach anything, the cloud metadata service and the cluster's own pods included; list the S3 server's addresses`;
  const never = rangeOf(block, NEVER_OFFSITE);
  if (never)
    return `must not hold ${never.cidr}, ${never.what}: ${JSON.stringify(v)} would let the backup reach it; list the S3 server's addresses`;
  return undefined;
}

export const NETWORK_POLICY_KEYS = {
  networkPolicy: {
    type: "boolean",
    description:
      "Kubernetes: NetworkPolicies that deny all traffic of this program's pods but what they need; unset = profile default (production true, dev false).",
    default: undefined,
    schema: bool,
  },
  networkPolicyClientLabels: {
    type: "string",
    description:
      "Kubernetes: the labels (k=v,…) of the application pods allowed to reach Redis and the sentinels.",
    default: DEFAULT_CLIENT_LABELS,
    schema: labelList.refine((v) => v !== "", {
      error:
        'must name at least one label "key=value": with none, every pod of the client namespaces would reach Redis',
    }),
  },
  networkPolicyClientNamespaces: {
    type: "array",
    description:
      "Kubernetes: the namespaces of those application pods; [] = the appSecretNamespaces (by default the stack's namespace).",
    default: [],
    schema: namespaceList,
  },
  networkPolicyIngressNamespace: {
    type: "string",
    description:
      "Kubernetes: the namespace of the Ingress controller, the only one that may reach Redis Commander.",
    default: "ingress-nginx",
    schema: namespaceName,
  },
  networkPolicyMonitoringNamespace: {
    type: "string",
    description:
      "Kubernetes: the namespace of Prometheus, the only one that may scrape the metrics port.",
    default: "monitoring",
    schema: namespaceName,
  },
  networkPolicyDnsNamespace: {
    type: "string",
    description:
      "Kubernetes: the namespace of the cluster's DNS (CoreDNS, kube-dns), the only DNS the pods may ask besides a node-local cache at 169.254.20.10.",
    default: "kube-system",
    schema: namespaceName,
  },
  networkPolicyOffsiteNamespace: {
    type: "string",
    description:
      'Kubernetes: the namespace of an in-cluster backupS3Endpoint (MinIO at minio.<namespace>.svc): the backup may reach its pods on the endpoint\'s port; "" = the endpoint is outside the cluster.',
    default: "",
    schema: z.union([z.literal(""), namespaceName], {
      error: 'must be "" or a Kubernetes namespace name (DNS-1123 label)',
    }),
  },
  networkPolicyOffsiteCidrs: {
    type: "array",
    description:
      "Kubernetes: the addresses (CIDR) of backupS3Endpoint the backup may send to; [] = the endpoint's address when it is an IP, else any public address on its port.",
    default: [],
    schema: z
      .array(cidr, { error: CIDR_ALLOWED })
      .max(32, { error: "must list at most 32 blocks" }),
  },
} as const satisfies Record<string, KeySpec>;

/**
 * Where the backup's off-site copies go, on one port: address blocks (with the ranges cut out of
 * them), or the pods of a namespace (an in-cluster endpoint: a policy sees pod addresses, not the
 * Service's).
 */
export interface OffsitePeer {
  readonly cidrs: readonly { readonly cidr: string; readonly except?: readonly string[] }[];
  readonly namespace?: string;
  readonly port: number;
}

export interface NetworkPolicyConfig {
  readonly enabled: boolean;
  readonly clientLabels: Readonly<Record<string, string>>;
  readonly clientNamespaces: readonly string[];
  readonly ingressNamespace: string;
  readonly monitoringNamespace: string;
  readonly dnsNamespace: string;
  /** Set when backups go off-site. */
  readonly offsite?: OffsitePeer;
}

/**
 * Every IPv4 range that is not the public internet: "this network", private, shared, loopback,
 * link-local (the cloud metadata service at 169.254.169.254), protocol assignments, benchmarking,
 * reserved. An endpoint known only by name may be anywhere public, never inside the cluster's
 * networks. IPv6 endpoints are named with networkPolicyOffsiteCidrs.
 */
export const NON_PUBLIC_IPV4 = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "240.0.0.0/4",
];

/** The URL of an endpoint ("" = Amazon S3 over HTTPS) and its port. */
function endpointUrl(endpoint: string): { url: URL; port: number } {
  const url = endpoint === "" ? new URL("https://s3.amazonaws.com") : new URL(endpoint);
  return { url, port: url.port !== "" ? Number(url.port) : url.protocol === "http:" ? 80 : 443 };
}

/** Whether a host name names a Service of the cluster (`minio`, `minio.storage.svc…`). */
export function inClusterHost(host: string, clusterDomain: string): boolean {
  if (isIP(host) !== 0) return false;
  return !host.includes(".") || /\.svc$/.test(host) || host.endsWith(`.svc.${clusterDomain}`);
}

/** The off-site peer of an endpoint URL ("" = Amazon S3 over HTTPS). */
export function offsitePeer(
  endpoint: string,
  cidrs: readonly string[],
  namespace = "",
): OffsitePeer {
  const { url, port } = endpointUrl(endpoint);
  if (namespace !== "") return { cidrs: [], namespace, port };
  if (cidrs.length > 0) return { cidrs: cidrs.map((cidr) => ({ cidr })), port };
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const family = isIP(host);
  if (family !== 0) return { cidrs: [{ cidr: `${host}/${family === 4 ? 32 : 128}` }], port };
  return { cidrs: [{ cidr: "0.0.0.0/0", except: NON_PUBLIC_IPV4 }], port };
}

const NAMESPACE_PREFIX = "lowcode-redis:";
const PRIVATE_NOTE =
  "it may be a pod, Service or node of this cluster (kubeadm gives Services 10.96.0.0/12) rather than an S3 server outside it: make sure it is the off-site server (an endpoint inside the cluster takes networkPolicyOffsiteNamespace)";

/**
 * Off-site addresses in private or shared ranges: a company's own S3 server may be there, and so
 * may the cluster's pods and Services, which the program cannot tell apart without the cluster's
 * ranges. Warned, not refused.
 */
function privateOffsiteWarnings(
  endpoint: string | undefined,
  offsiteNamespace: string,
  cidrs: readonly string[],
): string[] {
  if (endpoint === undefined || offsiteNamespace !== "") return [];
  const warnings: string[] = [];
  const { url, port } = endpointUrl(endpoint);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const address = addressBits(host);
  const hostRange =
    address && rangeOf({ ...address, prefix: address.family === 4 ? 32 : 128 }, PRIVATE_RANGES);
  if (hostRange)
    warnings.push(
      `${NAMESPACE_PREFIX}backupS3Endpoint ${JSON.stringify(endpoint)} is ${host}, a ${hostRange.what} address: the backup may send to it on port ${port}; ${PRIVATE_NOTE}.`,
    );
  for (const cidr of cidrs) {
    const range = rangeOf(blockOf(cidr), PRIVATE_RANGES);
    if (range)
      warnings.push(
        `${NAMESPACE_PREFIX}networkPolicyOffsiteCidrs ${JSON.stringify(cidr)} reaches ${range.what} addresses (${range.cidr}): the backup may send to them on port ${port}; ${PRIVATE_NOTE}.`,
      );
  }
  return warnings;
}

export function resolveNetworkPolicy(
  values: KeyValues<typeof NETWORK_POLICY_KEYS>,
  context: {
    readonly target: "docker" | "kubernetes";
    readonly profile: string;
    readonly profileDefault: boolean;
    readonly appSecretNamespaces: readonly string[];
    readonly namespace: string;
    readonly clusterDomain: string;
    /** The backup's off-site endpoint, when backups go off-site. */
    readonly offsiteEndpoint?: string;
  },
  invalid: Invalid,
): { networkPolicy: NetworkPolicyConfig; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const v = values;
  const kubernetes = context.target === "kubernetes";
  const asked = v.networkPolicy;
  const enabled = kubernetes && (asked ?? context.profileDefault);
  const cidrs = v.networkPolicyOffsiteCidrs;
  const offsiteNamespace = v.networkPolicyOffsiteNamespace;
  if (!kubernetes) {
    // On Docker none of these keys does anything: a value given is a mistake to point out.
    for (const key of keyNames(NETWORK_POLICY_KEYS)) {
      const given: unknown = v[key];
      const fallback: unknown = NETWORK_POLICY_KEYS[key].default;
      if (given === undefined || JSON.stringify(given) === JSON.stringify(fallback)) continue;
      if (key === "networkPolicy" && given === false) continue;
      problems.push(
        invalid(
          key,
          given,
          `is for the Kubernetes target only; this stack's target is ${context.target} (the Docker stack publishes ports on 127.0.0.1 only)`,
        ),
      );
    }
  }
  const endpoint = context.offsiteEndpoint;
  for (const [key, given] of [
    ["networkPolicyOffsiteCidrs", cidrs.length > 0 ? cidrs : undefined],
    ["networkPolicyOffsiteNamespace", offsiteNamespace !== "" ? offsiteNamespace : undefined],
  ] as const)
    if (kubernetes && given !== undefined && endpoint === undefined)
      problems.push(
        invalid(
          key,
          given,
          "needs off-site backups (lowcode-redis:backupS3Bucket): there is no endpoint to reach",
        ),
      );
  if (cidrs.length > 0 && offsiteNamespace !== "")
    problems.push(
      invalid(
        "networkPolicyOffsiteCidrs",
        cidrs,
        "names addresses outside the cluster; lowcode-redis:networkPolicyOffsiteNamespace names the endpoint's pods in it: set one or the other",
      ),
    );
  if (enabled && endpoint !== undefined && offsiteNamespace === "") {
    const host = endpoint === "" ? "" : new URL(endpoint).hostname;
    if (host !== "" && inClusterHost(host, context.clusterDomain))
      problems.push(
        invalid(
          "backupS3Endpoint",
          endpoint,
          `names a Service of the cluster, which the backup's NetworkPolicy reaches only by its pods: set lowcode-redis:networkPolicyOffsiteNamespace to the endpoint's namespace`,
        ),
      );
  }
  if (kubernetes && asked === false && context.profileDefault)
    warnings.push(
      `${NAMESPACE_PREFIX}networkPolicy is false on the ${context.profile} profile: every pod of the cluster can reach Redis, the sentinels and Commander, and the backup any address; only the passwords stand in the way.`,
    );
  if (kubernetes) warnings.push(...privateOffsiteWarnings(endpoint, offsiteNamespace, cidrs));
  const offsite =
    enabled && endpoint !== undefined ? offsitePeer(endpoint, cidrs, offsiteNamespace) : undefined;
  if (offsite && offsite.cidrs[0]?.except)
    warnings.push(
      `The backup may reach any public IPv4 address on port ${offsite.port} (private, loopback, link-local and reserved ranges excluded): a NetworkPolicy cannot name ${endpoint || "Amazon S3"} by host name. Set lowcode-redis:networkPolicyOffsiteCidrs to its addresses to narrow it.`,
    );
  const clientNamespaces = v.networkPolicyClientNamespaces;
  return {
    networkPolicy: {
      enabled,
      clientLabels: parseLabels(v.networkPolicyClientLabels),
      clientNamespaces:
        clientNamespaces.length > 0
          ? clientNamespaces
          : context.appSecretNamespaces.length > 0
            ? context.appSecretNamespaces
            : [context.namespace],
      ingressNamespace: v.networkPolicyIngressNamespace,
      monitoringNamespace: v.networkPolicyMonitoringNamespace,
      dnsNamespace: v.networkPolicyDnsNamespace,
      offsite,
    },
    problems,
    warnings,
  };
}
