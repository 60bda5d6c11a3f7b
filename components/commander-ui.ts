import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ResolvedConfig } from "../config/resolve";
import {
  COMMANDER_CONTAINER_PORT,
  COMMANDER_IMAGE,
  COMMANDER_LAYOUT,
  COMMANDER_FILES,
  COMMANDER_UID,
  INSIGHT_CONTAINER_PORT,
  INSIGHT_IMAGE,
  INSIGHT_UID,
  commanderObjectNames,
  commanderObjects,
  commanderPasswordHash,
  insightObjects,
  commanderPlainFiles,
  commanderSecretFiles,
  commanderSite,
  commanderUrl,
} from "../render/commander";
import { Files } from "../render/files";
import { K8sObject } from "../render/kubernetes";
import { SecretValues } from "../render/redis-conf";
import { networkPolicyNames } from "../render/network-policy";
import { createPlainObject, resourceName, withSecretDigest } from "./targets/kubernetes";

export interface CommanderUIArgs {
  /** The validated stack config: `commander.*` (port, user, read-only, Ingress, RedisInsight). */
  readonly config: ResolvedConfig;
  /** Name of the RedisInstance or SentinelGroup Commander shows. */
  readonly redisName: string;
  /**
   * The deployment's secrets, as one secret Output: the `commander` user's password and, in a
   * group, the sentinel lookup's.
   */
  readonly redisSecrets: pulumi.Input<SecretValues>;
  /** The sign-in password (`commanderPassword`, set with --secret). Default: generated. */
  readonly password?: pulumi.Input<string>;
  /** Docker: network of the Redis containers. Required on the docker target. */
  readonly network?: pulumi.Input<string>;
  /** What to create first (the Redis component). Default none. */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Redis Commander for the platform's databases, and RedisInsight when `insightEnabled`, on both
 * targets. Commander signs in every user (it gets only a bcrypt hash of the password, with a salt
 * generated once so the hash, and the container, stay the same across updates), signs its
 * sessions with a generated key, and reaches Redis as the `commander` ACL user, read-only where
 * `commanderReadOnly` says so.
 * - Docker: containers on the deployment's network, published on 127.0.0.1 only.
 * - Kubernetes: a Deployment, a ClusterIP Service, an Ingress when `commanderIngressHost` is set.
 */
export class CommanderUI extends pulumi.ComponentResource {
  /**
   * Where Commander is reached: http://127.0.0.1:<commanderPort>, the Ingress, or the Service;
   * undefined when only RedisInsight runs.
   */
  public readonly url?: pulumi.Output<string>;
  /** The sign-in; secret. Undefined when only RedisInsight runs. */
  public readonly login?: pulumi.Output<{ username: string; password: string }>;

  constructor(name: string, args: CommanderUIArgs, opts?: pulumi.ComponentResourceOptions) {
    super("lowcode:redis:CommanderUI", name, {}, opts);
    const cfg = args.config;
    if (!cfg.commander.enabled && !cfg.commander.insight.enabled)
      throw new Error(`CommanderUI ${name}: commanderEnabled and insightEnabled are both false`);
    if (cfg.target === "docker" && args.network === undefined)
      throw new Error(`CommanderUI ${name}: args.network is required on the docker target`);

    if (cfg.commander.enabled) {
      const password = pulumi.secret(
        args.password ??
          new random.RandomPassword(
            `${name}-password`,
            { length: 24, special: false },
            { parent: this },
          ).result,
      );
      const secretFiles = this.secretFiles(name, cfg, args, password);
      if (cfg.target === "kubernetes") this.createKubernetes(name, cfg, args, secretFiles);
      else this.createDocker(name, cfg, args, secretFiles);
      this.url = pulumi.output(commanderUrl(cfg, args.redisName));
      this.login = pulumi.secret(
        password.apply((p) => ({ username: cfg.commander.username, password: p })),
      );
    }
    if (cfg.commander.insight.enabled) {
      if (cfg.target === "kubernetes") this.createKubernetes(name, cfg, args);
      else this.createDockerInsight(name, cfg, args);
    }
    this.registerOutputs({ url: this.url, login: this.login });
  }

