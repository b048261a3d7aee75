import { CORDON_ANNOTATION } from "../render/drainScripts";
import { ETCD_FUNCTIONS } from "../render/etcdApi";
import {
  K3S_CONFIG_FILE,
  K3S_STARTED_CONFIG_FILE,
  MODPROBE_FILE,
  SYSCTL_FILE,
} from "../render/files";
import { unitEnvFile } from "../render/installerEnv";
import { QEMU_PID_DIR, REBOOT_TIMEOUT_DIR } from "../render/qmShell";
import { shellQuote } from "../render/shell";

/** pmxcfs's view of this node's VM configs (a link to /etc/pve/nodes/<node>/qemu-server). */
export const VM_CONF_DIR = "/etc/pve/qemu-server";

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
  const unit = isServer ? "k3s" : "k3s-agent";
  const lines = [
    "export LC_ALL=C",
    `${mark("k3s-version")}; k3s --version 2>/dev/null | head -n 1 || true`,
    mark("service"),
    // In UTC: systemctl prints the guest's zone (AEDT...) otherwise, which nothing can read back.
    'for u in k3s k3s-agent; do if systemctl is-active -q $u 2>/dev/null; then echo "$u active $(TZ=UTC systemctl show -p ActiveEnterTimestamp --value $u)"; fi; done',
    `${mark("config")}; cat ${K3S_CONFIG_FILE} 2>/dev/null || true`,
    // The hashes the roll steps compare (computed here, byte for byte), and the config.yaml K3s
    // started with when the roll rewrote it without a restart (same settings).
    `${mark("config-sha")}; cat ${K3S_CONFIG_FILE} 2>/dev/null | sha256sum | cut -c1-64`,
    `${mark("config-as-started")}; if [ -f ${K3S_STARTED_CONFIG_FILE} ]; then sha256sum < ${K3S_STARTED_CONFIG_FILE} | cut -c1-64; cat ${K3S_STARTED_CONFIG_FILE}; fi`,
    // What install.sh put in the unit (ExecStart flags, the env file) and the config.yaml.d
    // drop-ins K3s reads after config.yaml: re-running the installer drops the first two.
    `${mark("unit-exec")}; systemctl show -p ExecStart --value ${unit} 2>/dev/null || true`,
    // Names only, and values only of K3S_* settings that are not secrets.
    `${mark("unit-env")}; awk '/^[A-Za-z_][A-Za-z0-9_]*=/ { n = substr($0, 1, index($0, "=") - 1); if (n ~ /^K3S_/ && n !~ /TOKEN|SECRET|PASSWORD|KEY/) print; else print n }' ${unitEnvFile(isServer ? "server" : "agent")} 2>/dev/null || true`,
    `for f in ${K3S_CONFIG_FILE}.d/*; do case "$f" in *.[yY][aA][mM][lL]|*.[yY][mM][lL]) if [ -f "$f" ]; then printf '\\n${SECTION} config-dropin %s\\n' "$f"; cat "$f"; fi ;; esac; done`,
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
      ETCD_FUNCTIONS,
      // Without -f: an unhealthy member answers 503 with its reason (etcd's etcdhttp checkHealth).
      `${mark("etcd-health")}; for h in 127.0.0.1 '[::1]'; do curl -s --max-time 3 "http://$h:2381/health" && break; done || echo '!unavailable'`,
      `${mark("etcd-members")}; etcd_api cluster/member/list || echo '!unavailable'`,
      `${mark("etcd-status")}; etcd_api maintenance/status || echo '!unavailable'`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Read-only: a Proxmox host's VMs (each one's config file, with its pending section, the run
 * state as `qm status --verbose` reports it, the QEMU pid, a note of an earlier timed-out `qm reboot` and a
 * restart in flight),
 * its storage config and ZFS txg. */
export function renderHostProbe(vmids: readonly number[]): string {
  const lines = ["export LC_ALL=C"];
  for (const vmid of vmids) {
    lines.push(
      // The file `qm config [--current]` and `qm pending` read (probe/vmConfigFile.ts).
      `${mark(`vm ${vmid} conf`)}; cat ${VM_CONF_DIR}/${vmid}.conf 2>/dev/null || true`,
      `${mark(`vm ${vmid} status`)}; qm status ${vmid} --verbose 2>/dev/null || qm status ${vmid} 2>&1 || true`,
      `${mark(`vm ${vmid} pid`)}; cat ${QEMU_PID_DIR}/${vmid}.pid 2>/dev/null || true`,
      `${mark(`vm ${vmid} reboot-timeout`)}; cat ${REBOOT_TIMEOUT_DIR}/qm-reboot-timeout-${vmid} 2>/dev/null || true`,
      // A qm reboot in flight: its request (create_reboot_request) until qmeventd's `qm cleanup
      // <vmid> <clean> <guest>` clears it, and that process, which then starts the VM again.
      `${mark(`vm ${vmid} qemu-age`)}; p=$(cat ${QEMU_PID_DIR}/${vmid}.pid 2>/dev/null) && ps -o etimes= -p "$p" 2>/dev/null || true`,
      `${mark(`vm ${vmid} restart`)}; [ -e ${QEMU_PID_DIR}/${vmid}.reboot ] && echo reboot-request; pgrep -f 'qm cleanu[p] ${vmid} ' >/dev/null && echo cleanup; true`,
    );
  }
  lines.push(
    `${mark("storage")}; cat /etc/pve/storage.cfg 2>/dev/null || true`,
    `${mark("txg")}; cat /sys/module/zfs/parameters/zfs_txg_timeout 2>/dev/null || echo '!absent'`,
    `${mark("txg-boot")}; cat ${MODPROBE_FILE} 2>/dev/null || true`,
  );
  return lines.join("\n") + "\n";
}
