import { hashSync } from "bcryptjs";
import { DEFAULT_IMAGES } from "../config/images";
import { DatabasePurpose, ResolvedConfig } from "../config/resolve";
import { COMMANDER_REDIS_USER } from "./acl";
import { Endpoint, credentials } from "./connection";
import { COMMANDER_GATE_PARTS, commanderGate } from "./commander-gate";
import { Files } from "./files";
import { podImagePullSecrets } from "./images";
import {
  CONTAINER_SECURITY_CONTEXT,
  K8sObject,
  labels,
  objectNames,
  selector,
  sentinelEndpoints,
  serviceHost,
} from "./kubernetes";
import { SecretValues, dockerNodeAddress, need, sha256Hex } from "./redis-conf";
import { dockerSentinelEndpoints } from "./sentinel";
import { commanderNetworkPolicy, insightNetworkPolicy } from "./network-policy";

/**
 * Redis Commander (and RedisInsight) as rendered files and Kubernetes objects. Commander's image
 * runs the release of the `redis-commander` npm package the sandbox and the tests run: the same
 * app, started by the same launcher with the same settings file.
 */

/**
 * The `redis-commander` npm package's release: package.json pins the same, and the default of
 * `commanderImage` (config/images.ts) is its image. RedisInsight (`insightImage`) cannot run here
 * (no Docker, no cluster): manifest checks only.
 */
export const COMMANDER_VERSION = DEFAULT_IMAGES.commander.slice(
  DEFAULT_IMAGES.commander.lastIndexOf(":") + 1,
);
/** The port Commander listens on inside its container or pod. */
export const COMMANDER_CONTAINER_PORT = 8081;
/** RedisInsight's port inside its container (the image's default). */
export const INSIGHT_CONTAINER_PORT = 5540;
/** The image's user: Commander's Dockerfile creates it with this uid. */
export const COMMANDER_UID = 10000;
/** RedisInsight's image runs as the `node` user. */
export const INSIGHT_UID = 1000;
/** bcrypt's cost: 2^12 rounds, about half a second per hash in bcryptjs here. */
export const BCRYPT_COST = 12;
/**
 * How long a Commander session lasts after the password sign-in, whatever the refreshes: a
 * working day. The admin signs in once a day; a token taken from a browser is dead by the next.
 */
export const COMMANDER_SESSION_SECONDS = 8 * 60 * 60;
/** One token's life, as Commander has it: its page refreshes the token every 20 s. */
export const COMMANDER_TOKEN_SECONDS = 60;

/** Where the files are in a container or pod; the sandbox passes its own dirs in the environment. */
export const COMMANDER_LAYOUT = {
  /** The image's application folder. */
  home: "/redis-commander",
  /** The settings file, the launcher and the secret files, read-only. */
  confDir: "/etc/commander",
} as const;

/** The files the launcher reads, by name. */
export const COMMANDER_FILES = {
  settings: "commander.json",
  launcher: "start-commander.js",
  passwordHash: "password.bcrypt",
  sessionSecret: "session.secret",
  redisPassword: "redis.pass",
  sentinelPassword: "sentinel.pass",
} as const;

/** Each platform database's label in Commander's tree: its purpose, then its index. */
const PURPOSE_LABELS: Readonly<Record<DatabasePurpose, string>> = {
  sessions: "sessions",
  flowCache: "flow cache",
  components: "component templates",
  collaboration: "collaboration",
  rateLimiting: "rate limiting",
  queryCache: "query cache",
};

export function databaseLabel(purpose: DatabasePurpose, index: number): string {
  return `${PURPOSE_LABELS[purpose]} (db${index})`;
}

/** Commander's own secrets: the sign-in password, the session-signing key, the bcrypt salt. */
export interface CommanderSecrets {
  readonly password: string;
  readonly sessionSecret: string;
  /** 22 characters of bcrypt's alphabet (./A-Za-z0-9), generated once: the hash stays the same. */
  readonly salt: string;
}

const BCRYPT_SALT = /^[./A-Za-z0-9]{22}$/;

/** The bcrypt hash Commander checks the sign-in password against. */
export function commanderPasswordHash(password: string, salt: string): string {
  if (!BCRYPT_SALT.test(salt))
    throw new Error("the Commander salt must be 22 characters of ./A-Za-z0-9");
  return hashSync(password, `$2b$${BCRYPT_COST}$${salt}`);
}

