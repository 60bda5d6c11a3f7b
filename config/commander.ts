import { isIP } from "node:net";
import { z } from "zod";
import {
  DNS_SUBDOMAIN,
  Invalid,
  KeySpec,
  KeyValues,
  annotationsProblem,
  bool,
  checked,
  int,
  parseAnnotations,
  password,
} from "./schemas";

/**
 * The keys of the CommanderUI component (Redis Commander, and RedisInsight on request), and what
 * they resolve to.
 */

const USER_ALLOWED =
  'must be 1 to 64 letters, digits, ".", "_" or "-" (the login name of Commander\'s sign-in page)';
/** A host name an Ingress accepts: dot-separated DNS-1123 labels, not an IP address, no wildcard. */
const INGRESS_HOST =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$/;
const INGRESS_HOST_ALLOWED =
  '"" (no Ingress) or a fully qualified host name of lowercase DNS labels such as "redis-commander.example.com" (no IP address, no wildcard)';
const SECRET_NAME = DNS_SUBDOMAIN;
const TLS_SECRET_ALLOWED =
  '"" (plain HTTP behind the Ingress) or the name of a kubernetes.io/tls Secret in the namespace: lowercase letters, digits, "-" and ".", at most 253';

const INGRESS_CLASS_ALLOWED =
  '"" (the cluster\'s default IngressClass) or the name of an IngressClass: dot-separated DNS-1123 labels (lowercase letters, digits, "-"), at most 253 characters, e.g. "nginx"';
const ANNOTATIONS_ALLOWED =
  'must be a list of "key=value" annotations, each key once, e.g. ["cert-manager.io/cluster-issuer=letsencrypt"] (a key: an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_", "."; the value: any text after the first "=")';
