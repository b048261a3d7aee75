import * as assert from "assert";
import { spawnSync } from "child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { DiskTarget, renderDiskCheckScript, renderDiskScript } from "../../render";
import { FAWN_DISK } from "./fixtures";

/** A minimal `qm` that keeps the current and pending views in two files and records its calls.
 * The lab's stand-in models Proxmox in full; this one only lets the script's logic be run. */
const QM_STUB = `#!/bin/sh
D="$STUB_DIR"; echo "$*" >> "$D/calls"
case "$1" in
  config) if [ "\${3:-}" = --current ]; then cat "$D/current"; else cat "$D/pending"; fi ;;
  set) key=\${3#--}; grep -v "^$key:" "$D/pending" > "$D/p2"; echo "$key: $4" >> "$D/p2"; mv "$D/p2" "$D/pending" ;;
  status) echo "status: running" ;;
  reboot) cp "$D/pending" "$D/current" ;;
esac
`;

const TARGET = FAWN_DISK;

function runDisk(conf: string, target: DiskTarget = TARGET, render = renderDiskScript) {
  const dir = mkdtempSync(join(tmpdir(), "k3s-homelab-qm-"));
  writeFileSync(join(dir, "qm"), QM_STUB);
  chmodSync(join(dir, "qm"), 0o755);
  writeFileSync(join(dir, "current"), conf);
  writeFileSync(join(dir, "pending"), conf);
  writeFileSync(join(dir, "calls"), "");
  const result = spawnSync("sh", ["-c", render(target)], {
    encoding: "utf8",
    env: { PATH: `${dir}:/usr/bin:/bin`, STUB_DIR: dir },
  });
  const calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
  return { ...result, calls, current: readFileSync(join(dir, "current"), "utf8") };
}

const CONF =
  "boot: order=scsi0\nscsihw: virtio-scsi-single\nscsi0: local-zfs:vm-108-disk-0,discard=on,cache=none,size=64G\n";

describe("disk script, run against a qm stub", () => {
  it("rebuilds the drive string keeping every other option, then reboots once", () => {
    const r = runDisk(CONF);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(
      r.calls.filter((c) => !c.startsWith("config") && !c.startsWith("status")),
      [
        "set 108 --scsi0 local-zfs:vm-108-disk-0,discard=on,cache=writeback,size=64G,iothread=1",
        "reboot 108 --timeout 600",
      ],
    );
    assert.match(r.stdout, /qm reboot 108 to apply: cache none->writeback iothread 0->1\n/);
    assert.match(
      r.stdout,
      /current: local-zfs:vm-108-disk-0,discard=on,cache=writeback,size=64G,iothread=1\n/,
    );
  });

  it("changes nothing when the options are already applied", () => {
    const r = runDisk(
      "scsihw: virtio-scsi-single\nscsi0: local-zfs:vm-108-disk-0,cache=writeback,iothread=1,size=64G\n",
    );
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(
      r.calls.filter((c) => !c.startsWith("config")),
      [],
    );
    assert.match(r.stdout, /disk options already applied/);
  });

  it("disk check (before a drain): says a qm reboot follows only when the running VM lacks the options", () => {
    const owed = runDisk(CONF, TARGET, renderDiskCheckScript);
    assert.strictEqual(owed.status, 0, owed.stderr);
    assert.strictEqual(
      owed.stdout,
      "restart-follows qm reboot: cache none->writeback iothread 0->1\n",
    );
    assert.ok(!owed.calls.some((c) => /^(set|reboot)/.test(c)), owed.calls.join(", "));
    const applied = runDisk(
      "scsihw: virtio-scsi-single\nscsi0: local-zfs:vm-108-disk-0,cache=writeback,iothread=1,size=64G\n",
      TARGET,
      renderDiskCheckScript,
    );
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
});
