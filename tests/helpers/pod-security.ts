/**
 * The Pod Security Standards' `restricted` profile (baseline included), as the Pod Security
 * Admission controller applies it to a pod spec: what a pod spec breaks of it, one line each.
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const RESTRICTED_VOLUME_TYPES = [
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
];
const SELINUX_TYPES = [
  "",
  "container_t",
  "container_init_t",
  "container_kvm_t",
  "container_engine_t",
];
const SECCOMP_ALLOWED = ["RuntimeDefault", "Localhost"];

/** The pod spec of a workload object, or undefined for other kinds. */
export function podSpecOf(object: Json): Json | undefined {
  switch (object.kind) {
    case "Pod":
      return object.spec;
    case "StatefulSet":
    case "Deployment":
    case "DaemonSet":
    case "ReplicaSet":
    case "Job":
      return object.spec.template.spec;
    case "CronJob":
      return object.spec.jobTemplate.spec.template.spec;
    default:
      return undefined;
  }
}

function containerViolations(pod: Json, c: Json): string[] {
  const sc: Json = c.securityContext ?? {};
  const podSc: Json = pod.securityContext ?? {};
  const v: string[] = [];
  const at = `container ${c.name}`;
  if (sc.privileged === true) v.push(`${at}: privileged`);
  if ((c.ports ?? []).some((p: Json) => p.hostPort)) v.push(`${at}: a hostPort`);
  if (sc.procMount !== undefined && sc.procMount !== "Default") v.push(`${at}: procMount`);
  if (sc.windowsOptions?.hostProcess === true) v.push(`${at}: hostProcess`);
  const selinux: Json = sc.seLinuxOptions ?? {};
  if (!SELINUX_TYPES.includes(selinux.type ?? "") || selinux.user || selinux.role)
    v.push(`${at}: seLinuxOptions`);
  if (sc.appArmorProfile && sc.appArmorProfile.type === "Unconfined") v.push(`${at}: AppArmor`);
  if (sc.allowPrivilegeEscalation !== false) v.push(`${at}: allowPrivilegeEscalation not false`);
  if (!(sc.capabilities?.drop ?? []).includes("ALL"))
    v.push(`${at}: capabilities not dropping ALL`);
  const added: string[] = sc.capabilities?.add ?? [];
  if (added.some((cap) => cap !== "NET_BIND_SERVICE")) v.push(`${at}: adds ${added.join(",")}`);
  const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
  if (nonRoot !== true) v.push(`${at}: runAsNonRoot not true`);
  if (sc.runAsUser === 0) v.push(`${at}: runAsUser 0`);
  const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
  if (!SECCOMP_ALLOWED.includes(seccomp)) v.push(`${at}: seccompProfile ${seccomp ?? "unset"}`);
  return v;
}

/** What a pod spec breaks of the `restricted` profile; [] when it meets it. */
export function restrictedViolations(pod: Json): string[] {
  const v: string[] = [];
  for (const field of ["hostNetwork", "hostPID", "hostIPC"])
    if (pod[field] === true) v.push(`pod: ${field}`);
  const podSc: Json = pod.securityContext ?? {};
  if (podSc.runAsUser === 0) v.push("pod: runAsUser 0");
  if ((podSc.sysctls ?? []).length > 0) v.push("pod: sysctls");
  if (podSc.seccompProfile && !SECCOMP_ALLOWED.includes(podSc.seccompProfile.type))
    v.push(`pod: seccompProfile ${podSc.seccompProfile.type}`);
  for (const volume of pod.volumes ?? []) {
    const type = Object.keys(volume).find((k) => k !== "name");
    if (!type || !RESTRICTED_VOLUME_TYPES.includes(type))
      v.push(`volume ${volume.name}: ${type ?? "no"} volume`);
  }
  const containers = [
    ...(pod.initContainers ?? []),
    ...(pod.containers ?? []),
    ...(pod.ephemeralContainers ?? []),
  ];
  if (containers.length === 0) v.push("pod: no containers");
  for (const c of containers) v.push(...containerViolations(pod, c));
  return v;
}
