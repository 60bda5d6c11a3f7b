import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { alertRuleGroups } from "../../render/alerts";
import { exporterArgs } from "../../render/metrics";
import { PROD, resolve } from "../helpers/config";

/**
 * docs/metrics.md#exporter-versions lists the flags and the metrics this project uses that the
 * default exporter image keeps (read from its source). Here: that list covers every flag the
 * sidecar is given and every exporter metric an alert rule reads, so a new one cannot go unchecked.
 */
const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "metrics.md"), "utf8");
const section = doc.slice(
  doc.indexOf("## Exporter versions"),
  doc.indexOf("\n## ", doc.indexOf("## Exporter versions") + 1),
);
const listed = (pattern: RegExp) => new Set([...section.matchAll(pattern)].map((m) => m[1]));

describe("docs/metrics.md: what the default exporter keeps covers what is used", () => {
  it("every flag of the sidecar", () => {
    const flags = listed(/`(--[a-z.-]+)`/g);
    for (const arg of exporterArgs(6379, "/etc/redis-exporter/exporter.json", ":9121"))
      assert.ok(flags.has(arg.replace(/=.*$/, "")), `${arg} is not listed`);
  });

  it("every exporter metric of the alert rules", () => {
    const metrics = listed(/`(redis_[a-z_]+)`/g);
    const rules = JSON.stringify(alertRuleGroups(resolve(PROD), "lowcode-redis"));
    const used = new Set([...rules.matchAll(/\b(redis_[a-z_]+)(?=[{[(\s)])/g)].map((m) => m[1]));
    assert.ok(used.size >= 10, [...used].join(" "));
    for (const metric of used) assert.ok(metrics.has(metric), `${metric} is not listed`);
  });
});
