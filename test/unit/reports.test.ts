import * as assert from "assert";
import { parseDiskReport, parseRollRecord, parseSysctlOverrides } from "../../components/reports";

describe("step reports", () => {
  it("reads the roll record lines in step order", () => {
    assert.deepStrictEqual(
      parseRollRecord([
        "k3s-vm-fawn: wrote /etc/rancher/k3s/config.yaml\nrecord config changed\nrecord snapshot k3s-homelab-pre-upgrade\nrecord snapshot_location file:///var/lib/rancher/k3s/server/db/snapshots/k3s-homelab-pre-upgrade-k3s-vm-fawn-1764200000\nrecord installed v1.33.5+k3s1->v1.33.6+k3s1\n",
        "record rebooted cache none->writeback iothread 0->1\ncurrent: x\npending: x\n",
        "k3s-vm-fawn: k3s already runs the current binary and config\n",
        "k3s-vm-fawn: Ready at v1.33.6+k3s1 after 7s\nrecord gate_seconds 7\nrecord at 2026-11-27T04:20:00Z\n",
      ]),
      {
        done: [
          "config.yaml rewritten",
          "K3s v1.33.5+k3s1->v1.33.6+k3s1 installed",
          "qm reboot (cache none->writeback iothread 0->1)",
        ],
        snapshot: "k3s-homelab-pre-upgrade",
        snapshotLocation:
          "file:///var/lib/rancher/k3s/server/db/snapshots/k3s-homelab-pre-upgrade-k3s-vm-fawn-1764200000",
        gateSeconds: 7,
        at: "2026-11-27T04:20:00Z",
      },
    );
  });

  it("records a drain and the uncordon after the gate", () => {
    assert.deepStrictEqual(
      parseRollRecord([
        "restart-follows k3s-agent restart (binary or config changed)\n",
        "k3s-agent-1: drained agent-1\nrecord drained\n",
        "",
        "record restarted k3s-agent\n",
        "record gate_seconds 3\nk3s-agent-1: uncordoned agent-1\nrecord uncordoned\n",
      ]).done,
      ["drained", "k3s-agent restarted", "uncordoned"],
    );
  });

  it("a roll that changed nothing records nothing", () => {
    assert.deepStrictEqual(parseRollRecord(["", "", "", ""]), {
      done: [],
      snapshot: undefined,
      snapshotLocation: undefined,
      gateSeconds: undefined,
      at: undefined,
    });
  });

  it("reads the disk step's current and pending lines", () => {
    assert.deepStrictEqual(
      parseDiskReport(
        "x: y\ncurrent: local-zfs:vm-1,cache=writeback\npending: local-zfs:vm-1,cache=none\n",
      ),
      {
        current: "local-zfs:vm-1,cache=writeback",
        pending: "local-zfs:vm-1,cache=none",
      },
    );
  });

  it("reads sysctl override lines", () => {
    assert.deepStrictEqual(
      parseSysctlOverrides("a: wrote\noverride vm.swappiness /etc/sysctl.conf\n"),
      ["vm.swappiness /etc/sysctl.conf"],
    );
  });
});
