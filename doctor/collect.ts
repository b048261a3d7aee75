import { ClusterSpec } from "../config";
import { renderDoctorNodeProbe } from "../probe/doctorScripts";
import { ClusterReadings, readCluster } from "../probe/probeCluster";
import { DoctorNodeReading, parseDoctorNodeProbe } from "./readings";

export type Readings = ClusterReadings<DoctorNodeReading>;

/** Reads every node and Proxmox host at once, read-only (the doctor node probe, the host probe). */
export function collect(spec: ClusterSpec, privateKey: string): Promise<Readings> {
  return readCluster(spec, privateKey, {
    script: (node) => renderDoctorNodeProbe(Object.keys(node.sysctl), node.role === "server"),
    parse: parseDoctorNodeProbe,
  });
}
