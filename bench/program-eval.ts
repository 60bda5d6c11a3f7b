import { performance } from "node:perf_hooks";
import { loadStackConfig } from "../config/stack-file";
import { deployStack } from "../stack";
import { MockRecorder, promiseOf } from "../lib/pulumi-mocks";

/** One measurement for `npm run bench`: build a stack's resource graph under Pulumi mocks. */
async function main() {
  const stack = process.argv[2];
  const recorder = new MockRecorder();
  await recorder.install(stack);
  const started = performance.now();
  const { connection } = deployStack(loadStackConfig(stack), {});
  await promiseOf(connection);
  await recorder.settle();
  // Until the last resource registered: the idle wait of settle() is not counted.
  const graphMs = recorder.lastRegisteredAt - started;
  process.stdout.write(`resources=${recorder.resources.length} graphMs=${graphMs.toFixed(1)}\n`);
}

void main();
