import { isIP } from "node:net";

/** One address of redis.conf's `bind`, as Redis reads it. */
export interface BindAddress {
  /** As written in the stack config. */
  readonly given: string;
  /** "-" prefix: Redis skips the address when it is not available on the host. */
  readonly optional: boolean;
  readonly family: 4 | 6;
  /** One spelling per address ("::" for "0:0:0:0:0:0:0:0", "::*" and "::0"). */
  readonly canonical: string;
  /** Every address of its family: 0.0.0.0 / "*" or :: / "::*". */
  readonly wildcard: boolean;
}

/** The canonical text of an IPv6 address (RFC 5952, as the WHATWG URL parser writes it). */
export function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]`).hostname.slice(1, -1);
}

const IPV4_MAPPED = /^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/;

/**
 * Parses a bind address; returns why it cannot be bound instead when it cannot. Accepts IPv4 and
 * IPv6 addresses and Redis's `*` (every IPv4 address) and `::*` (every IPv6 address), each with
 * an optional leading "-".
 */
export function parseBindAddress(given: string): BindAddress | { readonly problem: string } {
  const optional = given.startsWith("-");
  const address = optional ? given.slice(1) : given;
  if (address === "*") return { given, optional, family: 4, canonical: "0.0.0.0", wildcard: true };
  if (address === "::*") return { given, optional, family: 6, canonical: "::", wildcard: true };
  if (address.includes("%"))
    return { problem: `${JSON.stringify(given)} has a zone id, which Redis cannot bind` };
  const family = isIP(address);
  const notUnicast = `${JSON.stringify(given)} is a multicast or broadcast address, which no server can listen on`;
  if (family === 4) {
    const first = Number(address.split(".")[0]);
    if ((first >= 224 && first <= 239) || address === "255.255.255.255")
      return { problem: notUnicast };
    return { given, optional, family, canonical: address, wildcard: address === "0.0.0.0" };
  }
  if (family === 6) {
    const canonical = canonicalIPv6(address);
    if (IPV4_MAPPED.test(canonical))
      return {
        problem: `${JSON.stringify(given)} is an IPv4-mapped IPv6 address, which Redis cannot bind (its IPv6 sockets are IPv6-only); write the IPv4 address`,
      };
    if (canonical.startsWith("ff")) return { problem: notUnicast };
    return { given, optional, family, canonical, wildcard: canonical === "::" };
  }
  return { problem: "not an address" };
}

/**
 * Why a list of bind addresses fails at start-up, or undefined: Redis binds each address on its
 * own socket, so an address given twice (in any spelling), or a specific address beside the
 * wildcard of its family, stops it with "Address already in use".
 */
export function bindConflict(addresses: readonly BindAddress[]): string | undefined {
  const seen = new Map<string, BindAddress>();
  for (const a of addresses) {
    const earlier = seen.get(a.canonical);
    if (earlier)
      return `${JSON.stringify(earlier.given)} and ${JSON.stringify(a.given)} are the same address; Redis would fail to bind it twice`;
    seen.set(a.canonical, a);
  }
  for (const wildcard of addresses.filter((a) => a.wildcard)) {
    const other = addresses.find((a) => a !== wildcard && a.family === wildcard.family);
    if (other)
      return `${JSON.stringify(wildcard.given)} already listens on every IPv${wildcard.family} address, so Redis would fail to bind ${JSON.stringify(other.given)} as well`;
  }
  return undefined;
}

/** IPv4 arithmetic of the subnet and CIDR checks: an address as a number, and back. */
export const ipv4ToNumber = (a: string) =>
  a.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
export const numberToIpv4 = (n: number) =>
  [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
/** The netmask of an IPv4 prefix length, as a number. */
export const maskOf = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** An IPv4 or IPv6 address (no zone id) as a number of 32 or 128 bits. */
export function addressBits(address: string): { family: 4 | 6; bits: bigint } | undefined {
  const family = address.includes("%") ? 0 : isIP(address);
  if (family === 4) return { family, bits: BigInt(ipv4ToNumber(address)) };
  if (family !== 6) return undefined;
  const [head, tail] = canonicalIPv6(address).split("::");
  const groups = (part?: string) => (part ? part.split(":") : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...Array<string>(tail === undefined ? 0 : missing).fill("0")];
  all.push(...groups(tail));
  return { family, bits: all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

/** A block of addresses: its first address and prefix length. */
export interface AddressBlock {
  readonly family: 4 | 6;
  readonly bits: bigint;
  readonly prefix: number;
}

const widthOf = (family: 4 | 6) => (family === 4 ? 32 : 128);

/** A block from its CIDR text, which callers have validated. */
export function blockOf(cidr: string): AddressBlock {
  const [address, prefix] = cidr.split("/");
  const { family, bits } = addressBits(address)!;
  return { family, bits, prefix: Number(prefix) };
}

/** Whether two blocks share an address: one holds the other. */
export function overlaps(a: AddressBlock, b: AddressBlock): boolean {
  if (a.family !== b.family) return false;
  const shift = BigInt(widthOf(a.family) - Math.min(a.prefix, b.prefix));
  return a.bits >> shift === b.bits >> shift;
}

/** The network address of `bits` under `prefix`. */
export function networkBits(family: 4 | 6, bits: bigint, prefix: number): bigint {
  const shift = BigInt(widthOf(family) - prefix);
  return (bits >> shift) << shift;
}

/** The text of an address of `family` from its bits (IPv6 canonical, RFC 5952). */
export function addressText(family: 4 | 6, bits: bigint): string {
  if (family === 4) return numberToIpv4(Number(bits));
  const groups = Array.from({ length: 8 }, (_, i) =>
    ((bits >> BigInt(16 * (7 - i))) & 0xffffn).toString(16),
  );
  return canonicalIPv6(groups.join(":"));
}

/** A range of addresses an off-site backup must never be sent to, and what it is. */
interface NamedRange {
  readonly cidr: string;
  readonly what: string;
}

/**
 * Addresses that are never an off-site S3 server: the host or pod itself, the cloud's instance
 * metadata services (which hand out the node's credentials), and addresses no unicast server has.
 */
export const NEVER_OFFSITE: readonly NamedRange[] = [
  { cidr: "0.0.0.0/8", what: "an unspecified (this-network) address" },
  { cidr: "127.0.0.0/8", what: "a loopback address" },
  { cidr: "169.254.169.254/32", what: "the cloud instance metadata service" },
  { cidr: "169.254.0.0/16", what: "a link-local address (cloud metadata and node-local services)" },
  { cidr: "100.100.100.200/32", what: "the cloud instance metadata service (Alibaba Cloud)" },
  { cidr: "224.0.0.0/4", what: "a multicast address" },
  { cidr: "240.0.0.0/4", what: "a reserved or broadcast address" },
  { cidr: "::/128", what: "the unspecified address" },
  { cidr: "::1/128", what: "a loopback address" },
  { cidr: "fd00:ec2::254/128", what: "the cloud instance metadata service (AWS, IPv6)" },
  { cidr: "fe80::/10", what: "a link-local address" },
  { cidr: "ff00::/8", what: "a multicast address" },
];

/**
 * Private and shared ranges: where the cluster's pods, Services and nodes live, and also where a
 * company's own S3 server (MinIO on the office network) may. Without the cluster's Service and pod
 * ranges the program cannot tell the two apart.
 */
export const PRIVATE_RANGES: readonly NamedRange[] = [
  { cidr: "10.0.0.0/8", what: "private (RFC 1918)" },
  { cidr: "172.16.0.0/12", what: "private (RFC 1918)" },
  { cidr: "192.168.0.0/16", what: "private (RFC 1918)" },
  { cidr: "100.64.0.0/10", what: "shared (RFC 6598)" },
  { cidr: "fc00::/7", what: "unique local (RFC 4193)" },
];

/** The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d) stands for, or undefined. */
export function mappedIPv4(block: AddressBlock): AddressBlock | undefined {
  if (block.family !== 6 || block.prefix < 96 || block.bits >> 32n !== 0xffffn) return undefined;
  return { family: 4, bits: block.bits & 0xffffffffn, prefix: block.prefix - 96 };
}

/** The first range of `ranges` a block overlaps (IPv4-mapped IPv6 judged as IPv4), or undefined. */
export function rangeOf(
  block: AddressBlock,
  ranges: readonly NamedRange[],
): NamedRange | undefined {
  const judged = mappedIPv4(block) ?? block;
  return ranges.find((range) => overlaps(judged, blockOf(range.cidr)));
}