/** Where Commander listens and which Redis it reaches: per target, and in the sandbox. */
export interface CommanderSite {
  readonly listen: { readonly address: string; readonly port: number };
  /** Standalone: the node. */
  readonly redis: Endpoint;
  /** Sentinel topology: every sentinel. */
  readonly sentinels: readonly Endpoint[];
}

/** Commander's site on the stack's target. */
export function commanderSite(cfg: ResolvedConfig, redisName: string): CommanderSite {
  const listen = { address: "0.0.0.0", port: COMMANDER_CONTAINER_PORT };
  const grouped = cfg.topology === "sentinel";
  if (cfg.target === "docker")
    return {
      listen,
      redis: { host: dockerNodeAddress(cfg, 0), port: cfg.port },
      sentinels: grouped ? dockerSentinelEndpoints(cfg) : [],
    };
  return {
    listen,
    redis: { host: serviceHost(cfg, objectNames(redisName).clientService), port: cfg.port },
    sentinels: grouped ? sentinelEndpoints(cfg, redisName) : [],
  };
}

/**
 * Commander's settings without a secret (the launcher adds them from the secret files): one
 * connection per platform database, labelled by purpose, through the sentinels in a group; the
 * sign-in user; read-only mode; nothing saved, no key values logged.
 */
export function renderCommanderSettings(cfg: ResolvedConfig, site: CommanderSite): string {
  const grouped = cfg.topology === "sentinel";
  const sentinelUser = grouped ? credentials(cfg, {}, "sentinel-client").username : undefined;
  const connections = (Object.entries(cfg.databaseIndex) as [DatabasePurpose, number][])
    .sort(([, a], [, b]) => a - b)
    .map(([purpose, index]) => ({
      label: databaseLabel(purpose, index),
      dbIndex: index,
      username: COMMANDER_REDIS_USER,
      connectionName: "redis-commander",
      ...(grouped
        ? {
            sentinels: site.sentinels.map((s) => ({ host: s.host, port: s.port })),
            sentinelName: cfg.sentinel.masterName,
            sentinelUsername: sentinelUser,
          }
        : { host: site.redis.host, port: site.redis.port }),
    }));
  const settings = {
    // Connections come from this file only: none added in the UI is written anywhere.
    noSave: true,
    noLogData: true,
    ui: { foldingChar: ":", jsonViewAsDefault: "none", binaryAsHex: true },
    redis: {
      readOnly: cfg.commander.readOnly,
      flushOnImport: false,
      useScan: true,
      scanCount: 100,
      rootPattern: "*",
      connectionName: "redis-commander",
      defaultLabel: "lowcode-redis",
      defaultSentinelGroup: cfg.sentinel.masterName,
    },
    server: {
      address: site.listen.address,
      port: site.listen.port,
      urlPrefix: "",
      signinPath: "signin",
      trustProxy: cfg.commander.ingress !== undefined,
      clientMaxBodySize: "100kb",
      httpAuth: { username: cfg.commander.username, password: "" },
    },
    sso: { enabled: false },
    connections,
  };
  return JSON.stringify(settings, null, 2) + "\n";
}

/**
 * The launcher: reads the settings and the secret files, refuses to start without a sign-in
 * (Commander itself would serve everything to anyone), and hands the whole to Commander in
 * NODE_CONFIG, read by its config module: no secret on the command line, in the image or on disk
 * beyond the mounted files. Plain CommonJS for the image's Node.js.
 */
