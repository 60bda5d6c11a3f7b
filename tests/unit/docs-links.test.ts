import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");

/** README.md and every Markdown file under docs/, relative to the project. */
function markdownFiles(): string[] {
  const found = ["README.md"];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith(".md")) found.push(file);
    }
  };
  walk("docs");
  return found;
}

/** Markdown outside fenced code blocks. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, "");
}

/** GitHub's anchors of a file's headings. */
function anchors(file: string): Set<string> {
  const headings = prose(fs.readFileSync(path.join(ROOT, file), "utf8")).match(/^#+ .*$/gm) ?? [];
  return new Set(
    headings.map((h) =>
      h
        .replace(/^#+ /, "")
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}_\- ]/gu, "")
        .replace(/ /g, "-"),
    ),
  );
}

describe("README.md and docs/: stand alone, and every link leads somewhere", () => {
  const files = markdownFiles();
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

  it("the README keeps the two commands of a fresh Debian/Ubuntu machine, and stays short", () => {
    assert.ok(readme.includes("\nsh scripts/install-system-packages.sh test && npm test\n"));
    assert.match(
      readme,
      /\nsh scripts\/install-system-packages\.sh run && npm ci && npm run sandbox -- --stack dev --dir \S+\n/,
    );
    assert.ok(readme.split("\n").length <= 200, "README.md over 200 lines");
  });

  for (const file of files) {
    it(`${file}: every relative link names an existing file and heading`, () => {
      const text = prose(fs.readFileSync(path.join(ROOT, file), "utf8"));
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [where, anchor] = target.split("#");
        const linked = where === "" ? file : path.normalize(path.join(path.dirname(file), where));
        assert.ok(fs.existsSync(path.join(ROOT, linked)), `${target}: no ${linked}`);
        if (anchor !== undefined && linked.endsWith(".md"))
          assert.ok(anchors(linked).has(anchor), `${target}: no heading #${anchor} in ${linked}`);
      }
    });
  }

  it("cite no document outside the repository", () => {
    for (const file of files)
      assert.doesNotMatch(
        fs.readFileSync(path.join(ROOT, file), "utf8"),
        /DESIGN §|\.\.\/shared/,
        file,
      );
  });
});
