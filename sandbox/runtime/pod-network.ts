import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The network of a pods-mode sandbox: a bridge on a private /24 that the sandbox picks, and one
 * network namespace per pod, joined to the bridge by a veth pair, with no route beyond the subnet
 * (no default route, names from a hosts file only). The host reaches every pod through the
 * bridge's address. Each pod also has a mount namespace of its own, pinned to a file so that its
 * containers, probes and hooks enter the same mounts (`nsenter --mount`), as a pod's containers
 * share its volumes.
 *
 * Everything is named after a random id (namespaces `lcr-<id>-<pod>`, links `lcr<id>…`, mounts under
 * `/run/lowcode-redis/<id>` and the sandbox dir), and a janitor process removes it all when the
 * sandbox stops or dies: it waits for the end of a pipe only the sandbox holds.
 */

/** Where the pods' mount namespaces are pinned: one directory per network. */
const PIN_ROOT = "/run/lowcode-redis";
/** The first pod's host number in the subnet; .1 is the bridge (the host). */
const FIRST_POD_HOST = 10;

export interface Pod {
  /** The sandbox's name of the pod: `redis-0`, `sentinel-1`, `client-0`… */
  readonly name: string;
  readonly ip: string;
  /** Names every pod resolves to this pod's address (its stable DNS name). */
  readonly hostnames: readonly string[];
  /** The named network namespace (`ip netns`), and its file. */
  readonly netns: string;
  readonly netnsPath: string;
  /** The file the pod's mount namespace is pinned to. */
  readonly mountNs: string;
}

export class PodNetworkError extends Error {}

/** Runs a command as root; fails with its output. */
export function run(command: string, args: readonly string[], input?: string): string {
  const result = spawnSync(command, [...args], {
    encoding: "utf8",
    input,
    timeout: 30_000,
  });
  if (result.error)
    throw new PodNetworkError(`${command} ${args.join(" ")}: ${result.error.message}`);
  if (result.status !== 0)
    throw new PodNetworkError(
      `${command} ${args.join(" ")} exited ${result.status ?? result.signal}: ${(result.stderr || result.stdout).trim()}`,
    );
  return result.stdout;
}

/** Why pods mode cannot run here, or undefined when it can (root, `ip`, `nsenter`, `unshare`). */
export function podsUnsupported(): string | undefined {
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return "--isolation pods needs root (it creates network namespaces, links and mounts); run it as root, or use the default --isolation loopback";
  for (const tool of ["ip", "nsenter", "unshare", "chroot", "busybox"]) {
    const found = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" });
    if (found.status !== 0)
      return `--isolation pods needs ${tool} in PATH (Debian: apt-get install -y iproute2 util-linux coreutils busybox-static)`;
  }
  return undefined;
}

/** IPv4 dotted quad -> number. */
const toNumber = (ip: string) =>
  ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0) >>> 0;

/** Every IPv4 network this host already has an address or a route in, as [first, last]. */
function usedRanges(): Array<[number, number]> {
  const text = `${run("ip", ["-4", "-o", "addr", "show"])}\n${run("ip", ["-4", "route", "show", "table", "all"])}`;
  const ranges: Array<[number, number]> = [];
  for (const [, ip, bits] of text.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)) {
    const prefix = bits === undefined ? 32 : Number(bits);
    const size = 2 ** (32 - prefix);
    const first = Math.floor(toNumber(ip) / size) * size;
    ranges.push([first, first + size - 1]);
  }
  return ranges;
}

/**
 * A /24 in 10.200.0.0-10.254.255.0 that overlaps no address or route of this host (another
 * sandbox's bridge included), chosen at random.
 */
export function chooseSubnet(
  used: ReadonlyArray<[number, number]> = usedRanges(),
  random: () => number = Math.random,
): string {
  for (let attempt = 0; attempt < 200; attempt++) {
    const second = 200 + Math.floor(random() * 55);
    const third = Math.floor(random() * 256);
    const first = toNumber(`10.${second}.${third}.0`);
    const last = first + 255;
    if (used.every(([a, b]) => b < first || a > last)) return `10.${second}.${third}`;
  }
  throw new PodNetworkError("no free /24 in 10.200.0.0/16-10.254.255.0/24 for the pods' bridge");
}

/**
 * A network id no namespace, link or pinned mount of this machine uses yet: the cleanup removes
 * everything named after the id, so it must be nobody else's.
 */
