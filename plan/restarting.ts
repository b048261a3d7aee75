import { ClusterSpec } from "../config/spec";
import { NodeObservation, reachable, Unreachable } from "../probe/observations";
import { Observed } from "./observed";

/** The nodes whose VM a `qm reboot` is still restarting (an interrupted run's, perhaps), as
 * `k3s-vm-piglet (VM 106 on piglet, stopped)`, or whose guest is still booting: unreachable, its
 * QEMU started less than gateTimeoutSeconds ago (not one whose SSH server refused us). */
export function restartingVms(spec: ClusterSpec, observed: Observed): string[] {
  return restartingNodes(spec, observed).map((r) => r.what);
}

/** restartingVms, with each node's name. */
export function restartingNodes(
  spec: ClusterSpec,
  observed: Observed,
): { readonly node: string; readonly what: string }[] {
  return spec.nodes.flatMap((node) => {
    const host = observed.hosts.get(node.host);
    const vm = reachable(host) ? host.vms.get(node.vmid) : undefined;
    const named = (what: string) => [{ node: node.name, what: `${node.name} (${what})` }];
    if (vm?.restarting) return named(`VM ${node.vmid} on ${node.host}, ${vm.status}`);
    const booting =
      vm?.status === "running" &&
      vm.qemuAgeSeconds !== undefined &&
      vm.qemuAgeSeconds < spec.gateTimeoutSeconds &&
      isBootingGuest(observed.nodes.get(node.name));
    return booting
      ? named(`VM ${node.vmid} on ${node.host}, started ${vm.qemuAgeSeconds} s ago`)
      : [];
  });
}

/** A guest that cannot be read yet: not one whose SSH server answered and refused us. */
function isBootingGuest(own: NodeObservation | Unreachable | undefined): boolean {
  return own !== undefined && !reachable(own) && own.refused !== true;
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

/** Problems that a server's K3s coming back can clear without naming that server. */
const CLUSTER_WIDE_WHILE_BACK = [
  "etcd has no leader",
  "no server answers etcd's member list",
  "no server's API answers",
];

/**
 * Whether the wait before the preflight goes on: while a VM is still restarting, and after that
 * only while a preflight problem names a node whose VM was restarting during the wait (its K3s
 * still coming up: unreachable, NotReady, its etcd member not yet healthy) or is one a returning
 * server clears. Any other problem (a refused version, a stack setting) does not pass by waiting.
 */
export function keepSettling(
  restarting: readonly string[],
  problems: readonly string[],
  cameBack: readonly string[],
): boolean {
  if (restarting.length > 0) return true;
  return problems.some(
    (p) =>
      cameBack.some((node) => p.includes(`\`${node}\``)) ||
      CLUSTER_WIDE_WHILE_BACK.some((text) => p.endsWith(text)),
  );
}
