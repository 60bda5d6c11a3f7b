import { Files, PasswordHash } from "../render/files";
import { K8sObject } from "../render/kubernetes";
import { SecretValues } from "../render/redis-conf";

/**
 * The secrets rendered files are made of. `npm run render` passes references (`{{secret:<key>}}`),
 * the Pulumi components the values of a secret Output, the sandbox the values it keeps in its dir.
 */
export interface PlanSecrets {
  readonly values: SecretValues;
  /** How users.acl and sentinel-secrets.conf hash a password. Default: SHA-256. */
  readonly hash?: PasswordHash;
  /** Commander's own: the bcrypt hash of its sign-in, its session-signing key. */
  readonly commander?: { readonly passwordHash: string; readonly sessionSecret: string };
}

/** Secret files as a function of the secrets: applied to references, Outputs or sandbox values. */
export type SecretFiles = (secrets: PlanSecrets) => Files;

/** The Pulumi component that creates a unit's resources (`stack`: the program itself). */
export type Owner = "stack" | "redis" | "backup" | "commander";

/** The rendered files of a process: plain ones, and secret ones as a function of the secrets. */
export interface FileSet {
  readonly plain: Files;
  readonly secret: SecretFiles;
  /** Where `npm run render` writes the plain files, and the secret ones. */
  readonly renderDir: string;
  readonly renderSecretDir: string;
}

/** One Kubernetes object of a unit, with what its resource needs beyond the object itself. */
export interface PlannedObject {
  readonly object: K8sObject;
  /** Pulumi resource name: kept stable, a new name deletes and creates the object again. */
  readonly resourceName: string;
  /** A Secret's data (the object itself has none). */
  readonly secretData?: SecretFiles;
  /** Data whose HMAC the pod template carries: a change rolls the pods. */
  readonly rollsWith?: SecretFiles;
  /** `pulumi destroy` leaves it (claims, the namespace: data outlives the stack). */
  readonly retainOnDelete?: boolean;
  /** Properties Kubernetes refuses to change: the object is deleted and created again. */
  readonly replaceOnChanges?: string[];
  /** Replaced by deleting it first: the new one takes the old one's name. */
  readonly deleteBeforeReplace?: boolean;
  /**
   * A server-side patch of an object that exists already, created by a workload planned before it
   * (a StatefulSet's claims): it holds only the fields it sets, and waits for those workloads.
   */
  readonly patchesExisting?: boolean;
  /** A workload: waits for the objects of its component planned before it (its config). */
  readonly waitsForEarlier?: boolean;
  /** Waits for the restore step that seeds the first node's data. */
  readonly afterRestore?: boolean;
  /** The restore step itself (a Job Pulumi waits for). */
  readonly restoreStep?: boolean;
}

/** A Docker volume a container mounts: created by the component, or an existing one by name. */
export type VolumeSource =
  | { readonly create: { readonly resourceName: string; readonly retainOnDelete?: boolean } }
  | { readonly existing: string }
  | { readonly hostPath: string };

export interface VolumeMount {
  readonly source: VolumeSource;
  readonly containerPath: string;
  readonly readOnly?: boolean;
}

/** A file uploaded into a container. */
export interface Upload {
  readonly file: string;
  readonly content: string;
  readonly owner: string;
  readonly group: string;
  readonly permissions: string;
}

/** Files uploaded into a container's `dir`, owned by `uid` with `permissions`; `extra` after them. */
export interface Uploads {
  readonly dir: string;
  readonly uid: number;
  readonly permissions: string;
  readonly files: FileSet;
  readonly extra?: readonly Upload[];
}

export interface Healthcheck {
  readonly tests: string[];
  readonly interval: string;
  readonly timeout: string;
  readonly retries: number;
  readonly startPeriod: string;
}

/**
 * Everything a Docker container of the deployment needs. Every container drops every capability
 * (adding back `addCapabilities`), runs with no-new-privileges and a memory limit: the component's
 * helper adds those.
 */
export interface ContainerSpec {
  /** Pulumi resource name, and the container's name. */
  readonly resourceName: string;
  readonly name: string;
  /** The image, pulled once per resource name in a component. */
  readonly image: { readonly resourceName: string; readonly name: string };
  readonly user: string;
  readonly entrypoints?: string[];
  readonly command?: string[];
  readonly env?: Record<string, string>;
  readonly uploads?: Uploads;
  /** On the deployment's network (alias and fixed address when given), or none at all. */
  readonly network: { readonly alias?: string; readonly address?: string } | "none";
  /** Container ports published on 127.0.0.1 of the host. */
  readonly publish?: { readonly internal: number; readonly external: number };
  readonly volumes: readonly VolumeMount[];
  readonly healthcheck?: Healthcheck;
  /** `pulumi up` waits until the health check passes. */
  readonly waitHealthy?: boolean;
  /** Memory limit in MiB (the provider's "MB"). */
  readonly memoryMb: number;
  readonly readOnlyRoot?: boolean;
  readonly tmpfs?: Record<string, string>;
  readonly addCapabilities?: string[];
  /** A one-shot step: runs once, its output attached; `failure` words a non-zero exit. */
  readonly runOnce?: { readonly failure: (exitCode: number) => string };
  /** Waits for the restore step (the first node); for the Redis component (Commander). */
  readonly afterRestore?: boolean;
  readonly afterRedis?: boolean;
  /** The restore step itself: the first node waits for it. */
  readonly restoreStep?: boolean;
}

/** A process the sandbox runs in place of a container or a pod. */
export interface ProcessSpec {
  /** Sandbox name: redis-0, sentinel-1, commander. */
  readonly name: string;
  readonly kind: "redis" | "sentinel" | "commander";
  readonly ordinal: number;
  /** The port it listens on as deployed (the sandbox shifts it on loopback). */
  readonly port: number;
  /** Its rendered files (Commander's are prepared by the sandbox's own launcher). */
  readonly files?: FileSet;
  /** The start script among its files. */
  readonly script?: string;
}

/** A part of the deployment: everything each consumer needs to create, render or run it. */
export interface Unit {
  readonly name: string;
  readonly owner: Owner;
  readonly files: readonly FileSet[];
  /** Files only `npm run render` writes, by path in its output. */
  readonly artifacts?: Files;
  readonly objects: readonly PlannedObject[];
  readonly containers: readonly ContainerSpec[];
  readonly processes: readonly ProcessSpec[];
}

/** Every unit of a deployment, in apply order. */
export interface DeploymentPlan {
  readonly units: readonly Unit[];
}
