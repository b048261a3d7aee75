import { ClusterSpec } from "../config/spec";
import { reachable } from "../probe/observations";
import { Observed } from "./observed";

/** The nodes whose VM a `qm reboot` is still restarting (an interrupted run's, perhaps), as
 * `k3s-vm-piglet (VM 106 on piglet, stopped)`, or whose guest is still booting: unreachable, its
 * QEMU started less than gateTimeoutSeconds ago. */
export function restartingVms(spec: ClusterSpec, observed: Observed): string[] {
  return spec.nodes.flatMap((node) => {
    const host = observed.hosts.get(node.host);
    const vm = reachable(host) ? host.vms.get(node.vmid) : undefined;
    if (vm?.restarting) return [`${node.name} (VM ${node.vmid} on ${node.host}, ${vm.status})`];
    const booting =
      vm?.status === "running" &&
      vm.qemuAgeSeconds !== undefined &&
      vm.qemuAgeSeconds < spec.gateTimeoutSeconds &&
      !reachable(observed.nodes.get(node.name));
    return booting
      ? [`${node.name} (VM ${node.vmid} on ${node.host}, started ${vm.qemuAgeSeconds} s ago)`]
      : [];
  });
}

/** A progress line of the wait before preflight for VMs still restarting. */
export function settleLine(
  waitedSeconds: number,
  timeoutSeconds: number,
  restarting: readonly string[],
  firstProblem: string | undefined,
): string {
  const what =
    restarting.length > 0
      ? `restarting (a qm reboot in flight, or its guest still booting): ${restarting.join(", ")}`
      : `back; preflight still finds: ${firstProblem ?? "nothing"}`;
  return `waiting (${waitedSeconds} s of ${timeoutSeconds} s, gateTimeoutSeconds) before the preflight: ${what}`;
}
