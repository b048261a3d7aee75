import * as assert from "assert";
import {
  eventMark,
  eventsSince,
  fixtureWith,
  labDown,
  labUp,
  onHost,
  requireLabMachine,
  stackFileWith,
  Workspace,
} from "./harness";
import { labHostKey, sh } from "./postCluster";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const guest = (f: Doc, name: string) => f.guests.find((g: Doc) => g.name === name);
const host = (f: Doc, name: string) => f.proxmoxHosts.find((h: Doc) => h.name === name);
const MODPROBE_FILE = "/etc/modprobe.d/zz-k3s-homelab-zfs.conf";

/** What the initramfs of kernel `release` on pve holds at our modprobe file (read inside). */
function initramfsHolds(release: string): string {
  return sh(
    "127.0.0.11",
    "pve",
    `d=$(mktemp -d); unmkinitramfs /boot/initrd.img-${release} "$d"; cat "$d${MODPROBE_FILE}" 2>/dev/null || echo absent; rm -rf "$d"`,
  );
}

/** Proxmox VE 8 as qemu-server (stable-bookworm) behaves, against the lab's qm (lab/README.md,
 * Conformance). Run on the program before issue 10's change (aba161a) with this lab, each failed:
 * - restart/pending: preview passed (status 0) with a pending `memory` edit on fawn; with the
 *   ZFS step alone new, pve's step failed "/boot/initrd.img-6.8.12-4-pve does not carry ...";
 * - refusals: preview passed with aio=native + writeback on fawn and piglet paused;
 * - no quorum: "FAILED: VM 105 is not running after qm reboot" at once (0 s), naming nothing;
 * - timeout: "FAILED: qm reboot 105 did not complete in 30s; NOT force-stopping it. Check the
 *   guest's shutdown, then re-run", nothing about the delivered shutdown request. */
