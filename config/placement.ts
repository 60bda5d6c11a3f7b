import { z } from "zod";
import { OWN_LABEL_KEYS } from "./metrics";
import {
  DNS_SUBDOMAIN,
  KeySpec,
  KeyValues,
  annotationsProblem,
  labelKeyProblem,
  labelList,
  oneOf,
  parseAnnotations,
  parseLabels,
} from "./schemas";

/**
 * The keys of where the Redis and sentinel pods run (Kubernetes): their spread over zones and
 * nodes, the nodes they may use, their priority, and what the cluster's own tooling wants on them.
 */

const PRIORITY_CLASS_ALLOWED =
  'must be "" (the cluster\'s default priority) or the name of a PriorityClass (a DNS-1123 name, lowercase letters, digits, "-" and ".")';

const EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;
const TOLERATION = /^([^=:]+)(?:=([^=:]*))?(?::([A-Za-z]+))?$/;
const TOLERATIONS_ALLOWED = `must be a list of tolerations as \`kubectl taint\` writes taints: "key=value:Effect" (Equal), "key:Effect" (Exists), or without ":Effect" for every effect; Effect one of ${EFFECTS.join(", ")}; each at most once`;

/** A Kubernetes toleration, as the pod spec takes it. */
export interface Toleration {
  readonly key: string;
  readonly operator: "Equal" | "Exists";
  readonly value?: string;
  readonly effect?: (typeof EFFECTS)[number];
}

/** A toleration of its written form, or what is wrong with it. */
export function parseToleration(text: string): Toleration | string {
  const match = TOLERATION.exec(text);
  if (!match) return `${JSON.stringify(text)} is not "key[=value][:Effect]"`;
  const [, key, value, effect] = match;
  const keyProblem = labelKeyProblem(key);
  if (keyProblem) return keyProblem;
  if (
    value !== undefined &&
    value !== "" &&
    !/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(value)
  )
    return `${JSON.stringify(value)} is not a taint value`;
  if (effect !== undefined && !EFFECTS.some((e) => e === effect))
    return `${JSON.stringify(effect)} is not an effect`;
  const known = EFFECTS.find((e) => e === effect);
  return {
    key,
    operator: value === undefined ? "Exists" : "Equal",
    ...(value === undefined ? {} : { value }),
    ...(known ? { effect: known } : {}),
  };
}

/**
 * Labels set on the pods by this program (`OWN_LABEL_KEYS`: the selector is part of them) or by
 * the StatefulSet controller: an extra label must never replace one of them, or the StatefulSet
 * would not find its pods.
 */
export const RESERVED_POD_LABELS = [
  ...OWN_LABEL_KEYS,
  "controller-revision-hash",
  "statefulset.kubernetes.io/pod-name",
  "apps.kubernetes.io/pod-index",
];
/** Annotations the program sets on the pods (the digests that roll them). */
const RESERVED_ANNOTATION_PREFIX = "lowcode.ton/";
const ANNOTATIONS_ALLOWED =
  'must be a list of "key=value" annotations (keys: an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_", "."), each key once';

export const PLACEMENT_KEYS = {
  zoneSpread: {
    type: "string",
    description:
      "Kubernetes: spread the Redis pods, and the sentinels, over zones and nodes (topologySpreadConstraints, maxSkew 1): soft (ScheduleAnyway), hard (DoNotSchedule) or none.",
    default: "soft",
    schema: oneOf(["soft", "hard", "none"]),
  },
  priorityClassName: {
    type: "string",
    description: 'Kubernetes: the PriorityClass of the Redis and sentinel pods; "" = none.',
    default: "",
    schema: z
      .string({ error: PRIORITY_CLASS_ALLOWED })
      .refine((v) => v === "" || DNS_SUBDOMAIN.test(v), { error: PRIORITY_CLASS_ALLOWED }),
  },
  tolerations: {
    type: "array",
    description:
      'Kubernetes: taints the Redis and sentinel pods tolerate, as `kubectl taint` writes them: "key=value:NoSchedule", "key:NoSchedule" (any value), "key" (any value and effect).',
    default: [],
    schema: z
      .array(z.string({ error: TOLERATIONS_ALLOWED }), { error: TOLERATIONS_ALLOWED })
      .max(32, { error: "must list at most 32 tolerations" })
      .superRefine((list, ctx) => {
        for (const text of list) {
          const parsed = parseToleration(text);
          if (typeof parsed === "string")
            ctx.addIssue({ code: "custom", message: `${TOLERATIONS_ALLOWED}; ${parsed}` });
        }
        const repeated = list.find((t, i) => list.indexOf(t) !== i);
        if (repeated)
          ctx.addIssue({
            code: "custom",
            message: `${TOLERATIONS_ALLOWED}; ${JSON.stringify(repeated)} is given twice`,
          });
      }),
  },
  nodeSelector: {
    type: "string",
    description:
      'Kubernetes: node labels (k=v,…) the Redis and sentinel pods require, e.g. "node-pool=redis".',
    default: "",
    schema: labelList,
  },
  podLabels: {
    type: "string",
    description:
      "Kubernetes: labels (k=v,…) added to the Redis and sentinel pods, beside their own (never over them).",
    default: "",
    schema: labelList.superRefine((v, ctx) => {
      const own = Object.keys(parseLabels(v)).find((k) => RESERVED_POD_LABELS.includes(k));
      if (own)
        ctx.addIssue({
          code: "custom",
          message: `must not set ${own}: the pods carry it of their own and their StatefulSet selects them by it (${RESERVED_POD_LABELS.join(", ")}); add labels beside them`,
        });
    }),
  },
  podAnnotations: {
    type: "array",
    description:
      'Kubernetes: annotations ["key=value", …] added to the Redis and sentinel pods, e.g. for a service mesh or a log collector.',
    default: [],
    schema: z
      .array(z.string({ error: ANNOTATIONS_ALLOWED }), { error: ANNOTATIONS_ALLOWED })
      .max(64, { error: "must list at most 64 annotations" })
      .superRefine((list, ctx) => {
        const problem = annotationsProblem(list, ANNOTATIONS_ALLOWED, reservedAnnotation);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
  },
} as const satisfies Record<string, KeySpec>;

/** Refuses the program's own annotations: the digests that roll the pods. */
function reservedAnnotation(key: string): string | undefined {
  return key.startsWith(RESERVED_ANNOTATION_PREFIX)
    ? `must not set ${key}: the ${RESERVED_ANNOTATION_PREFIX} annotations are the program's own (the digests that roll the pods)`
    : undefined;
}

export interface PlacementConfig {
  readonly zoneSpread: "soft" | "hard" | "none";
  /** "" = none. */
  readonly priorityClassName: string;
  readonly tolerations: readonly Toleration[];
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly podLabels: Readonly<Record<string, string>>;
  readonly podAnnotations: Readonly<Record<string, string>>;
}

/** The placement of the Redis and sentinel pods; every key checked on its own by its schema. */
export function resolvePlacement(values: KeyValues<typeof PLACEMENT_KEYS>): PlacementConfig {
  return {
    zoneSpread: values.zoneSpread,
    priorityClassName: values.priorityClassName,
    tolerations: values.tolerations.map((t) => parseToleration(t) as Toleration),
    nodeSelector: parseLabels(values.nodeSelector),
    podLabels: parseLabels(values.podLabels),
    podAnnotations: parseAnnotations(values.podAnnotations),
  };
}
