import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { COSTLY_COMMANDS } from "../../config/client-limits";

const DOC = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "security.md"), "utf8");

/** The rows of the first table under a "## " heading: its cells, without the header rows. */
function tableUnder(heading: string): string[][] {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `docs/security.md has no section "${heading}"`);
  const section = DOC.slice(start + 1).split("\n## ")[0];
  return section
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| command |"))
    .map((line) =>
      line
        .slice(2, -2)
        .split(" | ")
        .map((cell) => cell.trim()),
    );
}

describe("docs/security.md says what the program does", () => {
  it("the app user's table lists exactly the commands appDeniedCommands may hold, each with its reason", () => {
    const rows = tableUnder("The app user's commands");
    assert.deepEqual(
      rows.map(([command, why]) => [command, why]),
      Object.entries(COSTLY_COMMANDS).map(([command, why]) => [
        `\`${command.toUpperCase()}\``,
        why,
      ]),
    );
  });
});
