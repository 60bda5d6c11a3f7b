import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { K8sObject } from "../../render/kubernetes";
import type { Files } from "../../render/files";
import { Pod, PodNetwork, PodNetworkError, run, tmpfsSource } from "./pod-network";

/**
 * A pod of a rendered StatefulSet, run the way a kubelet runs it, in a pod of a `PodNetwork`:
 * volumes laid out as kubelet lays them out (ConfigMap and Secret volumes with their `..data`
 * link and one link per key, mounted read-only, the Secret's on tmpfs; an in-memory emptyDir as
 * tmpfs with its size limit; the claim a directory of the sandbox, group-owned by `fsGroup`),
 * the init containers to completion, then the first container; every container as the pod's
 * `runAsUser`/`runAsGroup` with `fsGroup` as supplementary group, in a root of its own holding
 * only its volume mounts and an image-like userland: `/bin` is busybox and the Redis programs
 * (`PATH=/bin`, as the alpine image resolves every command), `/etc` the pod's hosts file and
 * users. Environment variables are the manifest's, with `status.podIP`, `metadata.name` and
 * `$(VAR)` references resolved as kubelet resolves them; probes and hooks run the manifest's
 * exec commands in the same container.
 */

type Json = Record<string, unknown>;

interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
}

interface Container {
  readonly name: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly env?: Array<{ name: string; value?: string; valueFrom?: Json }>;
  readonly volumeMounts?: VolumeMount[];
  readonly readinessProbe?: { exec?: { command: string[] } };
  readonly lifecycle?: { preStop?: { exec?: { command: string[] } } };
  readonly securityContext?: { readOnlyRootFilesystem?: boolean };
}

interface Volume {
  readonly name: string;
  readonly configMap?: { name: string; defaultMode?: number };
  readonly secret?: { secretName: string; defaultMode?: number };
  readonly emptyDir?: { medium?: string; sizeLimit?: string };
}

/** How to run a command in a container of the pod (an exec probe, a hook), and its env. */
export interface ContainerExec {
  /** argv prefix: enter the pod, change to the container's root and user, set its environment. */
  readonly prefix: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export interface RunnablePod {
  readonly pod: Pod;
  /** The pod's name, as the StatefulSet names it (`lowcode-redis-0`). */
  readonly podName: string;
  /** The first container: its full argv (prefix, command and args). */
  readonly main: readonly string[];
  readonly exec: ContainerExec;
  /** The manifest's readiness probe and pre-stop hook commands, when it has them. */
  readonly readiness?: readonly string[];
  readonly preStop?: readonly string[];
  /** Host paths of the pod's volumes by name (the emptyDir tmpfs, the claim…). */
  readonly volumes: Readonly<Record<string, string>>;
}

export interface PodSource {
  /** The StatefulSet, as rendered. */
  readonly statefulSet: K8sObject;
  readonly ordinal: number;
  /** Data of the ConfigMaps and Secrets the pod's volumes name. */
  readonly configMaps: Readonly<Record<string, Files>>;
  readonly secrets: Readonly<Record<string, Files>>;
  /** Host directory of each volume claim template (`data`, `state`). */
  readonly claims: Readonly<Record<string, string>>;
  /** Host directory for this pod's other volumes and container roots (created). */
  readonly podDir: string;
}

/** Kubelet's `$(VAR)` expansion: a known variable is replaced, `$$` escapes, anything else stays. */
export function expandReferences(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string) =>
    match === "$$" ? "$" : name in env ? env[name] : match,
  );
}

/** The container's environment as kubelet builds it: in order, each entry seeing those before. */
export function containerEnv(
  container: Container,
  pod: { readonly name: string; readonly ip: string },
): Record<string, string> {
  const env: Record<string, string> = { PATH: "/bin", HOSTNAME: pod.name };
  for (const entry of container.env ?? []) {
    const field = (entry.valueFrom?.fieldRef as { fieldPath?: string } | undefined)?.fieldPath;
    if (field === "status.podIP") env[entry.name] = pod.ip;
    else if (field === "metadata.name") env[entry.name] = pod.name;
    else if (entry.value !== undefined) env[entry.name] = expandReferences(entry.value, env);
    else
      throw new PodNetworkError(
        `env ${entry.name}: only values, status.podIP and metadata.name are supported`,
      );
  }
  return env;
}

/** A size limit like "1Mi" as a tmpfs size option. */
function tmpfsSize(limit: string | undefined): string {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(limit ?? "");
  if (!m) return "16m";
  return `${m[1]}${{ Ki: "k", Mi: "m", Gi: "g" }[m[2] as "Ki" | "Mi" | "Gi"] ?? ""}`;
}

/**
 * Kubelet's atomic writer: the files in a timestamped hidden directory, `..data` pointing at it,
 * and one link per key through `..data`. Mode as the volume's defaultMode, with group read for
 * fsGroup.
 */
