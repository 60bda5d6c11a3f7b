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

/** Bytes of a Redis memory size such as "384mb", or undefined when it is not one. */
export function parseMemory(value: string): number | undefined {
  const match = /^(\d{1,12})([a-z]*)$/i.exec(value.trim());
  if (!match) return undefined;
  const unit = REDIS_UNITS[match[2].toLowerCase()];
  return unit === undefined ? undefined : Number(match[1]) * unit;
}

const QUANTITY_SUFFIXES: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** Value of a Kubernetes quantity such as "768Mi" or "100m", or undefined when it is not one. */
export function parseQuantity(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(value);
  if (!match) return undefined;
  const factor = QUANTITY_SUFFIXES[match[2]];
  return factor === undefined ? undefined : Number(match[1]) * factor;
}

/** Bytes as a whole number of mebibytes, rounded up ("768Mi"). */
export function toMebibytes(bytes: number): string {
  return `${Math.ceil(bytes / 1024 ** 2)}Mi`;
}
