import { ResolvedConfig } from "../config/resolve";
import { renderAlertRules } from "../render/alerts";
import { metricsObjects } from "../render/metrics";
import { Unit } from "./types";
import { COMPONENT_NAMES, planObjects, resourceName, unit } from "./names";

/**
 * Metrics: the exporters' Services, the operator's ServiceMonitor and PrometheusRule, and the
 * alerts as a plain rules file for a Prometheus without the operator. The exporters themselves are
 * sidecars of the nodes' and sentinels' pods.
 */
export function metricsUnits(cfg: ResolvedConfig): Unit[] {
  if (!cfg.metrics.enabled) return [];
  const name = COMPONENT_NAMES.redis;
  return [
    unit({
      name: "metrics",
      owner: "redis",
      artifacts: { "metrics/alert-rules.yaml": renderAlertRules(cfg, name) },
      objects:
        cfg.target === "kubernetes" ? planObjects(metricsObjects(cfg, name), resourceName) : [],
    }),
  ];
}