export function writeAtomicVolume(dir: string, files: Files, mode: number, fsGroup: number): void {
  const stamp = `..${new Date().toISOString().replace(/[-:]/g, "_").replace("T", "_").replace("Z", "")}`;
  const data = path.join(dir, stamp);
  fs.mkdirSync(data, { recursive: true, mode: 0o755 });
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(data, name);
    fs.writeFileSync(file, content, { mode: mode | 0o040 });
    fs.chmodSync(file, mode | 0o040);
    fs.chownSync(file, 0, fsGroup);
    fs.symlinkSync(path.join("..data", name), path.join(dir, name));
  }
  fs.symlinkSync(stamp, path.join(dir, "..data"));
}

/** Makes a claim's directory the pod's, as kubelet does for fsGroup (OnRootMismatch). */
function ownClaim(dir: string, fsGroup: number): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o2770 });
  if (fs.statSync(dir).gid !== fsGroup) {
    const walk = (p: string) => {
      const st = fs.lstatSync(p);
      fs.lchownSync(p, st.uid, fsGroup);
      if (st.isDirectory()) {
        fs.chmodSync(p, (st.mode & 0o777) | 0o2070);
        for (const entry of fs.readdirSync(p)) walk(path.join(p, entry));
      } else if (!st.isSymbolicLink()) fs.chmodSync(p, (st.mode & 0o777) | 0o060);
    };
    walk(dir);
  }
  fs.chmodSync(dir, 0o2770);
}

/** Sets up a container's root inside the pod's mount namespace (root shell, see PodNetwork). */
const CONTAINER_ROOT_SCRIPT = `
set -eu
r="$1" etc="$2" hosts="$3" root_mode="$4"; shift 4
mount -t tmpfs -o mode=0755,size=8m lowcode-redis-root "$r"
cd "$r"
mkdir usr bin etc proc dev tmp
chmod 1777 tmp
mount --bind /usr usr
mount -o remount,bind,ro usr
for l in lib lib64 lib32 libx32 sbin; do
  if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$l"
  elif [ -d "/$l" ]; then mkdir "$l"; mount --bind "/$l" "$l"; mount -o remount,bind,ro "$l"; fi
done
busybox=$(command -v busybox)
for a in $(busybox --list); do ln -s "$busybox" "bin/$a"; done
for p in redis-server redis-sentinel redis-cli redis-check-rdb redis-check-aof; do
  ln -sf "$(command -v "$p")" "bin/$p"
done
cp -a "$etc"/. etc/
# The network's one hosts file, as cluster DNS: a pod that comes or goes changes it for everyone.
touch etc/hosts
mount --bind "$hosts" etc/hosts
for d in null zero random urandom; do touch "dev/$d"; mount --bind "/dev/$d" "dev/$d"; done
mount -t proc proc proc
while [ $# -ge 3 ]; do
  mkdir -p "$r$2"
  mount --bind "$1" "$r$2"
  [ "$3" = ro ] && mount -o remount,bind,ro "$r$2"
  shift 3
done
# readOnlyRootFilesystem: only the volumes are writable.
if [ "$root_mode" = ro ]; then mount -o remount,ro "$r"; fi
`;

/**
 * What a pod's /etc holds: its users, name lookups in files only (the network's hosts file is
 * mounted over /etc/hosts).
 */
function writeEtc(dir: string, uid: number, gid: number, podName: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const write = (name: string, content: string) =>
    fs.writeFileSync(path.join(dir, name), content, { mode: 0o644 });
  write("hostname", `${podName}\n`);
  write("passwd", `root:x:0:0:root:/root:/bin/sh\nredis:x:${uid}:${gid}:redis:/data:/bin/sh\n`);
  write("group", `root:x:0:\nredis:x:${gid}:redis\n`);
  // No DNS: a name the hosts file lacks does not resolve, and nothing leaves the subnet.
  write("nsswitch.conf", "hosts: files\npasswd: files\ngroup: files\n");
  write("resolv.conf", "");
  if (fs.existsSync("/etc/ld.so.cache"))
    fs.copyFileSync("/etc/ld.so.cache", path.join(dir, "ld.so.cache"));
}

/**
 * Prepares pod `source.ordinal` of the StatefulSet in `pod`: volumes, container roots, the init
 * containers run to completion (failing with their output). Returns how to run the first
 * container and exec into it.
 */