describe("e2e: Proxmox as it really behaves", function () {
  this.timeout(30 * 60 * 1000);

  before(function () {
    requireLabMachine(this);
  });

  afterEach(() => {
    labDown();
  });

  it("qm reboot returns with the VM stopped: the roll waits for qmeventd's restart, checks the running QEMU, and rebuilds every kernel's initramfs on a ZFS root; pending changes only with the node's opt-in", async () => {
    labUp(
      fixtureWith("px-restart", (f) => {
        guest(f, "k3s-vm-pve").qm = { restartDelaySeconds: 8 };
        guest(f, "k3s-vm-piglet").qm = { restartDelaySeconds: 2, ha: true };
      }),
    );
    // A half-done edit on fawn's VM: a reboot would apply it too.
    sh("127.0.0.13", "fawn", "qm set 108 --memory 4096 >/dev/null");
    const refused = await new Workspace("e2e-px-pending").preview();
    assert.strictEqual(refused.status, 1);
    assert.match(
      refused.output,
      /node `k3s-vm-fawn`: VM 108 on `fawn` has other pending changes a qm reboot would apply too: memory; apply or revert them first \(qm pending 108; qm set 108 --revert KEY\), or set `applyPendingChanges: true` on the node, refusing/,
    );

    const optedIn = stackFileWith("px-pending", (c) => {
      c["k3s-homelab:nodes"]["k3s-vm-fawn"].applyPendingChanges = true;
    });
    const ws = new Workspace("e2e-px-restart", "lab", optedIn);
    const mark = eventMark();
    const run = await ws.up();
    assert.strictEqual(run.status, 0, run.output);
    assert.match(
      run.output,
      /3\. k3s-vm-fawn: qm reboot \(cache none→writeback, iothread 0→1, also applies pending memory\)/,
    );
    assert.match(
      run.output,
      /k3s-vm-pve \(VM 105 on pve\): waiting for VM 105 to run again after qm reboot \(qmeventd starts it\): stopped, 0s/,
    );
    for (const [who, vmid] of [
      ["k3s-vm-pve (VM 105 on pve)", 105],
      ["k3s-vm-piglet (VM 106 on piglet)", 106],
      ["k3s-vm-fawn (VM 108 on fawn)", 108],
    ]) {
      assert.ok(
        run.output.includes(
          `${who}: VM ${vmid} runs QEMU with cache=writeback iothread=1 on scsi0`,
        ),
        `${who}: the running QEMU's command line was not checked`,
      );
    }
    assert.match(run.output, /qm reboot also applies the pending: memory \(applyPendingChanges\)/);
    assert.match(sh("127.0.0.13", "fawn", "qm config 108 --current"), /^memory: 4096$/m);
    // qm reboot never force-stops and nobody but qmeventd's cleanup starts the VM.
    const qm = eventsSince(mark).filter((e) => e.tool === "qm" && e.mutating);
    assert.deepStrictEqual(
      qm.filter((e) => ["stop", "start"].includes(e.action)).map((e) => `${e.host} ${e.action}`),
      [],
    );
    assert.deepStrictEqual(
      qm
        .filter((e) => e.action === "cleanup" && (e as Doc).restart)
        .map((e) => e.host)
        .sort(),
      ["fawn", "piglet", "pve"],
    );

    // Root on ZFS with two kernels, the newer not booted: both images carry the option.
    assert.match(
      run.output,
      /pve: every bootable initramfs carries the option: 6\.8\.12-4-pve 6\.8\.12-9-pve/,
    );
    for (const release of ["6.8.12-4-pve", "6.8.12-9-pve"]) {
      assert.match(initramfsHolds(release), /^options zfs zfs_txg_timeout=3$/m, release);
    }
  });

  it("refuses in preview what Proxmox would refuse: aio=native with writeback, a paused VM; reads BTRFS's default cache", async () => {
    labUp(
      fixtureWith("px-refuse", (f) => {
        host(f, "pve").storageCfg =
          "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\nbtrfs: local-btrfs\n\tpath /var/lib/pve/local-btrfs\n\tcontent images,rootdir\n";
        guest(f, "k3s-vm-pve").vm.scsi0 = "local-btrfs:105/vm-105-disk-0.raw,iothread=1,size=64G";
        guest(f, "k3s-vm-piglet").qm = { qmpstatus: "paused" };
        guest(f, "k3s-vm-fawn").vm.scsi0 = "local-zfs:vm-108-disk-0,aio=native,size=64G";
      }),
    );
    const preview = await new Workspace("e2e-px-refuse").preview();
    assert.strictEqual(preview.status, 1);
    assert.match(
      preview.output,
      /node `k3s-vm-fawn`: VM 108 on `fawn`, `scsi0` has aio=native, and QEMU refuses aio=native without a direct cache \(cache=writeback is not\): the VM would not start again after qm reboot; change `aio` on the disk first \(to io_uring or threads\), or `disk\.cache` to none or directsync/,
    );
    assert.match(
      preview.output,
      /node `k3s-vm-piglet`: VM 106 on `piglet` is paused: resume it with `qm resume 106` \(not `qm start`\), refusing/,
    );
    // As the hints say: resume piglet, change fawn's aio; the plan then shows that no cache= on
    // BTRFS without nocow is QEMU's writeback already: no qm reboot for pve.
    sh("127.0.0.12", "piglet", "qm resume 106");
    sh(
      "127.0.0.13",
      "fawn",
      "qm set 108 --scsi0 local-zfs:vm-108-disk-0,aio=io_uring,size=64G >/dev/null",
    );
    const fixed = await new Workspace("e2e-px-refuse").preview();
    assert.strictEqual(fixed.status, 0, fixed.output);
    // The plan, as the preview's `plan` output shows it.
    assert.match(
      fixed.output,
      /node {3}: "k3s-vm-pve"\n\s+reasons: \[\n\s+\[0\]: "K3s v1\.32\.4\+k3s1→v1\.33\.6\+k3s1"/,
    );
    assert.match(
      fixed.output,
      /node {3}: "k3s-vm-fawn"\n\s+reasons: \[\n\s+\[0\]: "qm reboot \(cache none→writeback, iothread 0→1\)"/,
    );

    // The lab's QEMU refuses what QEMU refuses: the VM does not start with aio=native.
    const stop = onHost("127.0.0.13", labHostKey("fawn"), "qm shutdown 108");
    assert.strictEqual(stop.status, 0, stop.output);
    sh(
      "127.0.0.13",
      "fawn",
      "qm set 108 --scsi0 local-zfs:vm-108-disk-0,aio=native,cache=writeback,size=64G >/dev/null",
    );
    const start = onHost("127.0.0.13", labHostKey("fawn"), "qm start 108");
    assert.strictEqual(start.status, 255);
    assert.match(
      start.stderr,
      /aio=native was specified, but it requires cache\.direct=on, which was not specified\.\nstart failed: QEMU exited with code 1/,
    );
    assert.strictEqual(sh("127.0.0.13", "fawn", "qm status 108"), "status: stopped");
    assert.match(
      sh("127.0.0.13", "fawn", "cat /var/log/pve/tasks/index"),
      /:qmstart:108:root@pam: \S+ start failed: QEMU exited with code 1/,
    );
  });

  it("a VM that qmeventd never starts (no quorum) fails the roll naming where to look, and nothing is force-stopped", async () => {
    labUp(fixtureWith("px-quorum", (f) => (host(f, "pve").quorate = false)));
    const stack = stackFileWith(
      "px-quorum",
      (c) => (c["k3s-homelab:cluster"].gateTimeoutSeconds = 30),
    );
    const ws = new Workspace("e2e-px-quorum", "lab", stack);
    const mark = eventMark();
    const run = await ws.up();
    assert.strictEqual(run.status, 1);
    assert.match(
      run.output,
      /k3s-vm-pve \(VM 105 on pve\): FAILED: VM 105 did not start again within 30s after qm reboot \(it is stopped\)\. qm reboot stops the VM and qmeventd starts it again \(qm cleanup\): read the start task log \(\/var\/log\/pve\/tasks\/, pvenode task list --vmid 105\), journalctl -u qmeventd, and for an HA resource ha-manager status \(without cluster quorum nothing starts it\)/,
    );
    const events = eventsSince(mark).filter(
      (e) => e.mutating && ["pve", "piglet", "fawn"].includes(e.host),
    );
    assert.deepStrictEqual(
      events
        .filter((e) => ["stop", "start"].includes(e.action))
        .map((e) => `${e.host} ${e.action}`),
      [],
    );
    assert.ok(!events.some((e) => e.host !== "pve"), "a later node was touched");
  });

  it("a qm reboot that times out says the guest got the shutdown request, and the next preview names the VM it left off", async () => {
    // qmeventd's `qm cleanup` after the late power-off takes 20 s here (a real one waits for the
    // config lock and runs the post-stop hookscript): the preview below reads the host while it
    // runs, without a reboot request.
    labUp(
      fixtureWith(
        "px-timeout",
        (f) => (guest(f, "k3s-vm-pve").qm = { shutdownSeconds: 50, restartDelaySeconds: 20 }),
      ),
    );
    const stack = stackFileWith(
      "px-timeout",
      (c) => (c["k3s-homelab:cluster"].gateTimeoutSeconds = 30),
    );
    const ws = new Workspace("e2e-px-timeout", "lab", stack);
    const run = await ws.up();
    assert.strictEqual(run.status, 1);
    assert.match(
      run.output,
      /k3s-vm-pve \(VM 105 on pve\): FAILED: qm reboot 105 did not complete in 30s\. The VM still runs, but its guest got the shutdown request: if it finishes shutting down later, it stays off \(Proxmox cleared the reboot request\)\. NOT force-stopping it\./,
    );
    // The guest finishes its shutdown later; nothing starts it again.
    for (let i = 0; i < 90 && sh("127.0.0.11", "pve", "qm status 105") !== "status: stopped"; i++) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.strictEqual(sh("127.0.0.11", "pve", "qm status 105"), "status: stopped");
    const preview = await ws.preview();
    assert.strictEqual(preview.status, 1);
    assert.match(
      preview.output,
      /`k3s-vm-pve`: unreachable: .*; VM 105 on `pve` is stopped: an earlier qm reboot \(at \S+\) timed out after the guest got the shutdown request, and the guest powered off later; Proxmox does not start it again \(start it: qm start 105\)/,
    );
  });
});
