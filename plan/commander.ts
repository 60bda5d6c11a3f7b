import { ResolvedConfig } from "../config/resolve";
import {
  COMMANDER_CONTAINER_PORT,
  COMMANDER_FILES,
  COMMANDER_LAYOUT,
  COMMANDER_UID,
  commanderObjectNames,
  commanderObjects,
  commanderPlainFiles,
  commanderSecretFiles,
  commanderSite,
} from "../render/commander";
import { networkPolicyNames } from "../render/network-policy";
import { COMPONENT_NAMES, planObjects, suffixedName, unit } from "./names";
import { FileSet, PlanSecrets, Unit } from "./types";

/** Commander's own secrets, which only its component (or the render's references) supplies. */
function commanderSecrets(s: PlanSecrets): NonNullable<PlanSecrets["commander"]> {
  if (!s.commander)
    throw new Error("Commander's secret files need its sign-in hash and session key");
  return s.commander;
}

export function commanderFiles(cfg: ResolvedConfig): FileSet {
  return {
    plain: commanderPlainFiles(cfg, commanderSite(cfg, COMPONENT_NAMES.redis)),
    secret: (s) => commanderSecretFiles(cfg, s.values, commanderSecrets(s)),
    renderDir: "commander",
    renderSecretDir: "secrets/commander",
  };
}

/** A read-only root with a small /tmp: what Commander's and RedisInsight's containers share. */
export const UI_TMPFS = { "/tmp": "rw,size=16m" };

/**
 * Redis Commander: signs in every user, reaches Redis as the `commander` ACL user. Kubernetes: a
 * Deployment, a Service, an Ingress when `commanderIngressHost` is set. Docker: a container whose
 * files go to a volume (Docker copies files into a read-only container only onto a volume).
 */
export function commanderUnits(cfg: ResolvedConfig): Unit[] {
  if (!cfg.commander.enabled) return [];
  const name = COMPONENT_NAMES.commander;
  const files = commanderFiles(cfg);
  const n = commanderObjectNames(COMPONENT_NAMES.redis);
  // Resource names from the component's name; the objects' names come from the deployment's.
  const resourceName = suffixedName(name, {
    [`ConfigMap/${n.configMap}`]: "config",
    [`Secret/${n.secret}`]: "auth",
    [`Deployment/${n.deployment}`]: "deployment",
    [`Service/${n.service}`]: "service",
    [`Ingress/${n.ingress}`]: "ingress",
    [`NetworkPolicy/${networkPolicyNames(COMPONENT_NAMES.redis).commander}`]: "network-policy",
  });
  const docker = cfg.target === "docker";
  return [
    unit({
      name: "commander",
      owner: "commander",
      files: [files],
      objects: docker
        ? []
        : planObjects(commanderObjects(cfg, COMPONENT_NAMES.redis), resourceName, (object) => {
            if (object.kind === "Secret") return { secretData: files.secret };
            // The launcher reads the Secret at start: a changed password rolls Commander's pod.
            if (object.kind === "Deployment")
              return { waitsForEarlier: true, rollsWith: files.secret };
            return {};
          }),
      containers: docker
        ? [
            {
              resourceName: `${name}-container`,
              name,
              image: { resourceName: `${name}-image`, name: cfg.images.commander },
              user: `${COMMANDER_UID}:${COMMANDER_UID}`,
              entrypoints: ["/usr/bin/dumb-init", "--"],
              command: ["node", `${COMMANDER_LAYOUT.confDir}/${COMMANDER_FILES.launcher}`],
              uploads: {
                dir: COMMANDER_LAYOUT.confDir,
                uid: COMMANDER_UID,
                permissions: "0400",
                files,
              },
              network: {},
              publish: { internal: COMMANDER_CONTAINER_PORT, external: cfg.commander.port },
              volumes: [
                {
                  source: { create: { resourceName: `${name}-conf` } },
                  containerPath: COMMANDER_LAYOUT.confDir,
                },
              ],
              // The image's check: GET /healthcheck, served without signing in.
              healthcheck: {
                tests: ["CMD", "node", `${COMMANDER_LAYOUT.home}/bin/healthcheck.js`],
                interval: "30s",
                timeout: "5s",
                retries: 3,
                startPeriod: "20s",
              },
              memoryMb: 256,
              readOnlyRoot: true,
              tmpfs: UI_TMPFS,
              afterRedis: true,
            },
          ]
        : [],
      processes: [{ name: "commander", kind: "commander", ordinal: 0, port: cfg.commander.port }],
    }),
  ];
}
