import * as assert from "assert";
import { spawnSync } from "child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { DiskTarget, renderDiskCheckScript, renderDiskScript } from "../../render";
import { FAWN_DISK } from "./fixtures";

/** A minimal `qm` that keeps the current and pending views in two files and records its calls.
 * Like real `qm reboot` (vm_reboot), `reboot` returns with the VM stopped; it runs again after
 * `$D/starts-after` more status calls (none: it stays stopped). `$D/state` holds the qmpstatus,
 * `$D/changes` what `qm pending` lists, `$D/reboot-fails` makes `reboot` time out.
 * The lab's stand-in models Proxmox in full; this one only lets the script's logic be run. */
const QM_STUB = `#!/bin/sh
D="$STUB_DIR"; echo "$*" >> "$D/calls"
case "$1" in
  config) if [ "\${3:-}" = --current ]; then cat "$D/current"; else cat "$D/pending"; fi ;;
  pending) cat "$D/changes" ;;
  set) key=\${3#--}; grep -v "^$key:" "$D/pending" > "$D/p2"; echo "$key: $4" >> "$D/p2"; mv "$D/p2" "$D/pending" ;;
  status)
    if [ -f "$D/starts" ]; then n=$(cat "$D/starts"); if [ "$n" -le 0 ]; then echo running > "$D/state"; rm "$D/starts"; else echo $((n - 1)) > "$D/starts"; fi; fi
    echo "qmpstatus: $(cat "$D/state")" ;;
  reboot)
    if [ -f "$D/reboot-fails" ]; then echo "VM quit/powerdown failed - got timeout" >&2; exit 255; fi
    cp "$D/pending" "$D/current"; echo stopped > "$D/state"
    if [ -f "$D/starts-after" ]; then cp "$D/starts-after" "$D/starts"; fi ;;
esac
`;

const TARGET = FAWN_DISK;

interface Setup {
  readonly state?: string;
  readonly changes?: string;
  /** Status calls after `qm reboot` until the VM runs again; undefined: it never does. */
  readonly startsAfter?: number;
  readonly rebootFails?: boolean;
  readonly storageCfg?: string;
  /** The pending view (plain `qm config`), when it differs from the current one. */
  readonly pending?: string;
}

function runDisk(
  conf: string,
  target: DiskTarget = TARGET,
  render = renderDiskScript,
  setup: Setup = { startsAfter: 2 },
) {
  const dir = mkdtempSync(join(tmpdir(), "k3s-homelab-qm-"));
  writeFileSync(join(dir, "qm"), QM_STUB);
  writeFileSync(join(dir, "sleep"), "#!/bin/sh\n");
  chmodSync(join(dir, "qm"), 0o755);
  chmodSync(join(dir, "sleep"), 0o755);
  writeFileSync(join(dir, "current"), conf);
  writeFileSync(join(dir, "pending"), setup.pending ?? conf);
  writeFileSync(join(dir, "changes"), setup.changes ?? "");
  writeFileSync(join(dir, "state"), `${setup.state ?? "running"}\n`);
  writeFileSync(join(dir, "storage.cfg"), setup.storageCfg ?? "");
  if (setup.startsAfter !== undefined)
    writeFileSync(join(dir, "starts-after"), `${setup.startsAfter}`);
  if (setup.rebootFails) writeFileSync(join(dir, "reboot-fails"), "");
  writeFileSync(join(dir, "calls"), "");
  // Paths on a Proxmox host, moved into the test's own dir.
  const script = render(target)
    .replaceAll("/run/k3s-homelab", join(dir, "run"))
    .replaceAll("/etc/pve/storage.cfg", join(dir, "storage.cfg"));
  const result = spawnSync("sh", ["-c", script], {
    encoding: "utf8",
    env: { PATH: `${dir}:/usr/bin:/bin`, STUB_DIR: dir },
  });
  const calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
  const mark = join(dir, "run", `qm-reboot-timeout-${target.vmid}`);
  return {
    ...result,
    calls,
    changing: calls.filter((c) => /^(set|reboot|start|stop|shutdown|resume)/.test(c)),
    current: readFileSync(join(dir, "current"), "utf8"),
    mark: existsSync(mark) ? readFileSync(mark, "utf8") : undefined,
  };
}

const CONF =
  "boot: order=scsi0\nscsihw: virtio-scsi-single\nscsi0: local-zfs:vm-108-disk-0,discard=on,cache=none,size=64G\n";
const APPLIED =
  "scsihw: virtio-scsi-single\nscsi0: local-zfs:vm-108-disk-0,cache=writeback,iothread=1,size=64G\n";

