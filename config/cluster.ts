import { Invalid, KeySpec, KeyValues, checked, namespaceList } from "./schemas";

/**
 * The keys of how the prod stack meets its cluster and its workflow: where the applications'
 * connection Secret goes, and whether the Kubernetes provider applies or only writes manifests.
 */

const RENDER_DIR_ALLOWED =
  'must be "" (apply to the cluster) or a folder of the project for the manifests, such as "manifests/prod": a relative path of letters, digits, ".", "_", "-" separated by "/", without empty, hidden (".git") or ".." segments';

/**
 * Why a manifests folder is refused, or undefined. The Kubernetes provider writes every object
 * there, Secrets in clear, so it stays inside the project: no absolute path, no way up, no
 * hidden folder (.git, .github), and no character a shell or a YAML tool would read specially.
 */
export function renderDirProblem(dir: string): string | undefined {
  if (dir === "") return undefined;
  if (dir.startsWith("/") || /^[A-Za-z]:/.test(dir))
    return `${RENDER_DIR_ALLOWED}; an absolute path would write the Secrets outside the project`;
  const segments = dir.split("/");
  if (segments.includes(".."))
    return `${RENDER_DIR_ALLOWED}; ".." would write the Secrets outside the project`;
  if (!/^[A-Za-z0-9._/-]+$/.test(dir)) return RENDER_DIR_ALLOWED;
  if (segments.some((s) => s === "" || s.startsWith(".") || s.startsWith("-")))
    return RENDER_DIR_ALLOWED;
  return undefined;
}

/**
 * Namespaces of Kubernetes itself (kube-system, kube-public, kube-node-lease and any other
 * kube-*): the applications' Secret, readable by whoever reads Secrets there, has no place in
 * them.
 */
export const systemNamespace = (name: string) => name.startsWith("kube-");

export const CLUSTER_KEYS = {
  appSecretNamespaces: {
    type: "array",
    description:
      "Kubernetes: the namespaces that get the applications' connection Secret <deployment>-connection (envFrom); unset = the stack's namespace, [] = none.",
    default: undefined,
    schema: namespaceList.superRefine((list, ctx) => {
      const system = list.find(systemNamespace);
      if (system)
        ctx.addIssue({
          code: "custom",
          message: `must not name ${system}, a namespace of Kubernetes itself: the connection Secret holds the app password and belongs with the applications`,
        });
    }),
  },
  renderYamlTo: {
    type: "string",
    description:
      'Kubernetes: write the manifests to this directory instead of applying them (GitOps; Secrets are written in clear); "" = apply.',
    default: "",
    schema: checked(RENDER_DIR_ALLOWED, renderDirProblem),
  },
} as const satisfies Record<string, KeySpec>;

export interface ClusterConfig {
  /** Namespaces of the applications' connection Secret. */
  readonly appSecretNamespaces: readonly string[];
  /** Directory (relative to the project) the Kubernetes provider writes manifests to; unset = apply. */
  readonly renderYamlTo?: string;
}

export function resolveCluster(
  values: KeyValues<typeof CLUSTER_KEYS>,
  context: {
    readonly target: "docker" | "kubernetes";
    readonly namespace: string;
    /** Whether the stack restores a backup (restoreFrom). */
    readonly restores: boolean;
  },
  invalid: Invalid,
): { cluster: ClusterConfig; problems: string[] } {
  const problems: string[] = [];
  const renderTo = values.renderYamlTo;
  const namespaces = values.appSecretNamespaces;
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
