import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..", "..");
const MAX_FUNCTION_LINES = 150;

/**
 * Functions allowed past the limit: data tables, read as a list rather than as logic
 * (`file:function` → why).
 */
const DATA_TABLES: Record<string, string> = {
  "render/alerts.ts:alertRuleGroups": "the alert rules: one entry each, expression and texts",
};

/** Every TypeScript file of the product: everything but the tests and what is installed. */
function productFiles(dir = ROOT): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory())
      return ["node_modules", "tests", ".git", "bench/results"].includes(
        path.relative(ROOT, full),
      ) || entry.name.startsWith(".")
        ? []
        : productFiles(full);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : [];
  });
}

const parsed = new Map<string, ts.SourceFile>();

/** A file's syntax tree, read and parsed once for all the checks. */
function parse(file: string): ts.SourceFile {
  let source = parsed.get(file);
  if (!source) {
    source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    parsed.set(file, source);
  }
  return source;
}

function functionName(node: ts.Node): string {
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name !== undefined)
    return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent))
    return parent.name.getText();
  return "(anonymous)";
}

/** `file:function (N lines)` for every function longer than the limit. */
function longFunctions(file: string): string[] {
  const source = parse(file);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const { line: first } = source.getLineAndCharacterOfPosition(node.getStart());
      const { line: last } = source.getLineAndCharacterOfPosition(node.getEnd());
      const lines = last - first + 1;
      const id = `${path.relative(ROOT, file)}:${functionName(node)}`;
      if (lines > MAX_FUNCTION_LINES && !(id in DATA_TABLES)) found.push(`${id} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The relative module paths a file imports or re-exports, resolved from the project root. */
function localImports(file: string): string[] {
  const source = parse(file);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      specifiers.push(node.moduleSpecifier.text);
    if (
      ts.isCallExpression(node) &&
      node.expression.getText() === "require" &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0])
    )
      specifiers.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers
    .filter((s) => s.startsWith("."))
    .map((s) => path.relative(ROOT, path.resolve(path.dirname(file), s)));
}

/** `any` types and `as unknown as` casts, with their lines. */
function looseTypes(file: string): string[] {
  const source = parse(file);
  const found: string[] = [];
  const at = (node: ts.Node) =>
    `${path.relative(ROOT, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const visit = (node: ts.Node): void => {
    if (node.kind === ts.SyntaxKind.AnyKeyword) found.push(`${at(node)} any`);
    if (
      ts.isAsExpression(node) &&
      ts.isAsExpression(node.expression) &&
      node.expression.type.kind === ts.SyntaxKind.UnknownKeyword
    )
      found.push(`${at(node)} as unknown as`);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const inside = (dir: string) => (file: string) =>
  path.relative(ROOT, file).startsWith(`${dir}${path.sep}`);

describe("code shape: the limits the project keeps", () => {
  const files = productFiles();

  it("finds the product's files (and none of the tests)", () => {
    const relative = files.map((f) => path.relative(ROOT, f));
    for (const expected of ["index.ts", "stack.ts", "config/resolve.ts", "render/artifacts.ts"])
      assert.ok(relative.includes(expected), expected);
    assert.ok(!relative.some((f) => f.startsWith("tests/")));
  });

  it(`no function of the product is over ${MAX_FUNCTION_LINES} lines, but data tables`, () => {
    assert.deepEqual(files.flatMap(longFunctions), []);
  });

  it("no `any` and no `as unknown as` in config/ and components/", () => {
    const typed = files.filter((f) => inside("config")(f) || inside("components")(f));
    assert.deepEqual(typed.flatMap(looseTypes), []);
  });

  it("config/ imports only config/", () => {
    const outside = files.filter(inside("config")).flatMap((f) =>
      localImports(f)
        .filter((target) => !target.startsWith(`config${path.sep}`))
        .map((target) => `${path.relative(ROOT, f)} imports ${target}`),
    );
    assert.deepEqual(outside, []);
  });

  it("no product code imports tests/", () => {
    const fromTests = files.flatMap((f) =>
      localImports(f)
        .filter((target) => target === "tests" || target.startsWith(`tests${path.sep}`))
        .map((target) => `${path.relative(ROOT, f)} imports ${target}`),
    );
    assert.deepEqual(fromTests, []);
  });

  it("each check finds what it is for", () => {
    const dir = fs.mkdtempSync(path.join(ROOT, "tests", ".shape-"));
    try {
      const file = path.join(dir, "sample.ts");
      const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, i) => `  const v${i} = ${i};`);
      fs.writeFileSync(
        file,
        [
          'import { x } from "../../tests/helpers/ports";',
          `export function long(): void {`,
          ...body,
          "}",
          "export const loose = (v: any) => v as unknown as string;",
        ].join("\n"),
      );
      assert.equal(longFunctions(file).length, 1);
      assert.deepEqual(
        looseTypes(file).map((f) => f.split(" ").slice(1).join(" ")),
        ["any", "as unknown as"],
      );
      assert.deepEqual(localImports(file), [path.join("tests", "helpers", "ports")]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
