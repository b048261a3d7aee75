import { CORDON_ANNOTATION } from "../render/drainScripts";
import { K3S_CONFIG_FILE, MODPROBE_FILE, SYSCTL_FILE } from "../render/files";
import { QEMU_PID_DIR, REBOOT_TIMEOUT_DIR } from "../render/qmShell";
import { shellQuote } from "../render/shell";

/** Real K3s serves etcd's client API with TLS and these client certificates; the lab serves
 * plain http, so the probe uses the certificates when they exist. */
const ETCD_TLS = "/var/lib/rancher/k3s/server/tls/etcd";

/** Each section of a probe's output starts with a `@@ NAME` line. */
export const SECTION = "@@";

/** A section marker on a line of its own, even after output without a final newline. */
function mark(name: string): string {
  return `printf '\\n${SECTION} %s\\n' '${name}'`;
}

/**
 * Read-only: what a guest is running. Never changes anything, so preview and the doctor can run
 * it freely. Servers also report the cluster's nodes and etcd's health, members and leader.
 */
export function renderNodeProbe(sysctlKeys: readonly string[], isServer: boolean): string {
  const lines = [
    "export LC_ALL=C",
    `${mark("k3s-version")}; k3s --version 2>/dev/null | head -n 1 || true`,
    mark("service"),
    'for u in k3s k3s-agent; do if systemctl is-active -q $u 2>/dev/null; then echo "$u active $(systemctl show -p ActiveEnterTimestamp --value $u)"; fi; done',
    `${mark("config")}; cat ${K3S_CONFIG_FILE} 2>/dev/null || true`,
    mark("sysctl"),
    ...sysctlKeys.map(
      (k) =>
        `printf '%s\\t%s\\n' ${shellQuote(k)} "$(sysctl -n ${shellQuote(k)} 2>/dev/null | tr -s ' \\t' '  ')"`,
    ),
    `${mark("sysctl-file")}; cat ${SYSCTL_FILE} 2>/dev/null || true`,
  ];
  if (isServer) {
    lines.push(
      mark("nodes"),
      `k3s kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status} {.spec.unschedulable} {.metadata.annotations.${CORDON_ANNOTATION}}{"\\n"}{end}' 2>/dev/null || echo '!unavailable'`,
      `${mark("etcd-health")}; curl -s --max-time 3 http://127.0.0.1:2381/health 2>/dev/null || echo '!unavailable'`,
      `if [ -f ${ETCD_TLS}/client.crt ]; then ETCD="curl -s --max-time 5 --cacert ${ETCD_TLS}/server-ca.crt --cert ${ETCD_TLS}/client.crt --key ${ETCD_TLS}/client.key https://127.0.0.1:2379"; else ETCD="curl -s --max-time 5 http://127.0.0.1:2379"; fi`,
      `${mark("etcd-members")}; $ETCD/v3/cluster/member/list -X POST -d '{}' 2>/dev/null || echo '!unavailable'`,
      `${mark("etcd-status")}; $ETCD/v3/maintenance/status -X POST -d '{}' 2>/dev/null || echo '!unavailable'`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Read-only: a Proxmox host's VMs (current and pending views, `qm pending`, the run state as
 * `qm status --verbose` reports it, the QEMU pid and a note of an earlier timed-out `qm reboot`),
 * its storage config and ZFS txg. */
export function renderHostProbe(vmids: readonly number[]): string {
  const lines = ["export LC_ALL=C"];
  for (const vmid of vmids) {
    lines.push(
      `${mark(`vm ${vmid} current`)}; qm config ${vmid} --current 2>&1 || true`,
      `${mark(`vm ${vmid} pending`)}; qm config ${vmid} 2>&1 || true`,
      `${mark(`vm ${vmid} changes`)}; qm pending ${vmid} 2>/dev/null || true`,
      `${mark(`vm ${vmid} status`)}; qm status ${vmid} --verbose 2>/dev/null || qm status ${vmid} 2>&1 || true`,
      `${mark(`vm ${vmid} pid`)}; cat ${QEMU_PID_DIR}/${vmid}.pid 2>/dev/null || true`,
      `${mark(`vm ${vmid} reboot-timeout`)}; cat ${REBOOT_TIMEOUT_DIR}/qm-reboot-timeout-${vmid} 2>/dev/null || true`,
    );
  }
  lines.push(
    `${mark("storage")}; cat /etc/pve/storage.cfg 2>/dev/null || true`,
    `${mark("txg")}; cat /sys/module/zfs/parameters/zfs_txg_timeout 2>/dev/null || echo '!absent'`,
    `${mark("txg-boot")}; cat ${MODPROBE_FILE} 2>/dev/null || true`,
  );
  return lines.join("\n") + "\n";
}
