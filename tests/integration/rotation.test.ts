import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { PROD_STANDALONE, resolve } from "../helpers/config";
import { authAccepted } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";

const OLD = "old-app-password-0123456789abcdef";
const NEW = "new-app-password-0123456789abcdef";

/** Whether `password` authenticates the app user on the server at `port`. */
const appAccepts = (port: number, password: string) => authAccepted(port, "app", password);

describe("Rotating the app password without an outage (appPasswordPrevious)", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;
  let basePort: number;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-rotation-"));
    basePort = await freeBasePort(1);
  });

  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The sandbox with `secrets` in its secrets.json (as `pulumi config set --secret` would set them). */
  async function start(values: Record<string, unknown>, secrets: Record<string, string>) {
    const file = path.join(dir, "secrets.json");
    const kept = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
    fs.writeFileSync(file, JSON.stringify({ ...kept, ...secrets }), { mode: 0o600 });
    const secretKeys = Object.keys(values).filter((k) => k.startsWith("app"));
    sandbox = await startSandbox(resolve({ ...PROD_STANDALONE, ...values }, "prod", secretKeys), {
      dir,
      basePort,
    });
    return sandbox.connection.redis[0].port;
  }

  it("before: the old password only", async () => {
    const port = await start({ appPassword: { secure: "x" } }, { appPassword: OLD });
    assert.equal(await appAccepts(port, OLD), true);
    assert.equal(await appAccepts(port, NEW), false);
  });

  it("during: both the new and the previous password; connection.json hands out the new one", async () => {
    const port = await start(
      { appPassword: { secure: "x" }, appPasswordPrevious: { secure: "y" } },
      { appPassword: NEW, appPasswordPrevious: OLD },
    );
    assert.equal(await appAccepts(port, NEW), true);
    assert.equal(await appAccepts(port, OLD), true);
    assert.equal(sandbox!.connection.users.app.password, NEW);
    const acl = fs.readFileSync(path.join(sandbox!.nodes[0].confDir, "users.acl"), "utf8");
    assert.equal((acl.match(/^user app on #\S+ #\S+ /m) ?? []).length, 1, "two password hashes");
    assert.ok(!acl.includes(OLD) && !acl.includes(NEW), "hashes only");
  });

  it("after appPasswordPrevious is removed: the new password only", async () => {
    const port = await start({ appPassword: { secure: "x" } }, { appPassword: NEW });
    assert.equal(await appAccepts(port, NEW), true);
    assert.equal(await appAccepts(port, OLD), false);
  });

  it("the previous password is refused on the dev profile, where there is no app user", () => {
    assert.throws(
      () =>
        resolve(
          {
            target: "docker",
            profile: "dev",
            topology: "standalone",
            appPasswordPrevious: { secure: "y" },
          },
          "dev",
          ["appPasswordPrevious"],
        ),
      /Invalid lowcode-redis:appPasswordPrevious \(secret value not shown\): used only by the production profile/,
    );
  });
});
