import { ResolvedConfig } from "../config/resolve";

/** The well-known node labels a spread counts by: a zone, then a node. */
export const SPREAD_TOPOLOGY_KEYS = ["topology.kubernetes.io/zone", "kubernetes.io/hostname"];

/**
 * The pod spec fields that place a workload's pods (`zoneSpread`, `priorityClassName`,
 * `tolerations`, `nodeSelector`): each set only when configured. The spread keeps the pods of one
 * workload, selected by `selectorLabels`, at most one apart between zones and between nodes, so a
 * zone's loss takes one of three sentinels, never two (their majority).
 */
export function podPlacement(
  cfg: ResolvedConfig,
  selectorLabels: Record<string, string>,
): Record<string, unknown> {
  const p = cfg.kubernetes.placement;
  const whenUnsatisfiable = p.zoneSpread === "hard" ? "DoNotSchedule" : "ScheduleAnyway";
  return {
    ...(p.zoneSpread === "none"
      ? {}
      : {
          topologySpreadConstraints: SPREAD_TOPOLOGY_KEYS.map((topologyKey) => ({
            maxSkew: 1,
            topologyKey,
            whenUnsatisfiable,
            labelSelector: { matchLabels: selectorLabels },
          })),
        }),
    ...(p.priorityClassName ? { priorityClassName: p.priorityClassName } : {}),
    ...(p.tolerations.length > 0 ? { tolerations: p.tolerations.map((t) => ({ ...t })) } : {}),
    ...(Object.keys(p.nodeSelector).length > 0 ? { nodeSelector: { ...p.nodeSelector } } : {}),
  };
}

/**
 * A pod template's labels and annotations: the configured extras (`podLabels`, `podAnnotations`)
 * first, the program's own after them, so that none of the extras could replace one (the config
 * refuses such a key before this point).
 */
export function podMetadata(
  cfg: ResolvedConfig,
  own: { labels: Record<string, string>; annotations: Record<string, string> },
) {
  const p = cfg.kubernetes.placement;
  return {
    labels: { ...p.podLabels, ...own.labels },
    annotations: { ...p.podAnnotations, ...own.annotations },
  };
}