function freeId(): string {
  const namespaces = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  const links = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout ?? "";
  for (let attempt = 0; attempt < 100; attempt++) {
    const id = randomBytes(3).toString("hex");
    if (
      !namespaces.includes(`lcr-${id}-`) &&
      !links.includes(`lcr${id}`) &&
      !fs.existsSync(path.join(PIN_ROOT, id))
    )
      return id;
  }
  throw new PodNetworkError("no free network id");
}

/**
 * The janitor's cleanup, POSIX sh: kills every process in the network's namespaces, unmounts the
 * pinned mount namespaces and every mount under the sandbox dir's pod volumes, deletes the
 * namespaces and the bridge, and waits until the links are gone. Safe to run twice.
 */
export const CLEANUP_SCRIPT = fs.readFileSync(path.join(__dirname, "cleanup.sh"), "utf8");

export class PodNetwork {
  readonly pods = new Map<string, Pod>();
  /**
   * The hosts file every pod's containers see as /etc/hosts (a bind mount of this one file, as
   * cluster DNS is one for all): rewritten in place whenever a pod comes or goes.
   */
  readonly hostsPath: string;
  private readonly janitor: ChildProcess;
  private destroyed?: Promise<void>;
  /** The host number of the next pod: a recreated pod gets a new address, as in a cluster. */
  private nextHost = FIRST_POD_HOST;

  private constructor(
    /** The random id every name of this network carries. */
    readonly id: string,
    /** The subnet's first three octets: "10.213.7". */
    readonly subnet: string,
    readonly pinDir: string,
    volumesDir: string,
    janitorLog: string,
  ) {
    this.hostsPath = path.join(volumesDir, "hosts");
    // The janitor holds the other end of a pipe: when the sandbox exits, however it exits, the
    // read ends and the cleanup runs. Its own session, so a Ctrl-C of the sandbox spares it.
    const log = fs.openSync(janitorLog, "a", 0o600);
    try {
      this.janitor = spawn(
        "sh",
        // $0 is the cleanup script, $@ its arguments.
        ["-c", 'read _ignored; exec sh -c "$0" cleanup "$@"', CLEANUP_SCRIPT, id, pinDir],
        { stdio: ["pipe", log, log], detached: true },
      );
    } finally {
      fs.closeSync(log);
    }
    this.janitor.unref();
    (this.janitor.stdin as unknown as { unref?: () => void }).unref?.();
  }

  /** Creates the bridge (the host's address `<subnet>.1`) and the janitor. */
  static create(volumesDir: string, logFile: string): PodNetwork {
    const unsupported = podsUnsupported();
    if (unsupported) throw new PodNetworkError(unsupported);
    const id = freeId();
    const subnet = chooseSubnet();
    const pinDir = path.join(PIN_ROOT, id);
    fs.mkdirSync(volumesDir, { recursive: true, mode: 0o700 });
    const network = new PodNetwork(id, subnet, pinDir, volumesDir, logFile);
    try {
      network.writeHosts();
      fs.mkdirSync(pinDir, { recursive: true, mode: 0o700 });
      // A mount namespace can be pinned only on a mount that does not propagate.
      run("mount", ["--bind", pinDir, pinDir]);
      run("mount", ["--make-private", pinDir]);
      // The bridge lives in a namespace of its own: pod-to-pod traffic never meets this host's
      // firewall (with br_netfilter, a host's FORWARD policy, Docker's DROP, would see it). This
      // host joins it through one veth pair, its end `lcr<id>` holding the host's address.
      const sw = network.switchNetns;
      run("ip", ["netns", "add", sw]);
      run("ip", ["-n", sw, "link", "add", "br0", "type", "bridge"]);
      run("ip", ["-n", sw, "link", "set", "br0", "up"]);
      run("ip", [
        "link",
        "add",
        network.uplink,
        "type",
        "veth",
        "peer",
        "name",
        "uplink",
        "netns",
        sw,
      ]);
      run("ip", ["-n", sw, "link", "set", "uplink", "master", "br0", "up"]);
      run("ip", ["addr", "add", `${network.hostAddress}/24`, "dev", network.uplink]);
      run("ip", ["link", "set", network.uplink, "up"]);
    } catch (err) {
      void network.destroy();
      throw err;
    }
    return network;
  }

  /** This host's link to the pods' bridge. */
  get uplink(): string {
    return `lcr${this.id}`;
  }

  /** The namespace of the bridge (`br0`) the pods are joined to. */
  get switchNetns(): string {
    return `lcr-${this.id}-switch`;
  }