describe("disk script, run against a qm stub", () => {
  it("rebuilds the drive string keeping every other option, reboots once, waits for running", () => {
    const r = runDisk(CONF);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(r.changing, [
      "set 108 --scsi0 local-zfs:vm-108-disk-0,discard=on,cache=writeback,size=64G,iothread=1",
      "reboot 108 --timeout 600",
    ]);
    assert.match(r.stdout, /qm reboot 108 to apply: cache none->writeback iothread 0->1\n/);
    assert.match(
      r.stdout,
      /waiting for VM 108 to run again after qm reboot \(qmeventd starts it\): stopped, 0s\n/,
    );
    assert.match(
      r.stderr,
      /WARNING: cannot read the running QEMU's command line \(\/var\/run\/qemu-server\/108.pid\)/,
    );
    assert.match(
      r.stdout,
      /current: local-zfs:vm-108-disk-0,discard=on,cache=writeback,size=64G,iothread=1\n/,
    );
  });

  it("changes nothing when the options are already applied", () => {
    const r = runDisk(APPLIED);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(r.changing, []);
    assert.match(r.stdout, /disk options already applied/);
  });

  it("fails naming where to look when the VM does not run again after qm reboot, starting nothing", () => {
    const r = runDisk(CONF, { ...TARGET, rebootTimeoutSeconds: 10 }, renderDiskScript, {});
    assert.strictEqual(r.status, 1);
    assert.deepStrictEqual(r.changing.slice(1), ["reboot 108 --timeout 10"]);
    assert.strictEqual(
      r.stderr.trim().split("\n").pop(),
      "k3s-vm-fawn (VM 108 on fawn): FAILED: VM 108 did not start again within 10s after qm reboot (it is stopped). qm reboot stops the VM and qmeventd starts it again (qm cleanup): read the start task log (/var/log/pve/tasks/, pvenode task list --vmid 108), journalctl -u qmeventd, and for an HA resource ha-manager status (without cluster quorum nothing starts it); NOT force-stopping or starting anything: qm start 108 once the cause is fixed, then re-run",
    );
  });

  it("a timed-out qm reboot: says the shutdown request was delivered, and the next run sees it", () => {
    const r = runDisk(CONF, TARGET, renderDiskScript, { rebootFails: true });
    assert.strictEqual(r.status, 1);
    assert.match(
      r.stderr,
      /FAILED: qm reboot 108 did not complete in 600s\. The VM still runs, but its guest got the shutdown request: if it finishes shutting down later, it stays off \(Proxmox cleared the reboot request\)\. NOT force-stopping it\./,
    );
    assert.match(r.mark ?? "", /^\d+ \n$/);
  });

  it("refuses every state but running and stopped, with the right hint", () => {
    const hints: Record<string, RegExp> = {
      paused:
        /VM 108 is paused \(qm status: paused\): resume it with qm resume 108 \(not qm start\)/,
      "io-error": /VM 108 is paused on a disk I\/O error .* then qm resume 108/,
      prelaunch: /VM 108 is in prelaunch .*qm resume 108 runs it/,
      suspended: /VM 108 is suspended by its guest .*qm resume 108/,
      "internal-error": /VM 108 is halted \(internal-error\)/,
      inmigrate: /VM 108 is inmigrate \(qm status --verbose\), neither running nor stopped/,
    };
    for (const [state, hint] of Object.entries(hints)) {
      const r = runDisk(CONF, TARGET, renderDiskScript, { state });
      assert.strictEqual(r.status, 1, state);
      assert.match(r.stderr, hint);
      assert.deepStrictEqual(r.changing, [], state);
      const check = runDisk(CONF, TARGET, renderDiskCheckScript, { state });
      assert.strictEqual(check.status, 1, state);
      assert.match(check.stderr, hint);
    }
  });

  it("refuses aio=native with a cache that is not direct (QEMU would not start the VM)", () => {
    const r = runDisk(
      "scsihw: virtio-scsi-single\nscsi0: local-lvm:vm-108-disk-0,aio=native,size=64G\n",
    );
    assert.strictEqual(r.status, 1);
    assert.match(
      r.stderr,
      /FAILED: scsi0 has aio=native and QEMU refuses aio=native without a direct cache \(cache=writeback is not\): VM 108 would not start again after qm reboot\. Change aio on scsi0 first/,
    );
    assert.deepStrictEqual(r.changing, []);
  });

  it("warns on aio=io_uring with a non-direct cache on LVM storage", () => {
    const r = runDisk(
      "scsihw: virtio-scsi-single\nscsi0: local-lvm:vm-108-disk-0,aio=io_uring,size=64G\n",
      TARGET,
      renderDiskScript,
      {
        startsAfter: 0,
        storageCfg: "lvmthin: other\n\tvgname pve\n\nlvm: local-lvm\n\tvgname pve\n",
      },
    );
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /WARNING: scsi0 has aio=io_uring with cache=writeback on lvm storage: io_uring with a non-direct cache can hang there/,
    );
  });

  it("refuses other pending changes a reboot would apply, unless the node opts in", () => {
    const changes =
      "cur memory: 2048\nnew memory: 4096\ncur scsi0: x\nnew scsi0: y\ndel net1: virtio\n";
    const refused = runDisk(CONF, TARGET, renderDiskScript, { changes, startsAfter: 0 });
    assert.strictEqual(refused.status, 1);
    assert.match(
      refused.stderr,
      /FAILED: VM 108 has other pending changes a qm reboot would apply too: memory delete:net1; apply or revert them first/,
    );
    assert.deepStrictEqual(refused.changing, []);
    const allowed = runDisk(CONF, { ...TARGET, applyPendingChanges: true }, renderDiskScript, {
      changes,
      startsAfter: 0,
    });
    assert.strictEqual(allowed.status, 0, allowed.stderr);
    assert.match(allowed.stdout, /qm reboot also applies the pending: memory delete:net1/);
  });

  it("on BTRFS storage without nocow, no cache= is QEMU's writeback, and none is written out", () => {
    const storageCfg = "btrfs: local-btrfs\n\tpath /var/lib/pve/local-btrfs\n";
    const conf =
      "scsihw: virtio-scsi-single\nscsi0: local-btrfs:108/vm-108-disk-0.raw,iothread=1\n";
    const same = runDisk(conf, TARGET, renderDiskScript, { storageCfg });
    assert.strictEqual(same.status, 0, same.stderr);
    assert.deepStrictEqual(same.changing, []);
    const none = runDisk(conf, { ...TARGET, cache: "none" }, renderDiskScript, {
      storageCfg,
      startsAfter: 0,
    });
    assert.strictEqual(none.status, 0, none.stderr);
    assert.match(none.stdout, /qm reboot 108 to apply: cache writeback->none\n/);
    assert.ok(
      none.changing.includes(
        "set 108 --scsi0 local-btrfs:108/vm-108-disk-0.raw,iothread=1,cache=none",
      ),
      none.changing.join(", "),
    );
  });

  it("disk check (before a drain): says a qm reboot follows only when the running VM lacks the options", () => {
    const owed = runDisk(CONF, TARGET, renderDiskCheckScript);
    assert.strictEqual(owed.status, 0, owed.stderr);
    assert.strictEqual(
      owed.stdout,
      "restart-follows qm reboot: cache none->writeback iothread 0->1\n",
    );
    assert.deepStrictEqual(owed.changing, []);
    const applied = runDisk(APPLIED, TARGET, renderDiskCheckScript);
    assert.strictEqual(applied.status, 0, applied.stderr);
    assert.strictEqual(applied.stdout, "");
  });

  it("refuses a locked VM, naming the node and the lock", () => {
    const r = runDisk(`lock: backup\n${CONF}`);
    assert.strictEqual(r.status, 1);
    assert.strictEqual(
      r.stderr,
      "k3s-vm-fawn (VM 108 on fawn): FAILED: VM 108 is locked (backup); refusing to change it while a backup, migration or snapshot runs\n",
    );
    assert.deepStrictEqual(r.calls, ["config 108 --current"]);
  });

  it("refuses iothread on a non-single SCSI controller unless the node opted in", () => {
    const lsi = "scsihw: lsi\nscsi0: local-zfs:vm-108-disk-0,size=64G\n";
    const refused = runDisk(lsi);
    assert.strictEqual(refused.status, 1);
    assert.match(refused.stderr, /needs the virtio-scsi-single controller but the VM has lsi/);
    const switched = runDisk(lsi, { ...TARGET, controllerChange: true });
    assert.strictEqual(switched.status, 0, switched.stderr);
    assert.ok(switched.calls.includes("set 108 --scsihw virtio-scsi-single"));
    assert.match(switched.current, /^scsihw: virtio-scsi-single$/m);
  });

  it("a VM resource owns the options: no qm set, one qm reboot only while they are pending", () => {
    const target: DiskTarget = { ...TARGET, optionsOwner: "vm-resource" };
    const pending = runDisk(CONF, target, renderDiskScript, { startsAfter: 2, pending: APPLIED });
    assert.strictEqual(pending.status, 0, pending.stderr);
    assert.deepStrictEqual(pending.changing, ["reboot 108 --timeout 600"]);
    assert.match(pending.stdout, /qm reboot 108 to apply: cache none->writeback iothread 0->1\n/);
    const applied = runDisk(APPLIED, target);
    assert.strictEqual(applied.status, 0, applied.stderr);
    assert.deepStrictEqual(applied.changing, []);
    assert.match(applied.stdout, /disk options already applied/);
  });

  it("a VM resource that did not set the options: refused, nothing set or restarted", () => {
    const target: DiskTarget = { ...TARGET, optionsOwner: "vm-resource" };
    const r = runDisk(CONF, target);
    assert.strictEqual(r.status, 1);
    assert.deepStrictEqual(r.changing, []);
    assert.strictEqual(
      r.stderr.trim().split("\n").pop(),
      "k3s-vm-fawn (VM 108 on fawn): FAILED: scsi0 is local-zfs:vm-108-disk-0,discard=on,cache=none,size=64G, pending included, not cache=writeback iothread=1; its VM resource owns the disk options: register etcdDiskTransform(spec) before the VM resources, then re-run",
    );
    const lsi = runDisk(CONF.replace("scsihw: virtio-scsi-single\n", ""), target);
    assert.strictEqual(lsi.status, 1);
    assert.deepStrictEqual(lsi.changing, []);
    assert.match(
      lsi.stderr,
      /FAILED: iothread=1 on scsi0 needs the virtio-scsi-single controller but the VM's config has lsi, pending included; its VM resource owns the disk options/,
    );
  });
});
