import { isIP } from "node:net";
import { z } from "zod";
import { KeySpec, bool, labelList, namespaceList, namespaceName, parseLabels } from "./schemas";

/**
 * The keys of the NetworkPolicies around the pods of this program (Kubernetes): who may reach
 * Redis, the sentinels and Commander, and where the backup may send its copies.
 */

/** The label a client pod carries to reach Redis, unless the stack names others. */
export const DEFAULT_CLIENT_LABELS = "lowcode.ton/redis-client=true";

const CIDR_ALLOWED =
  'must be a list of CIDR blocks such as "203.0.113.10/32" or "2001:db8::/48" (IPv4 prefix 0-32, IPv6 0-128)';
const cidr = z.string({ error: CIDR_ALLOWED }).refine(
  (v) => {
    const [address, prefix, extra] = v.split("/");
    if (extra !== undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
    const family = isIP(address);
    return family !== 0 && Number(prefix) <= (family === 4 ? 32 : 128);
  },
  { error: CIDR_ALLOWED },
);

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
    schema: labelList,
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
  networkPolicyOffsiteCidrs: {
    type: "array",
    description:
      "Kubernetes: the addresses (CIDR) of backupS3Endpoint the backup may send to; [] = the endpoint's address when it is an IP, else any public address on its port.",
    default: [],
    schema: z
      .array(cidr, { error: CIDR_ALLOWED })
      .max(32, { error: "must list at most 32 blocks" }),
  },
} satisfies Record<string, KeySpec>;

/** Where the backup's off-site copies go: addresses, the ranges cut out of them, and the port. */
export interface OffsitePeer {
  readonly cidrs: readonly { readonly cidr: string; readonly except?: readonly string[] }[];
  readonly port: number;
}

export interface NetworkPolicyConfig {
  readonly enabled: boolean;
  readonly clientLabels: Readonly<Record<string, string>>;
  readonly clientNamespaces: readonly string[];
  readonly ingressNamespace: string;
  readonly monitoringNamespace: string;
  /** Set when backups go off-site. */
  readonly offsite?: OffsitePeer;
}

/**
 * Private, link-local (the cloud metadata service at 169.254.169.254) and shared ranges: an
 * endpoint known only by name may be anywhere public, never inside the cluster's networks.
 */
export const NON_PUBLIC_IPV4 = [
  "10.0.0.0/8",
  "100.64.0.0/10",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
];

/** The off-site peer of an endpoint URL ("" = Amazon S3 over HTTPS). */
export function offsitePeer(endpoint: string, cidrs: readonly string[]): OffsitePeer {
  const url = endpoint === "" ? new URL("https://s3.amazonaws.com") : new URL(endpoint);
  const port = url.port !== "" ? Number(url.port) : url.protocol === "http:" ? 80 : 443;
  if (cidrs.length > 0) return { cidrs: cidrs.map((cidr) => ({ cidr })), port };
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const family = isIP(host);
  if (family !== 0) return { cidrs: [{ cidr: `${host}/${family === 4 ? 32 : 128}` }], port };
  return {
    cidrs: [
      { cidr: "0.0.0.0/0", except: NON_PUBLIC_IPV4 },
      { cidr: "::/0", except: ["fc00::/7", "fe80::/10"] },
    ],
    port,
  };
}

type NetworkPolicyValues = { readonly [K in keyof typeof NETWORK_POLICY_KEYS]: unknown };

export function resolveNetworkPolicy(
  values: NetworkPolicyValues,
  context: {
    readonly target: "docker" | "kubernetes";
    readonly profileDefault: boolean;
    readonly appSecretNamespaces: readonly string[];
    readonly namespace: string;
    /** The backup's off-site endpoint, when backups go off-site. */
    readonly offsiteEndpoint?: string;
  },
  invalid: (key: string, value: unknown, allowed: string) => string,
): { networkPolicy: NetworkPolicyConfig; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const v = values as Record<keyof typeof NETWORK_POLICY_KEYS, never>;
  const kubernetes = context.target === "kubernetes";
  const asked = v.networkPolicy as boolean | undefined;
  const enabled = kubernetes && (asked ?? context.profileDefault);
  const cidrs = v.networkPolicyOffsiteCidrs as string[];
  if (!kubernetes && asked === true)
    problems.push(
      invalid(
        "networkPolicy",
        true,
        `is for the Kubernetes target only; this stack's target is ${context.target} (the Docker stack publishes ports on 127.0.0.1 only)`,
      ),
    );
  if (cidrs.length > 0 && context.offsiteEndpoint === undefined)
    problems.push(
      invalid(
        "networkPolicyOffsiteCidrs",
        cidrs,
        "needs off-site backups (lowcode-redis:backupS3Bucket): there is no endpoint to reach",
      ),
    );
  const offsite =
    enabled && context.offsiteEndpoint !== undefined
      ? offsitePeer(context.offsiteEndpoint, cidrs)
      : undefined;
  if (offsite && cidrs.length === 0 && offsite.cidrs[0].except)
    warnings.push(
      `The backup may reach any public address on port ${offsite.port}: a NetworkPolicy cannot name ${context.offsiteEndpoint || "Amazon S3"} by host name. Set lowcode-redis:networkPolicyOffsiteCidrs to its addresses to narrow it.`,
    );
  const clientNamespaces = v.networkPolicyClientNamespaces as string[];
  return {
    networkPolicy: {
      enabled,
      clientLabels: parseLabels(v.networkPolicyClientLabels as string),
      clientNamespaces:
        clientNamespaces.length > 0
          ? clientNamespaces
          : context.appSecretNamespaces.length > 0
            ? context.appSecretNamespaces
            : [context.namespace],
      ingressNamespace: v.networkPolicyIngressNamespace as string,
      monitoringNamespace: v.networkPolicyMonitoringNamespace as string,
      offsite,
    },
    problems,
    warnings,
  };
}