export function preparePod(network: PodNetwork, pod: Pod, source: PodSource): RunnablePod {
  const spec = (source.statefulSet.spec as Json).template as Json;
  const podSpec = spec.spec as Json;
  const security = (podSpec.securityContext ?? {}) as Json;
  const uid = Number(security.runAsUser ?? 0);
  const gid = Number(security.runAsGroup ?? uid);
  const fsGroup = Number(security.fsGroup ?? gid);
  const podName = `${source.statefulSet.metadata.name}-${source.ordinal}`;
  const target = { name: podName, ip: pod.ip };
  const init = (podSpec.initContainers ?? []) as Container[];
  const main = (podSpec.containers as Container[])[0];
  const containers = [...init, main];
  const volumes = new Map(((podSpec.volumes ?? []) as Volume[]).map((v) => [v.name, v]));
  const used = new Set(containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));

  // Volumes and roots are made anew on every start, as for a new pod; the claim lives elsewhere.
  fs.rmSync(source.podDir, { recursive: true, force: true });
  fs.mkdirSync(source.podDir, { recursive: true, mode: 0o700 });
  const hostPaths: Record<string, string> = {};
  for (const name of used) {
    const volume = volumes.get(name);
    if (source.claims[name] !== undefined) {
      ownClaim(source.claims[name], fsGroup);
      hostPaths[name] = source.claims[name];
      continue;
    }
    if (!volume) throw new PodNetworkError(`${podName}: no volume or claim ${name}`);
    const dir = path.join(source.podDir, "volumes", name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    hostPaths[name] = dir;
    if (volume.configMap) {
      const files = source.configMaps[volume.configMap.name];
      if (!files) throw new PodNetworkError(`${podName}: no ConfigMap ${volume.configMap.name}`);
      writeAtomicVolume(dir, files, volume.configMap.defaultMode ?? 0o644, fsGroup);
    } else if (volume.secret) {
      const files = source.secrets[volume.secret.secretName];
      if (!files) throw new PodNetworkError(`${podName}: no Secret ${volume.secret.secretName}`);
      // Kubelet keeps Secret volumes on tmpfs: nothing of them on a disk.
      run("mount", [
        "-t",
        "tmpfs",
        "-o",
        "mode=0755,size=1m",
        tmpfsSource(network.id, "secret"),
        dir,
      ]);
      writeAtomicVolume(dir, files, volume.secret.defaultMode ?? 0o644, fsGroup);
    } else if (volume.emptyDir) {
      const options = `mode=2777,gid=${fsGroup},size=${tmpfsSize(volume.emptyDir.sizeLimit)}`;
      if (volume.emptyDir.medium === "Memory")
        run("mount", ["-t", "tmpfs", "-o", options, tmpfsSource(network.id, "emptydir"), dir]);
      else {
        fs.chmodSync(dir, 0o2777);
        fs.chownSync(dir, 0, fsGroup);
      }
    } else throw new PodNetworkError(`${podName}: volume ${name} of an unsupported kind`);
  }

  // Only now: the pod's mount namespace is a copy of the host's mounts, these tmpfs included.
  network.pinMounts(pod);
  const etc = path.join(source.podDir, "etc");
  writeEtc(etc, uid, gid, podName);
  const rootOf = (c: Container) => {
    const root = path.join(source.podDir, "roots", c.name);
    fs.mkdirSync(root, { recursive: true, mode: 0o755 });
    const mounts = (c.volumeMounts ?? []).flatMap((m) => [
      hostPaths[m.name],
      m.mountPath,
      // ConfigMap and Secret volumes are always read-only.
      m.readOnly || volumes.get(m.name)?.configMap || volumes.get(m.name)?.secret ? "ro" : "rw",
    ]);
    const rootMode = c.securityContext?.readOnlyRootFilesystem ? "ro" : "rw";
    network.rootShell(pod, CONTAINER_ROOT_SCRIPT, [
      root,
      etc,
      network.hostsPath,
      rootMode,
      ...mounts,
    ]);
    return root;
  };
  const execIn = (c: Container, root: string): ContainerExec => {
    const env = containerEnv(c, target);
    return {
      env,
      prefix: [
        ...network.enter(pod),
        "chroot",
        `--userspec=${uid}:${gid}`,
        `--groups=${fsGroup}`,
        root,
        "/bin/env",
        "-i",
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ],
    };
  };
  const commandOf = (c: Container, env: Readonly<Record<string, string>>) =>
    [...(c.command ?? []), ...(c.args ?? [])].map((a) => expandReferences(a, env));

  for (const c of init) {
    const exec = execIn(c, rootOf(c));
    const result = spawnSync(exec.prefix[0], [...exec.prefix.slice(1), ...commandOf(c, exec.env)], {
      encoding: "utf8",
      timeout: 30_000,
    });
    if (result.status !== 0)
      throw new PodNetworkError(
        `${podName}: init container ${c.name} exited ${result.status ?? result.signal ?? result.error?.message}: ${(result.stderr || result.stdout || "").trim()}`,
      );
  }
  const exec = execIn(main, rootOf(main));
  return {
    pod,
    podName,
    main: [...exec.prefix, ...commandOf(main, exec.env)],
    exec,
    readiness: main.readinessProbe?.exec?.command,
    preStop: main.lifecycle?.preStop?.exec?.command,
    volumes: hostPaths,
  };
}

/**
 * Kubelet's part of deleting a pod once its containers stopped: unmounts its volumes on this host
 * (the Secret's and the emptyDir's tmpfs) and removes its directory. Claims live elsewhere: kept.
 */
export function removePodVolumes(podDir: string): void {
  const mounted = fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point) => point === podDir || point?.startsWith(`${podDir}/`))
    // Deepest first.
    .sort()
    .reverse();
  for (const point of mounted) run("umount", [point]);
  fs.rmSync(podDir, { recursive: true, force: true });
}
