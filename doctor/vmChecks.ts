import { ClusterSpec, NodeSpec } from "../config";
import { effectiveDisk } from "../plan/disk";
import { vmStateHint } from "../plan/vmState";
import { HostObservation, VmObservation } from "../probe/observations";
import { MODPROBE_FILE } from "../render/files";
import { Check, check } from "./check";

/** The VM's disk options and controller: current (what runs) vs pending vs desired. */
export function vmChecks(
  spec: Pick<ClusterSpec, "disk">,
  node: NodeSpec,
  host: HostObservation,
): Check[] {
  const vm: VmObservation | undefined = host.vms.get(node.vmid);
  if (!vm || Object.keys(vm.current).length === 0) {
    return [check("vm", `VM ${node.vmid} not found on host ${node.host}`, "exists", "fail")];
  }
  const checks: Check[] = [
    check(
      "vm status",
      vm.status,
      vm.status === "running"
        ? "running"
        : `running (VM ${vmStateHint(node.vmid, vm.status) ?? "is stopped: qm start " + node.vmid})`,
      vm.status === "running" ? "ok" : "fail",
    ),
  ];
  if (vm.rebootTimedOutAt)
    checks.push(
      check(
        "vm reboot",
        `qm reboot timed out at ${vm.rebootTimedOutAt}`,
        "none pending (the guest got the shutdown request and may still power off)",
        "warn",
      ),
    );
  if (vm.current.lock)
    checks.push(
      check("vm lock", vm.current.lock, "no lock (pulumi up refuses a locked VM)", "warn"),
    );
  const current = effectiveDisk(vm.current, node.disk, host.storage);
  const pending = effectiveDisk(vm.pending, node.disk, host.storage);
  if (!current.present) {
    checks.push(check(`vm ${node.disk}`, "no such disk in the VM config", "the etcd disk", "fail"));
    return checks;
  }
  const option = (name: string, have: string, next: string, want: string): Check => {
    const value = have === next ? have : `${have} (pending ${next}: applies at qm reboot)`;
    let verdict: Check["verdict"] = "ok";
    let desired = want;
    if (have !== want) {
      verdict = "warn";
      desired = next === want ? `${want} (restart owed)` : want;
    } else if (next !== want) {
      verdict = "warn";
      desired = `${want} (a pending change would undo it)`;
    }
    return check(name, value, desired, verdict);
  };
  checks.push(
    option(`vm ${node.disk} cache`, current.cache, pending.cache, spec.disk.cache),
    option(
      `vm ${node.disk} iothread`,
      current.iothread ? "1" : "0",
      pending.iothread ? "1" : "0",
      spec.disk.iothread ? "1" : "0",
    ),
  );
  const needsSingle = spec.disk.iothread && node.disk.startsWith("scsi");
  if (node.disk.startsWith("scsi")) {
    const scsi = needsSingle
      ? option("vm scsihw", current.scsihw, pending.scsihw, "virtio-scsi-single")
      : check("vm scsihw", current.scsihw, "any (no iothread wanted)", "ok");
    if (needsSingle && current.scsihw !== "virtio-scsi-single" && !node.controllerChange) {
      checks.push({
        ...scsi,
        desired: "virtio-scsi-single (set `controllerChange: true` after checking virtio_scsi)",
      });
    } else checks.push(scsi);
  }
  return checks;
}

/** The Proxmox host's ZFS txg timeout, live and at the next module load. */
export function hostChecks(
  spec: Pick<ClusterSpec, "zfsTxgTimeout">,
  host: HostObservation,
): Check[] {
  const want = String(spec.zfsTxgTimeout);
  if (host.txgLive === undefined) {
    return [check("zfs_txg_timeout", "no zfs module loaded", `${want} (only with ZFS)`, "ok")];
  }
  return [
    check(
      "zfs_txg_timeout (live)",
      String(host.txgLive),
      want,
      host.txgLive === spec.zfsTxgTimeout ? "ok" : "warn",
    ),
    check(
      "zfs_txg_timeout (boot)",
      host.txgBoot === undefined ? `not set (no ${MODPROBE_FILE})` : String(host.txgBoot),
      want,
      host.txgBoot === spec.zfsTxgTimeout ? "ok" : "warn",
    ),
  ];
}