/** A list of "key=value" annotations, as Pulumi config holds lists of strings. */
const annotationList = z
  .array(z.string({ error: ANNOTATIONS_ALLOWED }), { error: ANNOTATIONS_ALLOWED })
  .superRefine((list, ctx) => {
    const problem = annotationsProblem(list, ANNOTATIONS_ALLOWED);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const COMMANDER_KEYS = {
  commanderEnabled: {
    type: "boolean",
    description: "Redis Commander, the web UI for the platform's databases (CommanderUI).",
    default: true,
    schema: bool,
  },
  commanderPort: {
    type: "integer",
    description: "Docker: the port Redis Commander is published on, on 127.0.0.1 of the host.",
    default: 8081,
    schema: int(1024, 65535),
  },
  commanderUser: {
    type: "string",
    description: "The login name of Redis Commander's sign-in page.",
    default: "admin",
    schema: checked(USER_ALLOWED, (v) =>
      /^[A-Za-z0-9._-]{1,64}$/.test(v) ? undefined : USER_ALLOWED,
    ),
  },
  commanderPassword: {
    type: "string",
    description:
      "The password of Redis Commander's sign-in page (--secret); generated when unset. Commander gets only its bcrypt hash.",
    default: undefined,
    schema: password,
    secret: true,
  },
  commanderReadOnly: {
    type: "boolean",
    description:
      "Commander and its Redis user may only read; unset = profile default (dev false, production true).",
    default: undefined,
    schema: bool,
  },
  commanderIngressHost: {
    type: "string",
    description: 'Kubernetes: the host name of an Ingress to Commander; "" = no Ingress.',
    default: "",
    schema: checked(`must be ${INGRESS_HOST_ALLOWED}`, (v) =>
      v === "" || (INGRESS_HOST.test(v) && isIP(v) === 0)
        ? undefined
        : `must be ${INGRESS_HOST_ALLOWED}`,
    ),
  },
  commanderIngressTlsSecret: {
    type: "string",
    description:
      'Kubernetes: the TLS Secret of the Ingress (commanderIngressHost); "" = no TLS section.',
    default: "",
    schema: checked(`must be ${TLS_SECRET_ALLOWED}`, (v) =>
      v === "" || SECRET_NAME.test(v) ? undefined : `must be ${TLS_SECRET_ALLOWED}`,
    ),
  },
  commanderIngressClassName: {
    type: "string",
    description:
      'Kubernetes: the IngressClass of the Ingress (commanderIngressHost); "" = the cluster\'s default class.',
    default: "",
    schema: checked(`must be ${INGRESS_CLASS_ALLOWED}`, (v) =>
      v === "" || SECRET_NAME.test(v) ? undefined : `must be ${INGRESS_CLASS_ALLOWED}`,
    ),
  },
  commanderIngressAnnotations: {
    type: "array",
    description:
      'Kubernetes: annotations of the Ingress (commanderIngressHost) as "key=value", e.g. for cert-manager or an auth proxy.',
    default: [],
    schema: annotationList,
  },
  insightEnabled: {
    type: "boolean",
    description:
      "RedisInsight beside Commander (it has no sign-in page: 127.0.0.1 on Docker, ClusterIP on Kubernetes).",
    default: false,
    schema: bool,
  },
  insightPort: {
    type: "integer",
    description: "Docker: the port RedisInsight is published on, on 127.0.0.1 of the host.",
    default: 8082,
    schema: int(1024, 65535),
  },
} as const satisfies Record<string, KeySpec>;

/** What the CommanderUI component works from. */
export interface CommanderConfig {
  readonly enabled: boolean;
  /** Docker: host port on 127.0.0.1. The sandbox shifts it as far as --base-port shifts the nodes. */
  readonly port: number;
  readonly username: string;
  /** Commander's read-only mode and a read-only Redis user. */
  readonly readOnly: boolean;
  /** Kubernetes: an Ingress to the Service. */
  readonly ingress?: {
    readonly host: string;
    readonly tlsSecret: string;
    /** "" = the cluster's default IngressClass. */
    readonly className: string;
    readonly annotations: Readonly<Record<string, string>>;
  };
  readonly insight: { readonly enabled: boolean; readonly port: number };
}

/** Cross-key rules of the Commander keys, once each has passed its schema. */
export function resolveCommander(
  values: KeyValues<typeof COMMANDER_KEYS>,
  context: {
    readonly target: "docker" | "kubernetes";
    readonly profileReadOnly: boolean;
    readonly profile: string;
    /** Docker: host ports the Redis nodes and sentinels are published on. */
    readonly publishedPorts: ReadonlyMap<number, string>;
    readonly supplied: ReadonlySet<string>;
  },
  invalid: Invalid,
): { commander: CommanderConfig; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const v = values;
  const enabled = v.commanderEnabled;
  const insight = { enabled: v.insightEnabled, port: v.insightPort };
  const readOnly = v.commanderReadOnly ?? context.profileReadOnly;
  const host = v.commanderIngressHost;
  const tlsSecret = v.commanderIngressTlsSecret;
  const className = v.commanderIngressClassName;
  const annotations = v.commanderIngressAnnotations;

  if (!enabled && context.supplied.has("commanderPassword"))
    problems.push(
      "Invalid lowcode-redis:commanderPassword (secret value not shown): used only by Redis Commander, and lowcode-redis:commanderEnabled is false.",
    );
  const ingressKeys: [key: string, value: unknown, set: boolean][] = [
    ["commanderIngressTlsSecret", tlsSecret, tlsSecret !== ""],
    ["commanderIngressClassName", className, className !== ""],
    ["commanderIngressAnnotations", annotations, annotations.length > 0],
  ];
  if (context.target !== "kubernetes") {
    const hostKey: [string, unknown, boolean] = ["commanderIngressHost", host, host !== ""];
    for (const [key, value, set] of [hostKey, ...ingressKeys])
      if (set)
        problems.push(
          invalid(
            key,
            value,
            `is for the Kubernetes target only; this stack's target is ${context.target} (Commander is published on 127.0.0.1:commanderPort)`,
          ),
        );
  } else if (host === "") {
    for (const [key, value, set] of ingressKeys)
      if (set)
        problems.push(
          invalid(
            key,
            value,
            `needs lowcode-redis:commanderIngressHost: without a host there is no Ingress to ${key === "commanderIngressTlsSecret" ? "secure" : "apply it to"} (set the host, or leave this unset)`,
          ),
        );
  }
  if (context.target === "kubernetes" && enabled && host !== "" && tlsSecret === "") {
    const clear =
      "the Ingress would serve Commander's sign-in page over plain HTTP, and the password would cross the network in clear";
    if (context.profile === "production")
      problems.push(
        invalid(
          "commanderIngressHost",
          host,
          `needs lowcode-redis:commanderIngressTlsSecret on the production profile: ${clear}`,
        ),
      );
    else
      warnings.push(
        `lowcode-redis:commanderIngressHost "${host}" has no commanderIngressTlsSecret: ${clear}.`,
      );
  }
  if (context.target === "docker") {
    // Each published port once: Commander, RedisInsight, the nodes and the sentinels.
    const taken = new Map(context.publishedPorts);
    const claim = (key: string, port: number, what: string) => {
      const holder = taken.get(port);
      if (holder) problems.push(invalid(key, port, `is already published for ${holder}`));
      else taken.set(port, what);
    };
    if (enabled) claim("commanderPort", v.commanderPort, "Redis Commander");
    if (insight.enabled) claim("insightPort", insight.port, "RedisInsight");
  }
  if (enabled && !readOnly && context.profile === "production")
    warnings.push(
      "lowcode-redis:commanderReadOnly is false on the production profile: whoever signs in to Redis Commander can change and delete the platform's data.",
    );
  return {
    commander: {
      enabled,
      port: v.commanderPort,
      username: v.commanderUser,
      readOnly,
      ingress:
        enabled && host !== ""
          ? { host, tlsSecret, className, annotations: parseAnnotations(annotations) }
          : undefined,
      insight,
    },
    problems,
    warnings,
  };
}
