/**
 * `npm run demo` (root on Linux): the program against a homelab in a box. Builds or finds the
 * engine, starts the lab with the background post's cluster, shows the preview, applies it,
 * prints each node before and after, and takes the lab down again.
 */
import { readFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import { buildClusterSpec, ClusterSpec, sortStackEntries } from "../config";
import { Observed } from "../plan";
import { effectiveDisk } from "../plan/disk";
import { probeCluster } from "../probe/probeCluster";
import { LAB_CLIENT_KEY, REPO } from "../lab/run";
import { labDown, labUp } from "../lab/session";
import { engineBin, Workspace } from "../lab/stack";

type Row = Record<string, string>;

function rows(spec: ClusterSpec, observed: Observed): Map<string, Row> {
  const result = new Map<string, Row>();
  for (const node of spec.nodes) {
    const o = observed.nodes.get(node.name);
    const h = observed.hosts.get(node.host);
    if (!o || "unreachable" in o || !h || "unreachable" in h) {
      result.set(node.name, { k3s: "unreachable", sysctl: "", disk: "", txg: "" });
      continue;
    }
    const running = o.apiNodes?.find((n) => n.name === node.nodeName)?.kubeletVersion ?? "?";
    const disk = effectiveDisk(h.vms.get(node.vmid)?.current ?? {}, node.disk);
    result.set(node.name, {
      k3s: running,
      sysctl: Object.values(o.sysctl).join("/"),
      disk: `cache=${disk.cache} iothread=${disk.iothread ? 1 : 0}`,
      txg: String(h.txgLive ?? "-"),
    });
  }
  return result;
}

function table(spec: ClusterSpec, before: Map<string, Row>, after: Map<string, Row>): string {
  const keys = Object.keys(spec.sysctl).join("/");
  const header = ["node", "K3s (API)", keys, "VM disk (current)", "host txg"];
  const lines = [header];
  for (const node of spec.nodes) {
    const b = before.get(node.name)!;
    const a = after.get(node.name)!;
    const cell = (k: string) => (b[k] === a[k] ? a[k] : `${b[k]} → ${a[k]}`);
    lines.push([node.name, cell("k3s"), cell("sysctl"), cell("disk"), cell("txg")]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  return lines.map((l) => l.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n");
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error("demo: run as root (the lab creates network and mount namespaces)");
    return 1;
  }
  console.log("demo: engine");
  engineBin();
  const stackFile = join(REPO, "Pulumi.lab.yaml");
  const doc = parse(readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
  const { spec } = buildClusterSpec(sortStackEntries(doc.config, () => true).structured);
  const key = readFileSync(LAB_CLIENT_KEY, "utf8");
  console.log(
    "demo: starting the lab with lab/fixtures/post.yaml (the post's cluster before its fixes)",
  );
  labUp(join(REPO, "lab", "fixtures", "post.yaml"));
  try {
    const before = rows(spec, await probeCluster(spec, key));
    const ws = new Workspace("demo");
    ws.echo = true;
    console.log("\ndemo: pulumi preview --diff\n");
    if ((await ws.preview()).status !== 0) return 1;
    console.log("\ndemo: pulumi up\n");
    if ((await ws.up()).status !== 0) return 1;
    const after = rows(spec, await probeCluster(spec, key));
    console.log(`\ndemo: before → after\n\n${table(spec, before, after)}\n`);
    return 0;
  } finally {
    console.log("demo: taking the lab down");
    labDown();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`demo: ${error.message}`);
    process.exit(1);
  },
);
