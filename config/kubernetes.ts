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
import { STORAGE_FILES_PER_DATASET, defaultStorageSize, minimumStorageBytes } from "./storage";
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

const STORAGE_ALLOWED =
  'must be "" (derived from maxmemory) or whole bytes from 1Mi to 64Ti, such as "3Gi"';
const storageQuantity = quantity("3Gi", { min: MI, max: 64n * TI, allowed: STORAGE_ALLOWED });

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
    description:
      'Size of each Redis data volume (Kubernetes); "" = derived from maxmemory: 5 x maxmemory (AOF base, increment and rewrite, RDB and its temp file) + 25%, whole Gi. Smaller than 5 x maxmemory is refused.',
    default: "",
    schema: z.string({ error: STORAGE_ALLOWED }).superRefine((v, ctx) => {
      if (v === "") return;
      const problem = storageQuantity.safeParse(v);
      if (!problem.success)
        for (const issue of problem.error.issues)
          ctx.addIssue({ code: "custom", message: issue.message });
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

/**
 * The Kubernetes settings; on that target the data volume holds the RDB and AOF files of the whole
 * dataset, sized by config/storage.ts.
 */
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
  const storageSize =
    values.storageSize === "" ? defaultStorageSize(context.maxmemoryBytes) : values.storageSize;
  const minimum = minimumStorageBytes(context.maxmemoryBytes);
  if (context.target === "kubernetes" && Number(wholeQuantity(storageSize)) < minimum) {
    problems.push(
      invalid(
        "storageSize",
        values.storageSize,
        `must be at least ${toMebibytes(minimum)}, ${STORAGE_FILES_PER_DATASET} x ${NAMESPACE}:maxmemory "${context.maxmemory}": the volume holds the AOF base, its increment and a rewrite's new base, dump.rdb and a BGSAVE's temp file, each up to the whole dataset (docs/operations/storage-and-memory.md); "" derives ${defaultStorageSize(context.maxmemoryBytes)}`,
      ),
    );
  }
  return {
    kubernetes: {
      namespace: values.namespace,
      createNamespace: values.createNamespace,
      storageSize,
      sentinelStorageSize: values.sentinelStorageSize,
      storageClass: values.storageClass,
      antiAffinity: values.antiAffinity,
      clusterDomain: values.clusterDomain,
      placement: resolvePlacement(values),
    },
    problems,
  };
}
