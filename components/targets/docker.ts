import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ContainerSpec, PlanSecrets, Upload, Uploads, VolumeMount } from "../../plan";

/** Where the containers go and what they get. */
export interface ContainersContext {
  readonly parent: pulumi.Resource;
  /** The Docker network the containers join. */
  readonly network: pulumi.Input<string>;
  /** The secrets the uploaded files are made of; a secret Output. */
  readonly secrets: pulumi.Output<PlanSecrets>;
  /** What a container `afterRestore` waits for (the restore step). */
  readonly restoreFirst?: pulumi.Input<pulumi.Resource>[];
  /** What a container `afterRedis` waits for (the Redis component). */
  readonly redis?: pulumi.Input<pulumi.Resource>[];
}

/** Bounded logs: every long-running container of the deployment. */
const LOGS = { logDriver: "json-file", logOpts: { "max-size": "10m", "max-file": "3" } };

/** The uploaded files, secret as a whole: the engine keeps secretness per property. */
function uploadsOf(uploads: Uploads, secrets: pulumi.Output<PlanSecrets>): pulumi.Output<Upload[]> {
  const owner = String(uploads.uid);
  return secrets.apply((s) => [
    ...Object.entries({ ...uploads.files.plain, ...uploads.files.secret(s) }).map(
      ([file, content]) => ({
        file: `${uploads.dir}/${file}`,
        content,
        owner,
        group: owner,
        permissions: uploads.permissions,
      }),
    ),
    ...(uploads.extra ?? []),
  ]);
}

/** The images and volumes of a component, each created once however many containers use it. */
class Shared {
  private readonly images = new Map<string, docker.RemoteImage>();
  private readonly volumes = new Map<string, docker.Volume>();
  constructor(private readonly parent: pulumi.Resource) {}

  image(spec: ContainerSpec["image"]): docker.RemoteImage {
    const found = this.images.get(spec.resourceName);
    if (found) return found;
    const image = new docker.RemoteImage(
      spec.resourceName,
      { name: spec.name, keepLocally: true },
      { parent: this.parent },
    );
    this.images.set(spec.resourceName, image);
    return image;
  }

  volume(resourceName: string, retainOnDelete?: boolean): docker.Volume {
    const found = this.volumes.get(resourceName);
    if (found) return found;
    const volume = new docker.Volume(
      resourceName,
      { name: resourceName },
      { parent: this.parent, ...(retainOnDelete ? { retainOnDelete: true } : {}) },
    );
    this.volumes.set(resourceName, volume);
    return volume;
  }

  mount(mount: VolumeMount): { args: docker.types.input.ContainerVolume; created?: docker.Volume } {
    const readOnly = mount.readOnly === undefined ? {} : { readOnly: mount.readOnly };
    const { source, containerPath } = mount;
    if ("hostPath" in source)
      return { args: { hostPath: source.hostPath, containerPath, ...readOnly } };
    if ("existing" in source)
      return { args: { volumeName: source.existing, containerPath, ...readOnly } };
    const volume = this.volume(source.create.resourceName, source.create.retainOnDelete);
    return { args: { volumeName: volume.name, containerPath, ...readOnly }, created: volume };
  }
}

/** The network part of a container: fixed address and alias, plain membership, or none. */
function networkArgs(spec: ContainerSpec, network: pulumi.Input<string>) {
  if (spec.network === "none") return { networkMode: "none" };
  const { alias, address } = spec.network;
  return {
    networksAdvanced: [
      {
        name: network,
        ...(alias ? { aliases: [alias] } : {}),
        ...(address ? { ipv4Address: address } : {}),
      },
    ],
  };
}

/**
 * One hardened container: every capability dropped (some added back where the spec says),
 * no-new-privileges, a memory limit, bounded logs, ports on 127.0.0.1 only.
 */
function createContainer(spec: ContainerSpec, ctx: ContainersContext, shared: Shared) {
  const mounts = spec.volumes.map((m) => shared.mount(m));
  return new docker.Container(
    spec.resourceName,
    {
      name: spec.name,
      image: shared.image(spec.image).imageId,
      user: spec.user,
      ...(spec.entrypoints ? { entrypoints: spec.entrypoints } : {}),
      ...(spec.command ? { command: spec.command } : {}),
      ...(spec.env ? { envs: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`) } : {}),
      ...(spec.uploads ? { uploads: uploadsOf(spec.uploads, ctx.secrets) } : {}),
      ...networkArgs(spec, ctx.network),
      ...(spec.publish ? { ports: [{ ...spec.publish, ip: "127.0.0.1", protocol: "tcp" }] } : {}),
      volumes: mounts.map((m) => m.args),
      ...(spec.readOnlyRoot ? { readOnly: true } : {}),
      ...(spec.tmpfs ? { tmpfs: spec.tmpfs } : {}),
      ...(spec.runOnce
        ? { mustRun: false, attach: true, logs: true, restart: "no" }
        : { restart: "unless-stopped", ...LOGS }),
      ...(spec.healthcheck ? { healthcheck: spec.healthcheck } : {}),
      ...(spec.waitHealthy ? { wait: true } : {}),
      memory: spec.memoryMb,
      capabilities: {
        drops: ["ALL"],
        ...(spec.addCapabilities ? { adds: spec.addCapabilities } : {}),
      },
      securityOpts: ["no-new-privileges:true"],
    },
    {
      parent: ctx.parent,
      dependsOn: [
        ...mounts.flatMap((m) => (m.created ? [m.created] : [])),
        ...(spec.afterRestore ? (ctx.restoreFirst ?? []) : []),
        ...(spec.afterRedis ? (ctx.redis ?? []) : []),
      ],
    },
  );
}

/**
 * Creates a component's containers, their images and volumes. Returns the restore steps: a
 * one-shot container's exit, which fails the deployment when it is not 0.
 */
export function createContainers(
  specs: readonly ContainerSpec[],
  ctx: ContainersContext,
): pulumi.Input<pulumi.Resource>[] {
  const shared = new Shared(ctx.parent);
  const restoreSteps: pulumi.Input<pulumi.Resource>[] = [];
  for (const spec of specs) {
    const container = createContainer(spec, ctx, shared);
    const runOnce = spec.runOnce;
    if (spec.restoreStep && runOnce)
      restoreSteps.push(
        container.exitCode.apply((code) => {
          if (code !== undefined && code !== 0) throw new Error(runOnce.failure(code));
          return container;
        }),
      );
  }
  return restoreSteps;
}