export function renderCommanderLauncher(cfg: ResolvedConfig): string {
  const f = COMMANDER_FILES;
  return [
    "#!/usr/bin/env node",
    `// start-commander.js of lowcode-redis, stack ${cfg.stack}, profile ${cfg.profile}, target ${cfg.target}, topology ${cfg.topology}.`,
    "// Rendered from the stack config: change the config, not this file.",
    "// COMMANDER_CONF_DIR (settings and secret files) and COMMANDER_HOME (the app) override the defaults.",
    '"use strict";',
    'const fs = require("fs");',
    'const path = require("path");',
    `const confDir = process.env.COMMANDER_CONF_DIR || ${JSON.stringify(COMMANDER_LAYOUT.confDir)};`,
    `const home = process.env.COMMANDER_HOME || ${JSON.stringify(COMMANDER_LAYOUT.home)};`,
    "function fail(message) {",
    '  process.stderr.write("start-commander: " + message + "\\n");',
    "  process.exit(1);",
    "}",
    "function read(name) {",
    "  try {",
    '    return fs.readFileSync(path.join(confDir, name), "utf8");',
    "  } catch (err) {",
    '    return fail("cannot read " + path.join(confDir, name) + ": " + err.code);',
    "  }",
    "}",
    "function secret(name) {",
    "  const value = read(name).trim();",
    '  if (value === "") fail(path.join(confDir, name) + " is empty");',
    "  return value;",
    "}",
    "let settings;",
    "try {",
    `  settings = JSON.parse(read(${JSON.stringify(f.settings)}));`,
    "} catch (err) {",
    `  fail(${JSON.stringify(f.settings)} + " is not JSON: " + err.message);`,
    "}",
    'if (!settings.server || !settings.server.httpAuth || !settings.server.httpAuth.username) fail("no sign-in user in the settings");',
    `const hash = secret(${JSON.stringify(f.passwordHash)});`,
    `if (!/^\\$2[aby]\\$[0-9]{2}\\$[./A-Za-z0-9]{53}$/.test(hash)) fail(${JSON.stringify(f.passwordHash)} + " is not a bcrypt hash");`,
    "settings.server.httpAuth.passwordHash = hash;",
    "function fromCommander(id) {",
    "  return require(require.resolve(id, { paths: [home] }));",
    "}",
    "function commanderBcrypt() {",
    "  try {",
    '    return fromCommander("bcrypt");',
    "  } catch (err) {",
    '    return fromCommander("bcryptjs");',
    "  }",
    "}",
    "// The gate in front of Commander's request handler: headers, names as text, no foreign",
    "// connection, sessions of a bounded age signed with a key that changes with the password.",
    "let gate;",
    "try {",
    "  const gateParts = {",
    ...Object.entries(COMMANDER_GATE_PARTS).map(
      ([name, part]) => `    ${name}: (${part.toString()}),`,
    ),
    "  };",
    `  gate = (${commanderGate.toString()})(`,
    "    {",
    '      crypto: require("crypto"),',
    "      fs,",
    '      http: require("http"),',
    "      path,",
    '      jwt: fromCommander("jsonwebtoken"),',
    "      bcrypt: commanderBcrypt(),",
    "      log: console.log,",
    "    },",
    "    {",
    "      home,",
    '      jstreeFile: path.join(path.dirname(require.resolve("jstree/package.json", { paths: [home] })), "dist", "jstree.js"),',
    '      urlPrefix: settings.server.urlPrefix || "",',
    '      signinPath: settings.server.signinPath || "signin",',
    '      authHeader: settings.server.httpAuthHeaderName || "Authorization",',
    "      username: settings.server.httpAuth.username,",
    "      passwordHash: hash,",
    `      sessionSecret: secret(${JSON.stringify(f.sessionSecret)}),`,
    `      sessionSeconds: ${COMMANDER_SESSION_SECONDS},`,
    `      tokenSeconds: ${COMMANDER_TOKEN_SECONDS},`,
    "    },",
    "    gateParts,",
    "  );",
    "} catch (err) {",
    '  fail("cannot guard Commander: " + err.message);',
    "}",
    "settings.server.httpAuth.jwtSecret = gate.signingKey;",
    "const connections = settings.connections || [];",
    `const redisPassword = secret(${JSON.stringify(f.redisPassword)});`,
    "const sentinelPassword = connections.some((c) => c.sentinels)",
    `  ? secret(${JSON.stringify(f.sentinelPassword)})`,
    "  : undefined;",
    "for (const connection of connections) {",
    "  connection.password = redisPassword;",
    "  if (connection.sentinels) connection.sentinelPassword = sentinelPassword;",
    "}",
    "process.env.NODE_CONFIG = JSON.stringify(settings);",
    "// Commander parses its own arguments: it gets none.",
    'const app = path.join(home, "bin", "redis-commander.js");',
    "process.argv = [process.argv[0], app];",
    "gate.install();",
    "require(app);",
    "",
  ].join("\n");
}

