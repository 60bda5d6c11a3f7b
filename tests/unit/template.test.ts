import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { SCRIPTS_DIR, fillTemplate, withoutNotes } from "../../render/template";

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
