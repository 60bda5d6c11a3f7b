import { stringify } from "yaml";
import { ResolvedConfig } from "../config/resolve";
import { PlanSecrets, planDeployment, plannedObjects } from "../plan";
import { Files } from "./files";
import { K8sObject } from "./kubernetes";
import { SecretValues, requiredSecrets } from "./redis-conf";

/** Stand-ins for secret values: `{{secret:<key>}}`, naming where the value comes from. */
export function secretReferences(cfg: ResolvedConfig): SecretValues {
  return Object.fromEntries(requiredSecrets(cfg).map((key) => [key, `{{secret:${key}}}`]));
}

/** A password hash stand-in: `{{sha256:<key>}}`. */
const hashReference = (reference: string) =>
  `{{sha256:${reference.slice("{{secret:".length, -2)}}}`;

/** Every secret as a reference, Commander's sign-in hash and session key among them. */
function referencedSecrets(cfg: ResolvedConfig): PlanSecrets {
  return {
    values: secretReferences(cfg),
    hash: hashReference,
    commander: {
      passwordHash: "{{bcrypt:commanderPassword}}",
      sessionSecret: "{{secret:commanderSessionSecret}}",
    },
  };
}

/** Kubernetes objects of the stack, in apply order. */
export function kubernetesObjects(cfg: ResolvedConfig): K8sObject[] {
  return plannedObjects(planDeployment(cfg)).map((planned) => planned.object);
}

/**
 * One object as YAML the way reviewers read it: every value written out where it is used, no
 * anchors or aliases (the yaml package would otherwise alias an object used twice), no folding.
 */
export function manifestYaml(object: object): string {
  return stringify(object, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** A patch of an existing object (a claim's size) is named so: it is no whole object to apply. */
function manifestFileName(index: number, object: K8sObject, patch = false): string {
  return `manifests/${String(index).padStart(2, "0")}-${object.kind.toLowerCase()}-${object.metadata.name}${patch ? ".patch" : ""}.yaml`;
}

function under(dir: string, files: Files): Files {
  return Object.fromEntries(
    Object.entries(files).map(([file, content]) => [`${dir}/${file}`, content]),
  );
}

/**
 * Every rendered artifact of a stack, by relative path: each unit's files and objects. Secrets
 * appear only as references: `{{secret:<key>}}` (and `{{sha256:<key>}}` for password hashes) in
 * the secret files and in the Secrets' stringData.
 */
export function renderArtifacts(cfg: ResolvedConfig): Files {
  const plan = planDeployment(cfg);
  const secrets = referencedSecrets(cfg);
  const files: Files = {};
  for (const unit of plan.units) {
    for (const set of unit.files) {
      Object.assign(files, under(set.renderDir, set.plain));
      Object.assign(files, under(set.renderSecretDir, set.secret(secrets)));
    }
    Object.assign(files, unit.artifacts);
  }
  plannedObjects(plan).forEach(({ object, secretData, patchesExisting }, index) => {
    const withData = secretData ? { ...object, stringData: secretData(secrets) } : object;
    files[manifestFileName(index, object, patchesExisting)] = manifestYaml(withData);
  });
  return files;
}