/** Plain files: the settings and the launcher. */
export function commanderPlainFiles(cfg: ResolvedConfig, site: CommanderSite): Files {
  return {
    [COMMANDER_FILES.settings]: renderCommanderSettings(cfg, site),
    [COMMANDER_FILES.launcher]: renderCommanderLauncher(cfg),
  };
}

/** Secret files: the password hash (never the password), the session key, the Redis passwords. */
export function commanderSecretFiles(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  own: { readonly passwordHash: string; readonly sessionSecret: string },
): Files {
  return {
    [COMMANDER_FILES.passwordHash]: own.passwordHash,
    [COMMANDER_FILES.sessionSecret]: own.sessionSecret,
    [COMMANDER_FILES.redisPassword]: need(secrets, "commanderRedisPassword"),
    ...(cfg.topology === "sentinel"
      ? {
          [COMMANDER_FILES.sentinelPassword]: credentials(cfg, secrets, "sentinel-client").password,
        }
      : {}),
  };
}

/** The URL of Commander for whoever deploys: localhost on Docker, the Ingress or the Service. */
export function commanderUrl(cfg: ResolvedConfig, redisName: string): string {
  if (cfg.target === "docker") return `http://127.0.0.1:${cfg.commander.port}`;
  const ingress = cfg.commander.ingress;
  if (ingress) return `${ingress.tlsSecret ? "https" : "http"}://${ingress.host}`;
  return `http://${serviceHost(cfg, commanderObjectNames(redisName).service)}:${COMMANDER_CONTAINER_PORT}`;
}

/** Object and container names of the UIs, derived from the deployment's name. */
export function commanderObjectNames(redisName: string) {
  return {
    deployment: `${redisName}-commander`,
    service: `${redisName}-commander`,
    configMap: `${redisName}-commander-config`,
    secret: `${redisName}-commander-auth`,
    ingress: `${redisName}-commander`,
    insightDeployment: `${redisName}-insight`,
    insightService: `${redisName}-insight`,
  };
}

const COMPONENT = "commander";
const INSIGHT_COMPONENT = "insight";
/**
 * Pods with this label may reach the Redis nodes and sentinels (the NetworkPolicy admits them);
 * Commander's pod has it, RedisInsight's does not (it holds no credentials of the deployment).
 */
export const REDIS_CLIENT_LABEL = "lowcode.ton/redis-client";

function meta(cfg: ResolvedConfig, objectName: string, name: string, component: string) {
  return { name: objectName, namespace: cfg.kubernetes.namespace, labels: labels(name, component) };
}

const UI_POD_SECURITY = (uid: number) => ({
  runAsNonRoot: true,
  runAsUser: uid,
  runAsGroup: uid,
  fsGroup: uid,
  seccompProfile: { type: "RuntimeDefault" },
});

function httpProbe(path: string, port: string, periodSeconds: number) {
  return { httpGet: { path, port }, periodSeconds, timeoutSeconds: 3, failureThreshold: 3 };
}

function clusterService(
  cfg: ResolvedConfig,
  objectName: string,
  name: string,
  component: string,
  port: number,
): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(cfg, objectName, name, component),
    spec: {
      type: "ClusterIP",
      selector: selector(name, component),
      ports: [{ name: "http", port, targetPort: "http", protocol: "TCP" }],
    },
  };
}

/**
 * Commander on Kubernetes: the settings and launcher (ConfigMap), the secret files (a Secret the
 * component fills), a one-pod Deployment hardened like the Redis pods, a ClusterIP Service, and an
 * Ingress when `commanderIngressHost` is set.
 */