  /** The host's address on the bridge. */
  get hostAddress(): string {
    return `${this.subnet}.1`;
  }

  /**
   * A pod: its network namespace with `eth0` at the next address of the subnet and `lo`, no other
   * route; strict reverse-path filtering (a partition's drop rule relies on it).
   */
  addPod(name: string, hostnames: readonly string[]): Pod {
    if (this.pods.has(name)) throw new PodNetworkError(`pod ${name} exists already`);
    if (this.nextHost > 254)
      throw new PodNetworkError(`no address left in ${this.subnet}.0/24 for pod ${name}`);
    const host = this.nextHost++;
    const ip = `${this.subnet}.${host}`;
    const netns = `lcr-${this.id}-${name}`;
    const port = this.switchPort(ip);
    const pod: Pod = {
      name,
      ip,
      hostnames,
      netns,
      netnsPath: `/run/netns/${netns}`,
      mountNs: path.join(this.pinDir, `${name}.mnt`),
    };
    this.pods.set(name, pod);
    run("ip", ["netns", "add", netns]);
    const sw = this.switchNetns;
    run("ip", [
      "-n",
      sw,
      "link",
      "add",
      port,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      netns,
    ]);
    run("ip", ["-n", sw, "link", "set", port, "master", "br0", "up"]);
    const inPod = (...args: string[]) => run("ip", ["-n", netns, ...args]);
    inPod("link", "set", "lo", "up");
    inPod("addr", "add", `${ip}/24`, "dev", "eth0");
    inPod("link", "set", "eth0", "up");
    // The partition's sink: a veth pair inside the pod. Traffic routed to `sink0` leaves and is
    // dropped at `sink1` (its MAC is nobody's): a cut link is silent, as a real partition is.
    inPod("link", "add", "sink0", "type", "veth", "peer", "name", "sink1");
    inPod("link", "set", "sink0", "up");
    inPod("link", "set", "sink1", "up");
    run("ip", [
      "netns",
      "exec",
      netns,
      "sh",
      "-c",
      "echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter && echo 1 > /proc/sys/net/ipv4/conf/eth0/rp_filter",
    ]);
    this.writeHosts();
    return pod;
  }

  /** The pod's end of its veth pair in the bridge's namespace, named after its address. */
  private switchPort(ip: string): string {
    return `pod${ip.split(".")[3]}`;
  }

  /**
   * Deletes a pod, as kubelet tears a pod's sandbox down once its containers have stopped: kills
   * what still runs in its network namespace, releases its pinned mount namespace, deletes the
   * namespace and its link, and takes its names out of the hosts file (they stop resolving).
   */
  removePod(name: string): void {
    const pod = this.get(name);
    const pids = spawnSync("ip", ["netns", "pids", pod.netns], { encoding: "utf8" }).stdout ?? "";
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone already
      }
    }
    spawnSync("umount", [pod.mountNs]);
    fs.rmSync(pod.mountNs, { force: true });
    run("ip", ["-n", this.switchNetns, "link", "del", this.switchPort(pod.ip)]);
    run("ip", ["netns", "del", pod.netns]);
    this.pods.delete(name);
    this.writeHosts();
  }

  /** Rewrites the shared hosts file in place: every bind mount of it sees the new content. */
  private writeHosts(): void {
    fs.writeFileSync(this.hostsPath, this.hostsFile(), { mode: 0o644 });
  }

  /**
   * Creates the pod's mount namespace, a copy of the host's mounts at this moment (mount the
   * pod's host-side volumes first), pinned to a file: nothing mounted in it reaches the host.
   */
  pinMounts(pod: Pod): void {
    fs.writeFileSync(pod.mountNs, "");
    run("unshare", [`--mount=${pod.mountNs}`, "--propagation", "private", "true"]);
    // Its copies of the named namespaces and pinned mount namespaces (this network's and any
    // other's) would keep them alive after their owner deleted them: the pod needs none.
    run("nsenter", [
      `--mount=${pod.mountNs}`,
      "--",
      "sh",
      "-c",
      "umount -R /run/netns 2>/dev/null; umount -R /run/lowcode-redis 2>/dev/null; :",
    ]);
  }

  get(name: string): Pod {
    const pod = this.pods.get(name);
    if (!pod) throw new PodNetworkError(`no pod ${name}`);
    return pod;
  }

  /** The hosts file every pod gets: each pod's address under its names. */
  hostsFile(): string {
    return [
      "127.0.0.1 localhost",
      "::1 localhost ip6-localhost ip6-loopback",
      ...[...this.pods.values()]
        .filter((p) => p.hostnames.length > 0)
        .map((p) => `${p.ip} ${p.hostnames.join(" ")}`),
      "",
    ].join("\n");
  }

  /** Runs a shell script as root inside the pod's network and mount namespaces. */
  rootShell(pod: Pod, script: string, args: readonly string[] = []): string {
    return run("nsenter", [
      `--net=${pod.netnsPath}`,
      `--mount=${pod.mountNs}`,
      "--",
      "sh",
      "-c",
      script,
      "pod",
      ...args,
    ]);
  }

  /** The argv prefix that runs a program inside the pod's network and mount namespaces. */
  enter(pod: Pod): string[] {
    return ["nsenter", `--net=${pod.netnsPath}`, `--mount=${pod.mountNs}`, "--"];
  }

  /**
   * Removes everything (through the janitor, which runs the cleanup once its pipe closes) and
   * resolves when it is gone. Processes still running in the pods are killed.
   */
  destroy(): Promise<void> {
    this.destroyed ??= new Promise<void>((resolve) => {
      if (this.janitor.exitCode !== null || this.janitor.signalCode !== null) {
        spawnSync("sh", ["-c", CLEANUP_SCRIPT, "cleanup", this.id, this.pinDir]);
        resolve();
        return;
      }
      this.janitor.once("exit", () => resolve());
      // Waited for now: unreferenced, a process with nothing else left to do would exit before
      // the cleanup ends, and its stop (processes.json, the lock) would never finish.
      this.janitor.ref();
      this.janitor.stdin?.end();
    });
    return this.destroyed;
  }
}

