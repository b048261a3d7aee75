import { strict as assert } from "assert";
import { vmConfigViews } from "../../probe/vmConfigFile";

describe("a VM's config file read as qm config, qm config --current and qm pending show it", () => {
  it("lays [PENDING] over the main section, drops what delete: names, and skips snapshots", () => {
    const views = vmConfigViews(
      [
        "#managed by hand",
        "#second line",
        "agent: 1",
        "iothread-test: x",
        "memory: 2048",
        "net1: virtio=BC:24:11:00:00:01,bridge=vmbr1",
        "scsi0: local-zfs:vm-105-disk-0,size=64G   ",
        "scsihw: virtio-scsi-pci",
        "",
        "[PENDING]",
        "delete: net1,!agent;unused0",
        "scsi0: local-zfs:vm-105-disk-0,cache=writeback,iothread=1,size=64G",
        "scsihw: virtio-scsi-single",
        "",
        "[special:cloudinit]",
        "ipconfig0: ip=dhcp",
        "",
        "[before-upgrade]",
        "memory: 1024",
        "snaptime: 1796000000",
        "",
      ].join("\n"),
    );
    assert.deepStrictEqual(views.current, {
      agent: "1",
      "iothread-test": "x",
      memory: "2048",
      net1: "virtio=BC:24:11:00:00:01,bridge=vmbr1",
      scsi0: "local-zfs:vm-105-disk-0,size=64G",
      scsihw: "virtio-scsi-pci",
    });
    assert.deepStrictEqual(views.pending, {
      "iothread-test": "x",
      memory: "2048",
      scsi0: "local-zfs:vm-105-disk-0,cache=writeback,iothread=1,size=64G",
      scsihw: "virtio-scsi-single",
    });
    // format_pending: `del` only for a key with a current value, so unused0 is not listed.
    assert.deepStrictEqual(views.pendingKeys, ["delete:agent", "delete:net1", "scsi0", "scsihw"]);
  });

  it("keeps a deleted key whose value is 0, as load_current_config's Perl truth test does", () => {
    const views = vmConfigViews("onboot: 0\n[PENDING]\ndelete: onboot\n");
    assert.deepStrictEqual(views.pending, { onboot: "0" });
    assert.deepStrictEqual(views.pendingKeys, ["delete:onboot"]);
  });

  it("a key both set and deleted in [PENDING] counts as deleted", () => {
    const views = vmConfigViews("memory: 2048\n\n[PENDING]\ndelete: memory\nmemory: 4096\n");
    assert.deepStrictEqual(views.pending, {});
    assert.deepStrictEqual(views.pendingKeys, ["delete:memory"]);
  });

  it("a missing file is a VM with no config at all", () => {
    assert.deepStrictEqual(vmConfigViews(""), { current: {}, pending: {}, pendingKeys: [] });
  });
});