export function commanderObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  const n = commanderObjectNames(name);
  const files = commanderPlainFiles(cfg, commanderSite(cfg, name));
  const podLabels = { ...labels(name, COMPONENT), [REDIS_CLIENT_LABEL]: "true" };
  const objects: K8sObject[] = [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(cfg, n.configMap, name, COMPONENT),
      data: files,
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta(cfg, n.secret, name, COMPONENT),
      type: "Opaque",
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta(cfg, n.deployment, name, COMPONENT),
      spec: {
        replicas: 1,
        selector: { matchLabels: selector(name, COMPONENT) },
        template: {
          metadata: {
            labels: podLabels,
            annotations: { "lowcode.ton/config-sha256": sha256Hex(JSON.stringify(files)) },
          },
          spec: {
            securityContext: UI_POD_SECURITY(COMMANDER_UID),
            automountServiceAccountToken: false,
            ...podImagePullSecrets(cfg),
            containers: [
              {
                name: "commander",
                image: cfg.images.commander,
                // dumb-init forwards SIGTERM: Node.js as PID 1 would ignore it.
                command: [
                  "/usr/bin/dumb-init",
                  "--",
                  "node",
                  `${COMMANDER_LAYOUT.confDir}/${COMMANDER_FILES.launcher}`,
                ],
                ports: [{ name: "http", containerPort: COMMANDER_CONTAINER_PORT, protocol: "TCP" }],
                // The page a load balancer may fetch without signing in.
                readinessProbe: httpProbe("/healthcheck", "http", 10),
                livenessProbe: {
                  ...httpProbe("/healthcheck", "http", 20),
                  initialDelaySeconds: 10,
                },
                resources: {
                  requests: { cpu: "50m", memory: "128Mi" },
                  limits: { memory: "256Mi" },
                },
                securityContext: CONTAINER_SECURITY_CONTEXT,
                volumeMounts: [
                  { name: "conf", mountPath: COMMANDER_LAYOUT.confDir, readOnly: true },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              {
                name: "conf",
                projected: {
                  defaultMode: 0o400,
                  sources: [{ configMap: { name: n.configMap } }, { secret: { name: n.secret } }],
                },
              },
              { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
            ],
          },
        },
      },
    },
    clusterService(cfg, n.service, name, COMPONENT, COMMANDER_CONTAINER_PORT),
  ];
  const ingress = cfg.commander.ingress;
  if (ingress) {
    objects.push({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: {
        ...meta(cfg, n.ingress, name, COMPONENT),
        ...(Object.keys(ingress.annotations).length > 0
          ? { annotations: { ...ingress.annotations } }
          : {}),
      },
      spec: {
        ...(ingress.className ? { ingressClassName: ingress.className } : {}),
        ...(ingress.tlsSecret
          ? { tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecret }] }
          : {}),
        rules: [
          {
            host: ingress.host,
            http: {
              paths: [
                {
                  path: "/",
                  pathType: "Prefix",
                  backend: { service: { name: n.service, port: { name: "http" } } },
                },
              ],
            },
          },
        ],
      },
    });
  }
  return [...commanderNetworkPolicy(cfg, name), ...objects];
}

/**
 * RedisInsight: no sign-in page of its own, so reached through `kubectl port-forward` only (a
 * ClusterIP Service, no Ingress); its own database of connections on an in-memory volume.
 */
export function insightObjects(cfg: ResolvedConfig, name: string): K8sObject[] {
  const n = commanderObjectNames(name);
  return [
    ...insightNetworkPolicy(cfg, name),
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta(cfg, n.insightDeployment, name, INSIGHT_COMPONENT),
      spec: {
        replicas: 1,
        selector: { matchLabels: selector(name, INSIGHT_COMPONENT) },
        template: {
          metadata: { labels: labels(name, INSIGHT_COMPONENT) },
          spec: {
            securityContext: UI_POD_SECURITY(INSIGHT_UID),
            automountServiceAccountToken: false,
            ...podImagePullSecrets(cfg),
            containers: [
              {
                name: "insight",
                image: cfg.images.insight,
                env: [
                  { name: "RI_APP_HOST", value: "0.0.0.0" },
                  { name: "RI_APP_PORT", value: String(INSIGHT_CONTAINER_PORT) },
                ],
                ports: [{ name: "http", containerPort: INSIGHT_CONTAINER_PORT, protocol: "TCP" }],
                readinessProbe: httpProbe("/api/health", "http", 10),
                livenessProbe: { ...httpProbe("/api/health", "http", 20), initialDelaySeconds: 30 },
                resources: {
                  requests: { cpu: "50m", memory: "256Mi" },
                  limits: { memory: "512Mi" },
                },
                securityContext: CONTAINER_SECURITY_CONTEXT,
                volumeMounts: [
                  { name: "data", mountPath: "/data" },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "data", emptyDir: { sizeLimit: "256Mi" } },
              { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
            ],
          },
        },
      },
    },
    clusterService(cfg, n.insightService, name, INSIGHT_COMPONENT, INSIGHT_CONTAINER_PORT),
  ];
}
