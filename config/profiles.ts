/** A profile is data: the security and safety settings it implies, looked up, never branched on ad hoc. */
export type Profile = "dev" | "production";

export interface ProfileSettings {
  /** `bind` when the stack config leaves it empty. */
  readonly bind: readonly string[];
  /** Production adds the node's own address (pod IP, container address) to `bind` at start. */
  readonly bindNodeAddress: boolean;
  readonly protectedMode: boolean;
  /**
   * dev: one `default` user with `requirepass`. production: ACL users (app, admin, probe) from an
   * ACL file; `default` is off.
   */
  readonly aclUsers: boolean;
  /** Disable FLUSHALL/FLUSHDB and rename CONFIG to a secret name. */
  readonly renameDangerousCommands: boolean;
  /** min-replicas-to-write of a sentinel group when the stack config leaves it at -1. */
  readonly minReplicasToWrite: number;
  /** Redis Commander only reads (its read-only mode and a read-only Redis user). */
  readonly commanderReadOnly: boolean;
  /** Kubernetes: NetworkPolicies deny the pods' traffic but what they need. */
  readonly networkPolicy: boolean;
}

export const PROFILES: Readonly<Record<Profile, ProfileSettings>> = {
  dev: {
    bind: ["0.0.0.0"],
    bindNodeAddress: false,
    protectedMode: true,
    aclUsers: false,
    renameDangerousCommands: false,
    minReplicasToWrite: 0,
    commanderReadOnly: false,
    networkPolicy: false,
  },
  production: {
    bind: ["127.0.0.1"],
    bindNodeAddress: true,
    protectedMode: true,
    aclUsers: true,
    renameDangerousCommands: true,
    minReplicasToWrite: 1,
    commanderReadOnly: true,
    networkPolicy: true,
  },
};
