import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Browser, Page, chromium } from "playwright-core";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { DEV, resolve } from "../helpers/config";
import { directClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";

/** Debian's Chromium, with the flags this machine's closed network needs. */
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Where the screenshot goes (ignored by git; CI keeps the folder). */
export const ARTIFACTS = path.join(__dirname, "..", "..", "test-artifacts");

/** Clicks a jstree node's toggle until it stays open: the tree redraws while connections load. */
async function openNode(page: Page, id: string): Promise<void> {
  const node = page.locator(`li[id="${id}"]`);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if ((await node.count()) > 0) {
      if (/\bjstree-open\b/.test((await node.getAttribute("class")) ?? "")) return;
      await node
        .locator("> i.jstree-ocl")
        .click({ timeout: 2000 })
        .catch(() => undefined);
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`tree node ${id} did not open`);
}

describe("Redis Commander in headless Chromium: sign in on the real page, open a session key", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;
  let browser: Browser | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-browser-"));
    sandbox = await startSandbox(resolve(DEV, "dev"), { dir, basePort: await freeBasePort(1) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  });

  after(async () => {
    await browser?.close();
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("shows the sign-in page first, refuses a wrong password, then shows the session's fields", async () => {
    const c = sandbox!.connection;
    const app = directClient(c.redis[0].port, { ...c.users.app, db: c.databases.sessions });
    app.on("error", () => undefined);
    try {
      await app.hset("session:7f3a", {
        userId: "u-42",
        role: "editor",
        expiresAt: "2026-12-01T00:00:00Z",
      });
    } finally {
      app.disconnect();
    }
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(c.commander!.url);
    const signin = page.locator("#signinModal");
    await signin.waitFor({ state: "visible", timeout: 15_000 });

    await page.locator("#signinUsername").fill(c.commander!.username);
    await page.locator("#signinPassword").fill("admin123");
    const refused = page.waitForEvent("dialog", { timeout: 15_000 });
    await page.locator("#signinButton").click();
    const dialog = await refused;
    assert.equal(dialog.message(), "Sign-In Failed");
    await dialog.dismiss();
    assert.ok(await signin.isVisible(), "a wrong password leaves the sign-in page");
    assert.equal(await page.getByRole("treeitem").count(), 0, "no database shown");

    // The page clears the form after a refusal.
    await page.locator("#signinUsername").fill(c.commander!.username);
    await page.locator("#signinPassword").fill(c.commander!.password);
    await page.locator("#signinButton").click();
    const db0 = page.getByRole("treeitem", { name: /^sessions \(db0\)/ });
    await db0.waitFor({ timeout: 20_000 });
    const db0Id = (await db0.getAttribute("id"))!.replace(/_anchor$/, "");
    await openNode(page, db0Id);
    await openNode(page, `${db0Id}:session:`);
    await page.locator(`li[id="${db0Id}:session:7f3a"] > a`).click();
    await page.getByText("u-42").first().waitFor({ timeout: 15_000 });

    const body = await page.locator("#body").innerText();
    assert.match(body, /Key:\s*session:7f3a/);
    assert.match(body, /Type:\s*Hash/);
    for (const [field, value] of [
      ["userId", "u-42"],
      ["role", "editor"],
      ["expiresAt", "2026-12-01T00:00:00Z"],
    ])
      assert.match(body, new RegExp(`${field}\\s+${value}`));

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, "commander-session.png");
    fs.rmSync(shot, { force: true });
    await page.screenshot({ path: shot });
    const png = fs.readFileSync(shot);
    assert.equal(png.subarray(1, 4).toString(), "PNG");
    assert.ok(png.length > 10_000, "a screenshot of the page");
  });
});
