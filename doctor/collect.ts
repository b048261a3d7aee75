import { ClusterSpec } from "../config";
import { Unreachable } from "../plan/preflight";
import { renderDoctorNodeProbe } from "../probe/doctorScripts";
import { HostObservation, parseHostProbe } from "../probe/observations";
import { renderHostProbe } from "../probe/scripts";
import { ProbeError, runRemoteScript } from "../probe/ssh";
import { DoctorNodeReading, parseDoctorNodeProbe } from "./readings";

/** A machine that cannot be read becomes Unreachable with the reason; other errors propagate. */
export async function orUnreachable<T>(read: () => Promise<T>): Promise<T | Unreachable> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ProbeError)
      return { unreachable: error.message.slice(error.machine.length + 2) };
    throw error;
  }
}

export interface Readings {
  readonly nodes: Map<string, DoctorNodeReading | Unreachable>;
  readonly hosts: Map<string, HostObservation | Unreachable>;
}

/** Reads every node and Proxmox host at once, read-only (the doctor node probe, the host probe). */
export async function collect(spec: ClusterSpec, privateKey: string): Promise<Readings> {
  const nodes = spec.nodes.map(async (node) => {
    const script = renderDoctorNodeProbe(Object.keys(node.sysctl), node.role === "server");
    const reading = await orUnreachable(async () =>
      parseDoctorNodeProbe((await runRemoteScript(node, privateKey, script)).stdout),
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
  return {
    nodes: new Map(await Promise.all(nodes)),
    hosts: new Map(await Promise.all(hosts)),
  };
}
