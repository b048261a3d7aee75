import { ClusterSpec } from "../config";
import { Observed, Unreachable } from "../plan/preflight";
import { HostObservation, NodeObservation, parseHostProbe, parseNodeProbe } from "./observations";
import { renderHostProbe, renderNodeProbe } from "./scripts";
import { ProbeError, runRemoteScript } from "./ssh";

async function readOrUnreachable<T>(read: () => Promise<T>): Promise<T | Unreachable> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ProbeError)
      return { unreachable: error.message.slice(error.machine.length + 2) };
    throw error;
  }
}

/** Reads every node and Proxmox host at once, read-only. A machine that cannot be read is
 * recorded as unreachable, with the reason, instead of failing the whole probe. */
export async function probeCluster(spec: ClusterSpec, privateKey: string): Promise<Observed> {
  const nodeReads = spec.nodes.map(async (node) => {
    const endpoint = { ...node, name: node.name };
    const observation = await readOrUnreachable<NodeObservation>(async () =>
      parseNodeProbe(
        (
          await runRemoteScript(
            endpoint,
            privateKey,
            renderNodeProbe(Object.keys(node.sysctl), node.role === "server"),
          )
        ).stdout,
      ),
    );
    return [node.name, observation] as const;
  });
  const hostReads = spec.hosts.map(async (host) => {
    const vmids = spec.nodes.filter((n) => n.host === host.name).map((n) => n.vmid);
    const observation = await readOrUnreachable<HostObservation>(async () =>
      parseHostProbe(
        (await runRemoteScript(host, privateKey, renderHostProbe(vmids))).stdout,
        vmids,
      ),
    );
    return [host.name, observation] as const;
  });
  return {
    nodes: new Map(await Promise.all(nodeReads)),
    hosts: new Map(await Promise.all(hostReads)),
  };
}