  /**
   * Commander's secret files: the bcrypt hash of the sign-in (a salt generated once: the hash
   * changes only with the password), a generated session-signing key, the Redis passwords.
   */
  private secretFiles(
    name: string,
    cfg: ResolvedConfig,
    args: CommanderUIArgs,
    password: pulumi.Output<string>,
  ): pulumi.Output<Files> {
    const sessionSecret = new random.RandomPassword(
      `${name}-session-secret`,
      { length: 48, special: false },
      { parent: this },
    ).result;
    const salt = new random.RandomString(
      `${name}-salt`,
      { length: 22, special: true, overrideSpecial: "./" },
      { parent: this },
    ).result;
    return pulumi
      .secret(pulumi.all([pulumi.output(args.redisSecrets), password, salt, sessionSecret]))
      .apply(([values, p, s, session]) =>
        commanderSecretFiles(cfg, values as SecretValues, {
          passwordHash: commanderPasswordHash(p, s),
          sessionSecret: session,
        }),
      );
  }

  /**
   * Kubernetes: Commander's objects when given its secret files (its Secret gets them as a secret
   * Output), else RedisInsight's.
   */
  private createKubernetes(
    name: string,
    cfg: ResolvedConfig,
    args: CommanderUIArgs,
    secretFiles?: pulumi.Output<Files>,
  ) {
    const dependsOn = [...(args.dependsOn ?? [])];
    const created: pulumi.Resource[] = [];
    const n = commanderObjectNames(args.redisName);
    const policies = networkPolicyNames(args.redisName);
    // Resource names from the component's name; the objects' names come from the deployment's.
    const suffix: Record<string, string> = {
      [`ConfigMap/${n.configMap}`]: "config",
      [`Secret/${n.secret}`]: "auth",
      [`Deployment/${n.deployment}`]: "deployment",
      [`Service/${n.service}`]: "service",
      [`Ingress/${n.ingress}`]: "ingress",
      [`Deployment/${n.insightDeployment}`]: "insight-deployment",
      [`Service/${n.insightService}`]: "insight-service",
      [`NetworkPolicy/${policies.commander}`]: "network-policy",
      [`NetworkPolicy/${policies.insight}`]: "insight-network-policy",
    };
    const create = (object: K8sObject) => {
      const opts = { parent: this, dependsOn: [...dependsOn] };
      const objectArgs = object as unknown as Record<string, unknown>;
      const rname = `${name}-${suffix[`${object.kind}/${object.metadata.name}`] ?? resourceName(object)}`;
      switch (object.kind) {
        case "ConfigMap":
          created.push(new k8s.core.v1.ConfigMap(rname, objectArgs, opts));
          break;
        case "Secret":
          created.push(
            new k8s.core.v1.Secret(rname, { ...objectArgs, stringData: secretFiles! }, opts),
          );
          break;
        case "Deployment":
          // The launcher reads the Secret at start: a changed password rolls Commander's pod.
          new k8s.apps.v1.Deployment(
            rname,
            (secretFiles
              ? withSecretDigest(
                  object,
                  secretFiles,
                  new random.RandomPassword(
                    `${name}-rollout-key`,
                    { length: 32, special: false },
                    { parent: this },
                  ).result,
                )
              : object) as unknown as k8s.apps.v1.DeploymentArgs,
            { ...opts, dependsOn: [...dependsOn, ...created] },
          );
          break;
        case "Ingress":
          new k8s.networking.v1.Ingress(rname, objectArgs, opts);
          break;
        default:
          created.push(createPlainObject(rname, object, opts));
      }
    };
    (secretFiles ? commanderObjects : insightObjects)(cfg, args.redisName).forEach(create);
  }

