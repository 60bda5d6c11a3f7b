import { Invalid, KeySpec, KeyValues, bool, labelList, parseLabels } from "./schemas";

/**
 * The labels the ServiceMonitor and the PrometheusRule carry of their own (render/kubernetes.ts
 * `labels`): what selects, owns and names them. metricsLabels adds labels beside them, never over
 * them.
 */
export const OWN_LABEL_KEYS = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/component",
  "app.kubernetes.io/part-of",
  "app.kubernetes.io/managed-by",
];

/**
 * The keys of the metrics and alerts (Kubernetes): a redis_exporter beside every Redis node and
 * sentinel, and the Prometheus operator's ServiceMonitor and PrometheusRule where the cluster has
 * that operator.
 */
export const METRICS_KEYS = {
  metricsEnabled: {
    type: "boolean",
    description:
      "Kubernetes: a redis_exporter sidecar in every Redis and sentinel pod, as the exporter user, and a metrics Service.",
    default: true,
    schema: bool,
  },
  metricsServiceMonitor: {
    type: "boolean",
    description: "Kubernetes: a ServiceMonitor for the metrics Services (Prometheus operator).",
    default: false,
    schema: bool,
  },
  metricsPrometheusRule: {
    type: "boolean",
    description:
      "Kubernetes: a PrometheusRule with the on-call alerts (Prometheus operator; the backup alert reads kube-state-metrics).",
    default: false,
    schema: bool,
  },
  metricsLabels: {
    type: "string",
    description:
      'Kubernetes: labels (k=v,…) added to the ServiceMonitor and PrometheusRule so that the operator selects them, e.g. "release=kube-prometheus-stack".',
    default: "",
    schema: labelList.superRefine((v, ctx) => {
      const own = Object.keys(parseLabels(v)).find((k) => OWN_LABEL_KEYS.includes(k));
      if (own)
        ctx.addIssue({
          code: "custom",
          message: `must not set ${own}, a label the ServiceMonitor and PrometheusRule carry of their own (${OWN_LABEL_KEYS.join(", ")}); add labels beside them`,
        });
    }),
  },
} as const satisfies Record<string, KeySpec>;

export interface MetricsConfig {
  /** The exporter sidecars, the exporter user and the metrics Services. */
  readonly enabled: boolean;
  readonly serviceMonitor: boolean;
  readonly prometheusRule: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

export function resolveMetrics(
  values: KeyValues<typeof METRICS_KEYS>,
  context: { readonly target: "docker" | "kubernetes" },
  invalid: Invalid,
): { metrics: MetricsConfig; problems: string[] } {
  const problems: string[] = [];
  const v = values;
  const kubernetes = context.target === "kubernetes";
  const enabled = kubernetes && v.metricsEnabled;
  for (const key of ["metricsServiceMonitor", "metricsPrometheusRule"] as const) {
    if (v[key] !== true) continue;
    if (!kubernetes)
      problems.push(
        invalid(
          key,
          true,
          `is for the Kubernetes target only; this stack's target is ${context.target}`,
        ),
      );
    else if (!enabled)
      problems.push(
        invalid(
          key,
          true,
          "needs lowcode-redis:metricsEnabled true: without the exporters there is nothing to scrape",
        ),
      );
  }
  return {
    metrics: {
      enabled,
      serviceMonitor: enabled && v.metricsServiceMonitor,
      prometheusRule: enabled && v.metricsPrometheusRule,
      labels: parseLabels(v.metricsLabels),
    },
    problems,
  };
}
