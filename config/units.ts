/** Redis memory units: k/m/g are powers of 1000, kb/mb/gb powers of 1024 (redis.conf semantics). */
const REDIS_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1024,
  m: 1e6,
  mb: 1024 ** 2,
  g: 1e9,
  gb: 1024 ** 3,
};

/**
 * Bytes of a Redis memory size such as "384mb", or undefined when it is not one. Nothing is
 * trimmed: the string is written into redis.conf as given, so it must be exactly what was checked.
 */
export function parseMemory(value: string): number | undefined {
  const match = /^(\d{1,12})([a-z]*)$/i.exec(value);
  if (!match) return undefined;
  const unit = Object.hasOwn(REDIS_UNITS, match[2].toLowerCase())
    ? REDIS_UNITS[match[2].toLowerCase()]
    : undefined;
  return unit === undefined ? undefined : Number(match[1]) * unit;
}

/** Each suffix as a fraction: value = number × multiply / divide. */
const QUANTITY_SUFFIXES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  "": [1n, 1n],
  m: [1n, 1000n],
  k: [10n ** 3n, 1n],
  M: [10n ** 6n, 1n],
  G: [10n ** 9n, 1n],
  T: [10n ** 12n, 1n],
  Ki: [1024n, 1n],
  Mi: [1024n ** 2n, 1n],
  Gi: [1024n ** 3n, 1n],
  Ti: [1024n ** 4n, 1n],
};

/** A quantity as an exact fraction, so that "0.5m" or "1.1Ki" is never rounded into a whole. */
export interface ExactQuantity {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

/**
 * A Kubernetes quantity such as "768Mi", "1.5Gi" or "100m" as an exact fraction, or undefined when
 * it is not one. A subset of the Kubernetes grammar: digits with an optional fraction, then one of
 * the suffixes m, k, M, G, T, Ki, Mi, Gi, Ti (no sign, no exponent).
 */
export function exactQuantity(value: string): ExactQuantity | undefined {
  const match = /^(\d{1,30})(?:\.(\d{1,30}))?([a-zA-Z]{0,2})$/.exec(value);
  if (!match || !Object.hasOwn(QUANTITY_SUFFIXES, match[3])) return undefined;
  const [multiply, divide] = QUANTITY_SUFFIXES[match[3]];
  const fraction = match[2] ?? "";
  return {
    numerator: BigInt(match[1] + fraction) * multiply,
    denominator: 10n ** BigInt(fraction.length) * divide,
  };
}

/**
 * The quantity × `perUnit` (1 for bytes, 1000 for millicores) when that is a whole number;
 * undefined when it is not a quantity or not whole. Exact: "0.5m" is no whole number of bytes.
 */
export function wholeQuantity(value: string, perUnit = 1n): bigint | undefined {
  const q = exactQuantity(value);
  if (!q) return undefined;
  const scaled = q.numerator * perUnit;
  return scaled % q.denominator === 0n ? scaled / q.denominator : undefined;
}

/** Bytes as a whole number of mebibytes, rounded up ("768Mi"). */
export function toMebibytes(bytes: number): string {
  return `${Math.ceil(bytes / 1024 ** 2)}Mi`;
}
