import { ClusterSpec, NodeSpec } from "../config";
import {
  HostObservation,
  NodeObservation,
  parseHostProbe,
  parseNodeProbe,
  Unreachable,
} from "./observations";
import { renderHostProbe, renderNodeProbe } from "./scripts";
import { ProbeError, runRemoteScript } from "./ssh";

/** A machine that cannot be read becomes Unreachable with the reason; other errors propagate. */
export async function orUnreachable<T>(read: () => Promise<T>): Promise<T | Unreachable> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ProbeError) {
      const unreachable = error.message.slice(error.machine.length + 2);
      return error.refused ? { unreachable, refused: true } : { unreachable };
    }
    throw error;
  }
}

export interface ClusterReadings<N> {
  readonly nodes: Map<string, N | Unreachable>;
  readonly hosts: Map<string, HostObservation | Unreachable>;
}

/** How to read one guest: the read-only script to run and how to parse its output. */
export interface NodeReader<N> {
  readonly script: (node: NodeSpec) => string;
  readonly parse: (stdout: string) => N;
}

/**
 * Reads every node and Proxmox host at once, read-only. A machine that cannot be read is recorded
 * as unreachable, with the reason, instead of failing the whole read. The preflight and the doctor
 * differ only in the node script.
 */
export async function readCluster<N>(
  spec: ClusterSpec,
  privateKey: string,
  reader: NodeReader<N>,
): Promise<ClusterReadings<N>> {
  const nodes = spec.nodes.map(async (node) => {
    const reading = await orUnreachable(async () =>
      reader.parse((await runRemoteScript(node, privateKey, reader.script(node))).stdout),
    );
    return [node.name, reading] as const;
  });
  const hosts = spec.hosts.map(async (host) => {
    const vmids = spec.nodes.filter((n) => n.host === host.name).map((n) => n.vmid);
    const reading = await orUnreachable(async () =>
      parseHostProbe(
        (await runRemoteScript(host, privateKey, renderHostProbe(vmids))).stdout,
        vmids,
      ),
    );
    return [host.name, reading] as const;
  });
  return { nodes: new Map(await Promise.all(nodes)), hosts: new Map(await Promise.all(hosts)) };
}

/** What preflight reads of every machine. */
export function probeCluster(
  spec: ClusterSpec,
  privateKey: string,
): Promise<ClusterReadings<NodeObservation>> {
  return readCluster(spec, privateKey, {
    script: (node) => renderNodeProbe(Object.keys(node.sysctl), node.role === "server"),
    parse: parseNodeProbe,
  });
}
