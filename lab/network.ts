// Network namespaces: one per test host (hl-<name>) and a switch namespace (hl-switch) with a
// bridge; each host gets a veth pair created INSIDE the lab namespaces, so the root network
// namespace never gains an interface or address. Addresses: 198.18.0.<last octet>/24.
import * as fs from "fs";
import { LabModel } from "./model";
import { SWITCH_NETNS, netnsName } from "./paths";
import { run, tryRun } from "./sh";

export interface NetnsPreState {
  runNetnsExisted: boolean;
  runNetnsMounted: boolean;
}

export function isMountPoint(dir: string): boolean {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[4] === dir);
}

export function netnsPreState(): NetnsPreState {
  return {
    runNetnsExisted: fs.existsSync("/run/netns"),
    runNetnsMounted: isMountPoint("/run/netns"),
  };
}

export function labNetnsList(): string[] {
  const out = tryRun("ip", ["netns", "list"]).out;
  return out
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith("hl-"));
}

/** The switch, and each host's eth0 on it; a guest's eth0 has its VM's net0 MAC (`macs`). */
export function createNetwork(model: LabModel, macs: ReadonlyMap<string, string>): void {
  run("ip", ["netns", "add", SWITCH_NETNS]);
  run("ip", ["-n", SWITCH_NETNS, "link", "set", "lo", "up"]);
  run("ip", ["-n", SWITCH_NETNS, "link", "add", "br0", "type", "bridge"]);
  run("ip", ["-n", SWITCH_NETNS, "link", "set", "br0", "up"]);
  for (const h of model.hosts) {
    const ns = netnsName(h.name);
    const port = `p${h.bridgeAddress.split(".")[3]}`;
    run("ip", ["netns", "add", ns]);
    run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    const mac = macs.get(h.name);
    run("ip", [
      ...["-n", SWITCH_NETNS, "link", "add", port, "type", "veth"],
      ...["peer", "name", "eth0", ...(mac ? ["address", mac] : []), "netns", ns],
    ]);
    run("ip", ["-n", SWITCH_NETNS, "link", "set", port, "master", "br0", "up"]);
    run("ip", ["-n", ns, "addr", "add", `${h.bridgeAddress}/24`, "dev", "eth0"]);
    run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
  }
}

/** Delete every hl-* namespace, then undo the /run/netns mount `ip netns add` made. */
export function removeNetwork(pre: NetnsPreState | undefined): string[] {
  const problems: string[] = [];
  for (const ns of labNetnsList()) {
    const r = tryRun("ip", ["netns", "delete", ns]);
    if (!r.ok) problems.push(r.out);
  }
  if (pre && !pre.runNetnsMounted && isMountPoint("/run/netns")) {
    const left = fs.readdirSync("/run/netns");
    if (left.length === 0) {
      tryRun("umount", ["/run/netns"]);
      if (!pre.runNetnsExisted) fs.rmdirSync("/run/netns");
    }
  }
  return problems;
}
