import { Document, Scalar, isAlias, isMap, isPair, isScalar, isSeq } from "yaml";

/**
 * The string the Pulumi engine hands the program for a value of a stack file, so that `npm run
 * render` reads `Pulumi.<stack>.yaml` as `pulumi up` does. From Pulumi's source (sdk/go/common:
 * workspace/loaders.go, resource/config/value.go and object.go, gopkg.in/yaml.v3 v3.0.1):
 *
 * - The file is decoded with yaml.v3 into Go values (resolve.go: YAML 1.2 booleans, and integers
 *   as Go's strconv.ParseInt with base 0, so `0x18EB` is 6379 and `017` is 15; `_` is dropped;
 *   dates are times), written out again with yaml.v3, and decoded a second time.
 * - Each value is then a string as it is; a number, boolean or list is its JSON (`6379.0` →
 *   "6379", `1e3` → "1000", `True` → "true"); a null is "" (Pulumi warns); a time is Go's
 *   `Time.String()` ("2024-01-01 00:00:00 +0000 UTC"); an infinite or NaN number stops Pulumi,
 *   since JSON has none.
 *
 * Explicit tags other than `!!str` are refused here: yaml.v3 reads them by rules this reader does
 * not follow (it is stricter than Pulumi, never looser).
 */

/** A Go value as yaml.v3 decodes it into `any`. */
type GoValue =
  | string
  | bigint
  | boolean
  | null
  | { readonly float: number }
  | { readonly time: string }
  | readonly GoValue[]
  | ReadonlyMap<string, GoValue>;

/** Pulumi would refuse the stack file, for this reason. */
export class PulumiRefuses extends Error {}

const YAML_TAG = "tag:yaml.org,2002:";
const STR_TAG = `${YAML_TAG}str`;

/** yaml.v3's resolveMap: the plain scalars it reads by name. */
const BY_NAME: Readonly<Record<string, GoValue>> = Object.assign(Object.create(null), {
  ...Object.fromEntries(["true", "True", "TRUE"].map((s) => [s, true])),
  ...Object.fromEntries(["false", "False", "FALSE"].map((s) => [s, false])),
  ...Object.fromEntries(["", "~", "null", "Null", "NULL"].map((s) => [s, null])),
  ...Object.fromEntries([".nan", ".NaN", ".NAN"].map((s) => [s, { float: NaN }])),
  ...Object.fromEntries(
    [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"].map((s) => [s, { float: Infinity }]),
  ),
  ...Object.fromEntries([".inf", ".Inf", ".INF"].map((s) => [`-${s}`, { float: -Infinity }])),
});

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64 = 2n ** 63n;

/** Go's strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64): undefined where both fail. */
function goInteger(s: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const [, sign, digits] = m;
  const magnitude = /^0[xXbBoO]/.test(digits)
    ? BigInt(`0${digits[1].toLowerCase()}${digits.slice(2)}`)
    : digits.length > 1 && digits.startsWith("0")
      ? BigInt(`0o${digits.slice(1)}`) // a leading 0 is octal, as in YAML 1.1
      : BigInt(digits);
  const value = sign === "-" ? -magnitude : magnitude;
  if (value >= -INT64 && value < INT64) return value;
  return sign === "" && value < 2n ** 64n ? value : undefined; // ParseUint takes no sign
}

/** Go's strconv.ParseFloat of a decimal: undefined when out of range (it reports ErrRange). */
function goFloat(s: string): number | undefined {
  const value = Number(s);
  return Number.isFinite(value) ? value : undefined;
}

const two = (n: number) => String(n).padStart(2, "0");

/**
 * A plain scalar yaml.v3 reads as a timestamp (its allowedTimestampFormats, through Go's
 * time.Parse), as Go's Time.String() prints it after Pulumi's second decoding: in UTC for `Z` and
 * no zone, else at its offset, named by the offset (as on a host whose local zone is UTC).
 */
function goTimestamp(s: string): string | undefined {
  const m =
    /^(\d{4})-(\d\d?)-(\d\d?)(?:(?:([Tt])|( ))(\d\d?):(\d\d?):(\d\d?)(?:[.,](\d+))?(Z|[+-]\d\d:\d\d)?)?$/.exec(
      s,
    );
  if (!m) return undefined;
  const [, year, month, day, t, space, hour = "0", minute = "0", second = "0", fraction, zone] = m;
  // "T" layouts need a zone, the " " layout has none.
  if ((t !== undefined && zone === undefined) || (space !== undefined && zone !== undefined))
    return undefined;
  const [y, mo, d, h, mi, se] = [year, month, day, hour, minute, second].map(Number);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const daysInMonth = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || se > 59)
    return undefined;
  let offset = 0;
  if (zone !== undefined && zone !== "Z") {
    const [hh, mm] = zone.slice(1).split(":").map(Number);
    if (hh > 24 || mm > 60) return undefined;
    offset = (zone.startsWith("-") ? -1 : 1) * (hh * 60 + mm);
  }
  const nanos = (fraction ?? "").slice(0, 9).padEnd(9, "0").replace(/0+$/, "");
  const date = `${year}-${two(mo)}-${two(d)} ${two(h)}:${two(mi)}:${two(se)}`;
  const sign = offset < 0 ? "-" : "+";
  const zoneText = `${sign}${two(Math.floor(Math.abs(offset) / 60))}${two(Math.abs(offset) % 60)}`;
  return `${date}${nanos ? `.${nanos}` : ""} ${zoneText} ${offset === 0 ? "UTC" : zoneText}`;
}

