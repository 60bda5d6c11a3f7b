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
