import * as fs from "node:fs";
import * as path from "node:path";
import { renderArtifacts } from "../render/artifacts";
import { UsageError, loadConfigForCommand, parseCommandLine, runCommand } from "./cli";

const USAGE = "npm run render -- --stack <name> [--config FILE] --out DIR";

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), ["stack", "config", "out"], USAGE);
  const cfg = loadConfigForCommand(args.stack, args.config, USAGE);
  if (!args.out) throw new UsageError(`--out is required.\nUsage: ${USAGE}`);
  const out = path.resolve(args.out);
  const files = renderArtifacts(cfg);
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(out, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content, { mode: relative.endsWith(".sh") ? 0o755 : 0o644 });
  }
  process.stdout.write(
    `Rendered ${Object.keys(files).length} files of stack ${cfg.stack} (${cfg.target}, ${cfg.profile}, ${cfg.topology}) into ${out}\n`,
  );
  for (const relative of Object.keys(files).sort()) process.stdout.write(`  ${relative}\n`);
});
