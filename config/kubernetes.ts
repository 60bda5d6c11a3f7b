import { z } from "zod";
import {
  DNS_LABEL,
  Invalid,
  KeySpec,
  KeyValues,
  MI,
  NAMESPACE,
  TI,
  bool,
  oneOf,
  quantity,
} from "./schemas";
import { PLACEMENT_KEYS, PlacementConfig, resolvePlacement } from "./placement";
import { toMebibytes, wholeQuantity } from "./units";

/** The keys of the Kubernetes target: the namespace, the cluster's DNS domain, volumes, placement. */

const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The only place the usual cluster domain is written: every DNS name is built from the config. */
const DEFAULT_CLUSTER_DOMAIN = "cluster.local";
/** Dot-separated DNS-1123 labels of at most 63 characters each, 253 in all. */
const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const DNS_NAME_ALLOWED = `must be a DNS name: dot-separated DNS-1123 labels (lowercase letters, digits and '-', at most 63 characters each), at most 253 characters in all, e.g. "${DEFAULT_CLUSTER_DOMAIN}"`;

export const KUBERNETES_KEYS = {
  namespace: {
    type: "string",
    description: "Kubernetes namespace.",
    default: "lowcode",
    schema: z
      .string({ error: "must be a DNS-1123 label (lowercase letters, digits, '-')" })
      .regex(DNS_LABEL, { error: "must be a DNS-1123 label (lowercase letters, digits, '-')" }),
  },
  createNamespace: {
    type: "boolean",
    description: "Kubernetes: create the namespace.",
    default: true,
    schema: bool,
  },
  clusterDomain: {
    type: "string",
    description:
      "Kubernetes cluster DNS domain of the pod and Service names (kubelet --cluster-domain).",
    default: DEFAULT_CLUSTER_DOMAIN,
    schema: z.string({ error: DNS_NAME_ALLOWED }).regex(DNS_NAME, { error: DNS_NAME_ALLOWED }),
  },
  storageSize: {
    type: "string",
    description: "Size of each Redis data volume (Kubernetes).",
    default: "1Gi",
    schema: quantity("1Gi", {
      min: MI,
      max: 64n * TI,
      allowed: 'must be whole bytes from 1Mi to 64Ti, such as "1Gi"',
    }),
  },
  sentinelStorageSize: {
    type: "string",
    description:
      "Size of each sentinel's state volume (Kubernetes): it remembers the master across restarts.",
    default: "16Mi",
    schema: quantity("16Mi", {
      min: MI,
      max: TI,
      allowed: 'must be whole bytes from 1Mi to 1Ti, such as "16Mi"',
    }),
  },
  storageClass: {
    type: "string",
    description: 'Kubernetes storage class; "" = the cluster default.',
    default: "",
    schema: z
      .string({ error: "must be a DNS-1123 name" })
      .refine((v) => v === "" || DNS_SUBDOMAIN.test(v), {
        error:
          'must be "" (the cluster default) or a DNS-1123 name (dot-separated lowercase labels)',
      }),
  },
} as const satisfies Record<string, KeySpec>;

export const ANTI_AFFINITY_KEYS = {
  antiAffinity: {
    type: "string",
    description: "Kubernetes pod anti-affinity across nodes: soft, hard or none.",
    default: "soft",
    schema: oneOf(["soft", "hard", "none"]),
  },
} as const satisfies Record<string, KeySpec>;

export interface KubernetesConfig {
  readonly namespace: string;
  readonly createNamespace: boolean;
  readonly storageSize: string;
  readonly sentinelStorageSize: string;
  readonly storageClass: string;
  readonly antiAffinity: "soft" | "hard" | "none";
  /** DNS domain of the cluster: pods and Services are `<name>.<namespace>.svc.<clusterDomain>`. */
  readonly clusterDomain: string;
  /** Where the Redis and sentinel pods run: zones and nodes, priority, extra labels (config/placement.ts). */
  readonly placement: PlacementConfig;
}

/** The Kubernetes settings; on that target the data volume holds the RDB and AOF files of the whole dataset. */
export function resolveKubernetes(
  values: KeyValues<typeof KUBERNETES_KEYS> &
    KeyValues<typeof ANTI_AFFINITY_KEYS> &
    KeyValues<typeof PLACEMENT_KEYS>,
  context: {
    readonly target: "docker" | "kubernetes";
    readonly maxmemory: string;
    readonly maxmemoryBytes: number;
  },
  invalid: Invalid,
): { kubernetes: KubernetesConfig; problems: string[] } {
  const problems: string[] = [];
  const storageBytes = Number(wholeQuantity(values.storageSize));
  if (context.target === "kubernetes" && storageBytes < context.maxmemoryBytes) {
    problems.push(
      invalid(
        "storageSize",
        values.storageSize,
        `must be at least ${NAMESPACE}:maxmemory "${context.maxmemory}" (${toMebibytes(context.maxmemoryBytes)}): the volume holds the RDB and AOF files of the whole dataset`,
      ),
    );
  }
  return {
    kubernetes: {
      namespace: values.namespace,
      createNamespace: values.createNamespace,
      storageSize: values.storageSize,
      sentinelStorageSize: values.sentinelStorageSize,
      storageClass: values.storageClass,
      antiAffinity: values.antiAffinity,
      clusterDomain: values.clusterDomain,
      placement: resolvePlacement(values),
    },
    problems,
  };
}
