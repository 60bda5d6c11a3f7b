import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { SuppliedSecrets } from "../components/secrets";
import { ResolvedConfig } from "../config/resolve";
import { ConnectionInfo } from "../render/connection";
import { deployStack } from "../stack";

export interface Recorded {
  readonly type: string;
  readonly name: string;
  /** Inputs as the engine receives them; secrets still wrapped as the SDK sends them. */
  readonly inputs: Record<string, unknown>;
  /** Type of the parent resource, from the URN (undefined for the stack's direct children). */
  parentType?: string;
  /** The provider reference (`<urn>::<id>`) the resource is managed with, when one is given. */
  readonly provider?: string;
}

/** The resource options the engine receives beside the inputs (the mocks' `newResource` sees none). */
export interface RecordedOptions {
  /** URNs of what the resource waits for (`dependsOn`, and the resources its inputs come from). */
  readonly dependencies: readonly string[];
  readonly deleteBeforeReplace: boolean;
  readonly replaceOnChanges: readonly string[];
}

/** The parts of the engine's RegisterResourceRequest the recorder reads. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getDependenciesList(): string[];
  getDeletebeforereplace(): boolean;
  getReplaceonchangesList(): string[];
}

/** Records every resource registered under mocks; `call` throws on unknown tokens. */
export class MockRecorder {
  readonly resources: Recorded[] = [];
  /** Each resource's options, by "<type> <name>". */
  readonly options = new Map<string, RecordedOptions>();
  /** Every function call (invoke), in order. */
  readonly calls: { token: string; inputs: Record<string, unknown> }[] = [];
  /**
   * Docker networks that exist before the deployment, by name: their subnets. `getNetwork` finds
   * them and fails for any other name, as the provider does. Kept across `install`.
   */
  readonly dockerNetworks = new Map<string, string[]>();
  /** performance.now() of the last registration. */
  lastRegisteredAt = 0;

  async install(stack: string): Promise<void> {
    this.resources.length = 0;
    this.calls.length = 0;
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          this.resources.push({
            type: args.type,
            name: args.name,
            inputs: args.inputs,
            provider: args.provider,
          });
          this.lastRegisteredAt = performance.now();
          const state: Record<string, unknown> = { ...args.inputs };
          if (args.type === "random:index/randomPassword:RandomPassword")
            state.result = `generated-${args.name}-0123456789`;
          if (args.type === "random:index/randomString:RandomString")
            // As long as asked; the same characters as before for the 20 of the CONFIG name.
            state.result = "ABCDEF0123456789XYZW"
              .padEnd(Number(args.inputs.length ?? 20), "Q")
              .slice(0, Number(args.inputs.length ?? 20));
          if (args.type === "docker:index/remoteImage:RemoteImage")
            state.imageId = `sha256:mock-${args.inputs.name}`;
          return { id: `${args.name}-id`, state };
        },
        call: (args) => {
          this.calls.push({ token: args.token, inputs: args.inputs });
          if (args.token === "docker:index/getNetwork:getNetwork") {
            const name = args.inputs.name as string;
            const subnets = this.dockerNetworks.get(name);
            if (!subnets) {
              // The SDK reports a failed call by the gRPC error's `details`.
              const details = `no Docker network named ${name}`;
              throw Object.assign(new Error(details), { details });
            }
            return {
              id: `${name}-network-id`,
              name,
              driver: "bridge",
              internal: false,
              options: {},
              scope: "local",
              containers: [],
              ipamConfigs: subnets.map((subnet) => ({ subnet })),
            };
          }
          throw new Error(`unexpected call to ${args.token}`);
        },
      },
      "lowcode-redis",
      stack,
      false,
    );
    this.options.clear();
    this.recordOptions();
  }

  /** Wraps the mock monitor's registration to keep what the mocks' `newResource` is not given. */
  private recordOptions(): void {
    const monitor = pulumi.runtime.getMonitor() as unknown as {
      registerResource(req: RegisterRequest, callback: unknown): unknown;
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
      this.options.set(`${req.getType()} ${req.getName()}`, {
        dependencies: req.getDependenciesList(),
        deleteBeforeReplace: req.getDeletebeforereplace(),
        replaceOnChanges: req.getReplaceonchangesList(),
      });
      return register(req, callback);
    };
  }

  /** The options a resource was registered with. */
  optionsOf(type: string, name: string): RecordedOptions {
    const found = this.options.get(`${type} ${name}`);
    if (!found) throw new Error(`no options recorded for ${type} ${name}`);
    return found;
  }

  /**
   * Installs the mocks, builds a stack's graph from `cfg` and waits until every resource is
   * registered; returns the stack output `connection`.
   */
  async deploy(
    cfg: ResolvedConfig,
    secrets: SuppliedSecrets = {},
  ): Promise<pulumi.Output<ConnectionInfo>> {
    await this.install(cfg.stack);
    const { connection } = deployStack(cfg, secrets);
    await promiseOf(connection);
    await this.settle();
    return connection;
  }

  /** Waits until registration has settled, then fills in parents from the mock monitor's URNs. */
  async settle(): Promise<void> {
    let last = -1;
    let stableTicks = 0;
    while (stableTicks < 5) {
      await new Promise((r) => setTimeout(r, 10));
      stableTicks = this.resources.length === last ? stableTicks + 1 : 0;
      last = this.resources.length;
    }
    const monitor = pulumi.runtime.getMonitor() as unknown as {
      getRegisteredResources(): Map<string, unknown>;
    };
    for (const urn of monitor.getRegisteredResources().keys()) {
      const [, , qualifiedType, name] = urn.split("::");
      const chain = qualifiedType.split("$");
      const type = chain[chain.length - 1];
      const found = this.resources.find((r) => r.type === type && r.name === name);
      if (found) found.parentType = chain.length > 1 ? chain[chain.length - 2] : undefined;
    }
  }

  find(type: string, name: string): Recorded {
    const found = this.resources.find((r) => r.type === type && r.name === name);
    if (!found)
      throw new Error(
        `no ${type} named ${name}; have: ${this.resources.map((r) => `${r.type} ${r.name}`).join(", ")}`,
      );
    return found;
  }

  ofType(type: string): Recorded[] {
    return this.resources.filter((r) => r.type === type);
  }
}

export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** The value of an output, rejected with its error (`promiseOf` waits forever on a failed one). */
export function outcomeOf<T>(output: pulumi.Output<T>): Promise<T> {
  // Output's own promise: the SDK's public API has no way to observe a failed output.
  return (output as unknown as { promise(): Promise<T> }).promise();
}
