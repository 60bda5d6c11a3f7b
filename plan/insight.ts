import { ResolvedConfig } from "../config/resolve";
import {
  INSIGHT_CONTAINER_PORT,
  INSIGHT_UID,
  commanderObjectNames,
  insightObjects,
} from "../render/commander";
import { networkPolicyNames } from "../render/network-policy";
import { UI_TMPFS } from "./commander";
import { COMPONENT_NAMES, planObjects, suffixedName, unit } from "./names";
import { Unit } from "./types";

/**
 * RedisInsight, when `insightEnabled`: no sign-in page of its own, so reached on 127.0.0.1 or
 * through `kubectl port-forward` only; its connections kept in a volume. The sandbox runs none.
 */
export function insightUnits(cfg: ResolvedConfig): Unit[] {
  if (!cfg.commander.insight.enabled) return [];
  const name = COMPONENT_NAMES.commander;
  const n = commanderObjectNames(COMPONENT_NAMES.redis);
  const resourceName = suffixedName(name, {
    [`Deployment/${n.insightDeployment}`]: "insight-deployment",
    [`Service/${n.insightService}`]: "insight-service",
    [`NetworkPolicy/${networkPolicyNames(COMPONENT_NAMES.redis).insight}`]:
      "insight-network-policy",
  });
  const docker = cfg.target === "docker";
  return [
    unit({
      name: "insight",
      owner: "commander",
      objects: docker
        ? []
        : planObjects(insightObjects(cfg, COMPONENT_NAMES.redis), resourceName, (object) =>
            object.kind === "Deployment" ? { waitsForEarlier: true } : {},
          ),
      containers: docker
        ? [
            {
              resourceName: `${name}-insight`,
              name: `${COMPONENT_NAMES.redis}-insight`,
              image: { resourceName: `${name}-insight-image`, name: cfg.images.insight },
              user: `${INSIGHT_UID}:${INSIGHT_UID}`,
              env: { RI_APP_HOST: "0.0.0.0", RI_APP_PORT: String(INSIGHT_CONTAINER_PORT) },
              network: {},
              publish: { internal: INSIGHT_CONTAINER_PORT, external: cfg.commander.insight.port },
              volumes: [
                {
                  source: { create: { resourceName: `${name}-insight-data` } },
                  containerPath: "/data",
                },
              ],
              healthcheck: {
                tests: [
                  "CMD",
                  "node",
                  "-e",
                  `require("http").get("http://127.0.0.1:${INSIGHT_CONTAINER_PORT}/api/health", (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on("error", () => process.exit(1))`,
                ],
                interval: "30s",
                timeout: "5s",
                retries: 3,
                startPeriod: "60s",
              },
              memoryMb: 512,
              readOnlyRoot: true,
              tmpfs: UI_TMPFS,
            },
          ]
        : [],
    }),
  ];
}