/** What of network `id` remains: namespaces, links, mounts (pinned namespaces, tmpfs volumes). */
export function leftovers(id: string): string[] {
  const found: string[] = [];
  const namespaces = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  for (const line of namespaces.split("\n"))
    if (line.startsWith(`lcr-${id}-`)) found.push(`netns ${line.split(" ")[0]}`);
  const links = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout ?? "";
  for (const [, link] of links.matchAll(/^\d+: ([^:@]+)/gm))
    if (link.startsWith(`lcr${id}`)) found.push(`link ${link}`);
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const point = line.split(" ")[4];
    const source = line.split(" - ")[1]?.split(" ")[1];
    if (point?.startsWith(path.join(PIN_ROOT, id)) || source?.startsWith(`lowcode-redis-${id}-`))
      found.push(`mount ${point}`);
  }
  return found;
}

/** The name of a tmpfs mounted for network `id` (the cleanup finds its mounts by it). */
export const tmpfsSource = (id: string, what: string) => `lowcode-redis-${id}-${what}`;

/** A pod as partitions need it: its address and its network namespace. */
export type PodAddress = Pick<Pod, "ip" | "netns">;

/**
 * Cuts every pod of `side` off from every pod of `other`, both ways, silently: each side routes the
 * other's addresses into its sink, and drops what arrives from them (strict reverse-path filter).
 * The host, and pods in neither list, still reach both sides.
 */
export function partition(
  pods: Readonly<Record<string, PodAddress>>,
  side: readonly string[],
  other: readonly string[],
): void {
  const get = (name: string) => {
    const pod = pods[name];
    if (!pod) throw new PodNetworkError(`no pod ${name} (pods: ${Object.keys(pods).join(", ")})`);
    return pod;
  };
  const cut = (from: string, to: readonly string[]) => {
    const pod = get(from);
    for (const peer of to.map(get)) {
      const inPod = (...args: string[]) => run("ip", ["-n", pod.netns, ...args]);
      inPod(
        "neigh",
        "replace",
        peer.ip,
        "lladdr",
        "02:00:00:00:00:01",
        "dev",
        "sink0",
        "nud",
        "permanent",
      );
      inPod("route", "replace", `${peer.ip}/32`, "dev", "sink0");
    }
  };
  for (const name of side) cut(name, other);
  for (const name of other) cut(name, side);
}

/** Ends every partition between `pods`: every pod is tried, the first failure is thrown after. */
export function heal(pods: Readonly<Record<string, PodAddress>>): void {
  let failure: unknown;
  for (const pod of Object.values(pods)) {
    try {
      run("ip", ["-n", pod.netns, "route", "flush", "dev", "sink0"]);
      run("ip", ["-n", pod.netns, "neigh", "flush", "dev", "sink0", "nud", "all"]);
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure) throw failure;
}
