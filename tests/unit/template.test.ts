import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { SCRIPTS_DIR, fillTemplate, withoutNotes } from "../../render/template";
import { renderedScripts, shellcheckMatrix } from "../../scripts/shellcheck-rendered";

describe("script templates: fillTemplate and the files under render/scripts/", () => {
  it("fills every placeholder, inline and alone on its line, in one pass", () => {
    const filled = fillTemplate("#!/bin/sh\n@HEADER@\necho '@WHO@' @N@\n", {
      HEADER: "# one\n# two",
      WHO: "@N@",
      N: "3",
    });
    // A value is never read for placeholders: WHO's "@N@" stays as it is.
    assert.equal(filled, "#!/bin/sh\n# one\n# two\necho '@N@' 3\n");
  });

  it("a placeholder alone on its line: an empty value removes the line, a final newline is not doubled", () => {
    assert.equal(fillTemplate("a\n@PART@\nb\n", { PART: "" }), "a\nb\n");
    assert.equal(fillTemplate("a\n@PART@\nb\n", { PART: "x\ny\n" }), "a\nx\ny\nb\n");
    // Inline, an empty value is just empty.
    assert.equal(fillTemplate("a @PART@ b\n", { PART: "" }), "a  b\n");
  });

  it("throws on a placeholder without a value and on a value without a placeholder", () => {
    assert.throws(() => fillTemplate("echo @WHO@\n", {}), /@WHO@ has no value/);
    assert.throws(
      () => fillTemplate("echo @WHO@\n", { WHO: "x", EXTRA: "y", MORE: "z" }),
      /no placeholder for @EXTRA@, @MORE@/,
    );
  });

  it("leaves what is no placeholder alone: $@, -@all, a lower-case or unclosed @name", () => {
    const text = 'exec redis-server "$@"\necho "-@all +get" @lower@ @UNCLOSED\n';
    assert.equal(fillTemplate(text, {}), text);
  });

  it("a template's ## notes are dropped, and only they", () => {
    assert.equal(
      withoutNotes("#!/bin/sh\n## a note\n# a comment\n  ## an indented note\necho '##'\n"),
      "#!/bin/sh\n# a comment\necho '##'\n",
    );
  });

  it("every template is POSIX sh that ends with a newline and has no tab", () => {
    const files = fs
      .readdirSync(SCRIPTS_DIR, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".sh"));
    assert.ok(files.length >= 10, files.join(", "));
    for (const file of files) {
      const text = fs.readFileSync(path.join(SCRIPTS_DIR, file), "utf8");
      assert.ok(text.endsWith("\n"), `${file} ends without a newline`);
      assert.ok(!text.includes("\t"), `${file} has a tab`);
      if (!file.startsWith("parts/")) assert.ok(text.startsWith("#!/bin/sh\n"), file);
    }
  });
});

describe("npm run lint's shellcheck matrix", () => {
  it("renders every template and every part under render/scripts/ at least once", () => {
    const rendered = Object.values(shellcheckMatrix()).flatMap((cfg) =>
      Object.entries(renderedScripts(cfg)).filter(([file]) => file.endsWith(".sh")),
    );
    const texts = rendered.map(([, text]) => text);
    const templates = fs
      .readdirSync(SCRIPTS_DIR, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".sh"));
    // Every line of every template, where no placeholder is in it, is in some rendered script.
    for (const template of templates) {
      const lines = withoutNotes(fs.readFileSync(path.join(SCRIPTS_DIR, template), "utf8"))
        .split("\n")
        .filter((l) => l.trim() !== "" && !/@[A-Z]/.test(l));
      assert.ok(lines.length > 0, `${template} has no line without a placeholder`);
      for (const line of lines)
        assert.ok(
          texts.some((text) => text.includes(`${line}\n`)),
          `no script of the matrix holds ${template}'s ${JSON.stringify(line)}`,
        );
    }
  });
});
