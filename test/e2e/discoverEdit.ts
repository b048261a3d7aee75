// What an owner does with a discovered stack file before the first up, and how a preview's roll
// plan reads node by node.
import { readFileSync, writeFileSync } from "fs";
import { parse, stringify } from "yaml";
import { CONFIG_NAMESPACE } from "../../config/stackFile";

const TWEAK = /^\s*# ((?:disk|zfsTxgTimeout|[a-z0-9_]+(?:\.[a-z0-9_]+)+): .+)$/;

/**
 * The discovered file with its commented-out tweak lines switched on (each line read as the YAML
 * it shows: `disk`, `zfsTxgTimeout`, and sysctl keys merged into `sysctl`), the cluster's version
 * set and every node's own version dropped, and the given cluster keys set. Written next to the
 * file as Pulumi.<stack>.tweaked.yaml; returns its path.
 */
export function switchOnTweaks(
  file: string,
  cluster: Record<string, unknown> & { k3sVersion: string },
): string {
  const text = readFileSync(file, "utf8");
  const doc = parse(text) as { config: Record<string, Record<string, Record<string, unknown>>> };
  const c = doc.config[`${CONFIG_NAMESPACE}:cluster`] as Record<string, unknown>;
  const sysctl = { ...(c.sysctl as Record<string, string>) };
  let switched = 0;
  for (const line of text.split("\n")) {
    const m = TWEAK.exec(line);
    if (!m) continue;
    const [key, value] = Object.entries(parse(m[1]) as Record<string, unknown>)[0];
    if (key === "disk" || key === "zfsTxgTimeout") c[key] = value;
    else sysctl[key] = String(value);
    switched++;
  }
  if (switched === 0) throw new Error(`no commented tweak in ${file}`);
  c.sysctl = sysctl;
  Object.assign(c, cluster);
  for (const node of Object.values(doc.config[`${CONFIG_NAMESPACE}:nodes`])) {
    delete node.k3sVersion;
  }
  const out = file.replace(/\.yaml$/, ".tweaked.yaml");
  writeFileSync(out, stringify(doc));
  return out;
}

/** A preview's roll plan as node → its reasons, in the plan's order. */
export function rollReasons(output: string): Record<string, string> {
  const reasons: Record<string, string> = {};
  // The last one: the diagnostics at the end print it whole; the first may be mid-line.
  const start = output.lastIndexOf("roll plan (");
  if (start < 0) return reasons;
  for (const line of output.slice(start).split("\n").slice(1)) {
    const m = /^\s+\d+\. (\S+): (.*)$/.exec(line);
    if (!m) break;
    reasons[m[1]] = m[2];
  }
  return reasons;
}
