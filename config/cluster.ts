import { KeySpec, checked, namespaceList } from "./schemas";

/**
 * The keys of how the prod stack meets its cluster and its workflow: where the applications'
 * connection Secret goes, and whether the Kubernetes provider applies or only writes manifests.
 */

const RENDER_DIR_ALLOWED =
  'must be "" (apply to the cluster) or a directory path for the manifests, such as "manifests/prod" (no line breaks)';

export const CLUSTER_KEYS = {
  appSecretNamespaces: {
    type: "array",
    description:
      "Kubernetes: the namespaces that get the applications' connection Secret <deployment>-connection (envFrom); unset = the stack's namespace, [] = none.",
    default: undefined,
    schema: namespaceList,
  },
  renderYamlTo: {
    type: "string",
    description:
      'Kubernetes: write the manifests to this directory instead of applying them (GitOps; Secrets are written in clear); "" = apply.',
    default: "",
    schema: checked(RENDER_DIR_ALLOWED, (v) =>
      /[\u0000-\u001f\u007f]/.test(v) || v.trim() !== v ? RENDER_DIR_ALLOWED : undefined,
    ),
  },
} satisfies Record<string, KeySpec>;

export interface ClusterConfig {
  /** Namespaces of the applications' connection Secret. */
  readonly appSecretNamespaces: readonly string[];
  /** Directory (relative to the project) the Kubernetes provider writes manifests to; unset = apply. */
  readonly renderYamlTo?: string;
}

type ClusterValues = { readonly [K in keyof typeof CLUSTER_KEYS]: unknown };

export function resolveCluster(
  values: ClusterValues,
  context: {
    readonly target: "docker" | "kubernetes";
    readonly namespace: string;
    /** Whether the stack restores a backup (restoreFrom). */
    readonly restores: boolean;
  },
  invalid: (key: string, value: unknown, allowed: string) => string,
): { cluster: ClusterConfig; problems: string[] } {
  const problems: string[] = [];
  const v = values as Record<keyof typeof CLUSTER_KEYS, never>;
  const renderTo = v.renderYamlTo as string;
  const namespaces = v.appSecretNamespaces as string[] | undefined;
  if (context.target !== "kubernetes") {
    const only = `is for the Kubernetes target only; this stack's target is ${context.target}`;
    if (renderTo !== "") problems.push(invalid("renderYamlTo", renderTo, only));
    if (namespaces !== undefined && namespaces.length > 0)
      problems.push(
        invalid(
          "appSecretNamespaces",
          namespaces,
          `${only} (applications on the Docker network read the stack output connection)`,
        ),
      );
  }
  if (renderTo !== "" && context.restores)
    problems.push(
      invalid(
        "renderYamlTo",
        renderTo,
        "cannot be combined with lowcode-redis:restoreFrom: the restore Job must complete before the Redis nodes start, an order Pulumi keeps when it applies, not when it writes files (restore, then render)",
      ),
    );
  return {
    cluster: {
      appSecretNamespaces:
        context.target === "kubernetes" ? (namespaces ?? [context.namespace]) : [],
      renderYamlTo: renderTo === "" ? undefined : renderTo,
    },
    problems,
  };
}
