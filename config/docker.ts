import { isIP } from "node:net";
import { z } from "zod";
import { blockOf, ipv4ToNumber, maskOf, numberToIpv4, overlaps } from "./addresses";
import { Invalid, KeySpec, KeyValues, bool, checked } from "./schemas";

/**
 * The keys of the Docker target's network, and the host ports it publishes on 127.0.0.1: node i
 * on hostPort + i, sentinel i on 26379 + i.
 */

/** RFC 1918 ranges: a Docker network of the platform is private. */
const PRIVATE_IPV4: readonly (readonly [number, number])[] = [
  [0x0a000000, 8],
  [0xac100000, 12],
  [0xc0a80000, 16],
];

/** The default subnet of Docker's bridge network docker0. */
const DOCKER_BRIDGE = "172.17.0.0/16";
const SUBNET_ALLOWED =
  'must be a private IPv4 network (inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) with a prefix from /16 to /24, written as its network address, e.g. "172.28.0.0/24"';
const dockerSubnet = checked(SUBNET_ALLOWED, (v) => {
  const match = /^([0-9.]{7,15})\/(1[6-9]|2[0-4])$/.exec(v);
  if (!match || isIP(match[1]) !== 4) return SUBNET_ALLOWED;
  const address = ipv4ToNumber(match[1]);
  const prefix = Number(match[2]);
  const network = (address & maskOf(prefix)) >>> 0;
  if (network !== address)
    return `${SUBNET_ALLOWED} (host bits are set: the network is ${numberToIpv4(network)}/${prefix})`;
  const inPrivate = PRIVATE_IPV4.some(
    ([base, bits]) => prefix >= bits && (address & maskOf(bits)) >>> 0 === base,
  );
  if (!inPrivate) return SUBNET_ALLOWED;
  // Docker refuses a network that overlaps another ("Pool overlaps"), and docker0 is always there.
  if (overlaps(blockOf(v), blockOf(DOCKER_BRIDGE)))
    return `${SUBNET_ALLOWED}; not inside ${DOCKER_BRIDGE}, the subnet of Docker's default bridge network (docker0), which Docker would refuse to overlap`;
  return undefined;
});

/** Docker publishes sentinel i on this port + i (render/sentinel.ts SENTINEL_PORT). */
const DOCKER_SENTINEL_FIRST_PORT = 26379;

export const DOCKER_KEYS = {
  dockerNetwork: {
    type: "string",
    description: "Docker network shared with the platform.",
    default: "lowcode-network",
    schema: z
      .string({ error: "must be a Docker network name" })
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, { error: "must be a Docker network name" })
      // Docker's own networks cannot be created, nor hold fixed addresses.
      .refine((v) => !["bridge", "host", "none"].includes(v), {
        error:
          "must be a network of the platform, not one of Docker's predefined networks bridge, host, none",
      }),
  },
  dockerNetworkCreate: {
    type: "boolean",
    description:
      "Docker: create the network; false = join the existing one (dockerSubnet must then be its subnet).",
    default: true,
    schema: bool,
  },
  dockerSubnet: {
    type: "string",
    description: "Docker: subnet of the network; Redis nodes get fixed addresses from .10 on.",
    default: "172.28.0.0/24",
    schema: dockerSubnet,
  },
} as const satisfies Record<string, KeySpec>;

export interface DockerConfig {
  readonly network: string;
  readonly subnet: string;
  /** Create the network (true), or join the existing network of that name, whose subnet is `subnet`. */
  readonly createNetwork: boolean;
}

/**
 * The Docker network, and the host ports of the nodes and sentinels: each within range, none
 * shared. `publishedPorts` (Docker only) says what each port is published for.
 */
export function resolveDocker(
  values: KeyValues<typeof DOCKER_KEYS>,
  context: {
    readonly target: "docker" | "kubernetes";
    readonly hostPort: number;
    /** Redis nodes (1: standalone) and sentinels (0: standalone). */
    readonly nodes: number;
    readonly sentinels: number;
  },
  invalid: Invalid,
): { docker: DockerConfig; publishedPorts: ReadonlyMap<number, string>; problems: string[] } {
  const problems: string[] = [];
  const { hostPort, nodes, sentinels } = context;
  const docker = context.target === "docker";
  if (docker && nodes > 1) {
    const last = hostPort + nodes - 1;
    const sentinelFirst = DOCKER_SENTINEL_FIRST_PORT;
    const sentinelLast = sentinelFirst + sentinels - 1;
    if (last > 65535) {
      problems.push(
        invalid(
          "hostPort",
          hostPort,
          `must leave room for ${nodes} nodes on hostPort + 0…${nodes - 1} (at most ${65536 - nodes})`,
        ),
      );
    } else if (hostPort <= sentinelLast && last >= sentinelFirst) {
      problems.push(
        invalid(
          "hostPort",
          hostPort,
          `publishes the nodes on ${hostPort}-${last}, which overlaps the sentinels' ${sentinelFirst}-${sentinelLast}`,
        ),
      );
    }
  }
  const publishedPorts = new Map<number, string>();
  if (docker) {
    for (let i = 0; i < nodes; i++)
      publishedPorts.set(hostPort + i, `Redis node ${i} (hostPort + ${i})`);
    for (let i = 0; i < sentinels; i++)
      publishedPorts.set(DOCKER_SENTINEL_FIRST_PORT + i, `sentinel ${i}`);
  }
  return {
    docker: {
      network: values.dockerNetwork,
      subnet: values.dockerSubnet,
      createNetwork: values.dockerNetworkCreate,
    },
    publishedPorts,
    problems,
  };
}