  /**
   * Docker: the image's app as its own user, every capability dropped, a read-only root; the files
   * go to a volume (Docker copies files into a read-only container only onto a volume).
   */
  private createDocker(
    name: string,
    cfg: ResolvedConfig,
    args: CommanderUIArgs,
    secretFiles: pulumi.Output<Files>,
  ) {
    const image = new docker.RemoteImage(
      `${name}-image`,
      { name: COMMANDER_IMAGE, keepLocally: true },
      { parent: this },
    );
    const conf = new docker.Volume(`${name}-conf`, { name: `${name}-conf` }, { parent: this });
    const plain = commanderPlainFiles(cfg, commanderSite(cfg, args.redisName));
    const uid = String(COMMANDER_UID);
    new docker.Container(
      `${name}-container`,
      {
        name,
        image: image.imageId,
        user: `${uid}:${uid}`,
        entrypoints: ["/usr/bin/dumb-init", "--"],
        command: ["node", `${COMMANDER_LAYOUT.confDir}/${COMMANDER_FILES.launcher}`],
        uploads: secretFiles.apply((secrets) =>
          Object.entries({ ...plain, ...secrets }).map(([file, content]) => ({
            file: `${COMMANDER_LAYOUT.confDir}/${file}`,
            content,
            owner: uid,
            group: uid,
            permissions: "0400",
          })),
        ),
        volumes: [{ volumeName: conf.name, containerPath: COMMANDER_LAYOUT.confDir }],
        networksAdvanced: [{ name: args.network! }],
        ...hardenedUiContainer(COMMANDER_CONTAINER_PORT, cfg.commander.port, 256),
        // The image's check: GET /healthcheck, served without signing in.
        healthcheck: {
          tests: ["CMD", "node", `${COMMANDER_LAYOUT.home}/bin/healthcheck.js`],
          interval: "30s",
          timeout: "5s",
          retries: 3,
          startPeriod: "20s",
        },
      },
      { parent: this, dependsOn: [conf, ...(args.dependsOn ?? [])] },
    );
  }

  /** Docker: RedisInsight on 127.0.0.1:`insightPort`, its connections kept in a volume. */
  private createDockerInsight(name: string, cfg: ResolvedConfig, args: CommanderUIArgs) {
    const image = new docker.RemoteImage(
      `${name}-insight-image`,
      { name: INSIGHT_IMAGE, keepLocally: true },
      { parent: this },
    );
    const data = new docker.Volume(
      `${name}-insight-data`,
      { name: `${name}-insight-data` },
      { parent: this },
    );
    const uid = String(INSIGHT_UID);
    new docker.Container(
      `${name}-insight`,
      {
        name: `${args.redisName}-insight`,
        image: image.imageId,
        user: `${uid}:${uid}`,
        envs: ["RI_APP_HOST=0.0.0.0", `RI_APP_PORT=${INSIGHT_CONTAINER_PORT}`],
        volumes: [{ volumeName: data.name, containerPath: "/data" }],
        networksAdvanced: [{ name: args.network! }],
        ...hardenedUiContainer(INSIGHT_CONTAINER_PORT, cfg.commander.insight.port, 512),
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
      },
      { parent: this, dependsOn: [data] },
    );
  }
}

/**
 * What Commander's and RedisInsight's containers share: published on 127.0.0.1 only, a read-only
 * root with a small /tmp, every capability dropped, no-new-privileges, a memory limit, bounded logs.
 */
function hardenedUiContainer(internal: number, external: number, memoryMb: number) {
  return {
    ports: [{ internal, external, ip: "127.0.0.1", protocol: "tcp" }],
    readOnly: true,
    tmpfs: { "/tmp": "rw,size=16m" },
    restart: "unless-stopped",
    memory: memoryMb,
    capabilities: { drops: ["ALL"] },
    securityOpts: ["no-new-privileges:true"],
    logDriver: "json-file",
    logOpts: { "max-size": "10m", "max-file": "3" },
  };
}