/** yaml.v3's resolve() of a plain, untagged scalar, decoded into `any`. */
function resolvePlain(text: string): GoValue {
  if (Object.hasOwn(BY_NAME, text)) return BY_NAME[text];
  const first = text[0];
  if (first === ".") {
    const value = /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(text) ? goFloat(text) : undefined;
    return value === undefined ? text : { float: value };
  }
  if (!/^[-+0-9]/.test(first)) return text;
  const time = goTimestamp(text);
  if (time !== undefined) return { time };
  const plain = text.replaceAll("_", "");
  const integer = goInteger(plain);
  if (integer !== undefined) return integer;
  const value = YAML_STYLE_FLOAT.test(plain) ? goFloat(plain) : undefined;
  return value === undefined ? text : { float: value };
}

/** The Go value of a node of the document. */
function goValue(node: unknown, doc: Document): GoValue {
  if (node === null || node === undefined) return null; // `key:` with nothing after it
  if (isAlias(node)) return goValue(node.resolve(doc), doc);
  if (isScalar(node)) return scalarValue(node);
  if (isSeq(node)) return node.items.map((item) => goValue(item, doc));
  if (isMap(node)) {
    const entries = new Map<string, GoValue>();
    for (const pair of node.items) {
      const key = isPair(pair) ? goValue(pair.key, doc) : null;
      if (typeof key !== "string" || (isScalar(pair.key) && pair.key.source === "<<"))
        throw new PulumiRefuses(
          `holds a mapping whose key ${JSON.stringify(String(isScalar(pair.key) ? pair.key.source : key))} is not a plain string (Pulumi accepts only string keys, and merges "<<")`,
        );
      entries.set(key, goValue(pair.value, doc));
    }
    return entries;
  }
  throw new PulumiRefuses("is not a YAML value Pulumi reads");
}

function scalarValue(node: Scalar): GoValue {
  const text = node.source ?? String(node.value);
  // A tag of no schema is reported with the file's problems; yaml.v3 reads it as a string.
  if (node.tag !== undefined && node.tag !== "!" && !node.tag.startsWith(YAML_TAG)) return text;
  if (node.tag !== undefined && node.tag !== "!" && node.tag !== STR_TAG)
    throw new PulumiRefuses(
      `has the explicit tag ${node.tag.replace(YAML_TAG, "!!")}, which this reader does not read as Pulumi does; write the value without it (quote it to mean text)`,
    );
  const plain = node.type === Scalar.PLAIN || node.type === undefined;
  return plain && node.tag !== STR_TAG ? resolvePlain(text) : text;
}

/** Go's json.Marshal of a string: HTML characters, U+2028 and U+2029 escaped. */
function goJsonString(s: string): string {
  const named: Record<string, string> = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
  };
  const escaped = s.replace(
    /["\\\u0000-\u001f<>&\u2028\u2029]/g,
    (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `"${escaped}"`;
}

/** Bytewise order of UTF-8 strings, as Go sorts a map's keys. */
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function isFloat(v: GoValue): v is { readonly float: number } {
  return typeof v === "object" && v !== null && "float" in v;
}

function isList(v: GoValue): v is readonly GoValue[] {
  return Array.isArray(v);
}

function isTime(v: GoValue): v is { readonly time: string } {
  return typeof v === "object" && v !== null && "time" in v;
}

/**
 * A float as Pulumi's second decoding leaves it and Go's JSON prints it: the shortest text that
 * reads back, in exponent form from 1e21 and below 1e-6, as JavaScript prints numbers too (-0 is 0
 * after yaml.v3 writes it as "-0" and reads it back as an integer).
 */
function floatText(value: number): string {
  if (!Number.isFinite(value))
    throw new PulumiRefuses(
      `holds ${Number.isNaN(value) ? "NaN" : "an infinite number"}, which Pulumi cannot hand to the program (it stops with "json: unsupported value"); quote it to mean text`,
    );
  return String(value);
}

/** Go's json.Marshal of a value, as Pulumi writes a list or mapping for the program. */
function goJson(v: GoValue): string {
  if (v === null) return "null";
  if (typeof v === "string") return goJsonString(v);
  if (typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (isFloat(v)) return floatText(v.float);
  if (isTime(v)) return goJsonString(v.time);
  if (isList(v)) return `[${v.map((item) => goJson(item)).join(",")}]`;
  const entries = [...v.entries()].sort(([a], [b]) => utf8Order(a, b));
  return `{${entries.map(([k, item]) => `${goJsonString(k)}:${goJson(item)}`).join(",")}}`;
}

/**
 * The string Pulumi hands the program for the value `node` of a stack file's config mapping, or
 * a PulumiRefuses error whose message says what in it Pulumi refuses.
 */
export function pulumiConfigText(node: unknown, doc: Document): string {
  const v = goValue(node, doc);
  if (v === null) return ""; // Pulumi: "treated as an empty string"
  if (typeof v === "string") return v;
  if (typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (isFloat(v)) return floatText(v.float);
  if (isTime(v)) return v.time;
  return goJson(v);
}
