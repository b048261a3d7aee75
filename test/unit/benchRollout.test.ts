import * as assert from "assert";
import { LabEvent } from "../../lab/events";
import { batchedFloor, restartPlusGate } from "../../scripts/bench-rollout";

const event = (
  ts: string,
  host: string,
  tool: string,
  action: string,
  extra: Partial<LabEvent> = {},
): LabEvent => ({
  ts: `2026-11-27T05:00:${ts}Z`,
  host,
  tool,
  action,
  mutating: false,
  ...extra,
});

describe("bench:rollout measurement", () => {
  it("runs from the VM's poweroff to the last successful gate read of exactly that node", () => {
    const events = [
      event("00.000", "k3s-vm-pve", "lab", "poweroff"),
      event("20.000", "k3s-vm-pve", "k3s", "kubectl", {
        args: ["get", "node", "k3s-vm-pve", "-o", "jsonpath=x"],
        exitCode: 1,
      }),
      event("31.500", "k3s-vm-pve", "k3s", "kubectl", {
        args: ["get", "node", "k3s-vm-pve", "-o", "jsonpath=x"],
        exitCode: 0,
      }),
      event("40.000", "k3s-vm-pve", "k3s", "kubectl", {
        args: ["get", "node", "k3s-vm-pve-2", "-o", "jsonpath=x"],
        exitCode: 0,
      }),
    ];
    assert.strictEqual(restartPlusGate(events, "k3s-vm-pve"), 31.5);
  });

  it("says which node has no restart", () => {
    assert.throws(
      () => restartPlusGate([], "k3s-vm-fawn"),
      /k3s-vm-fawn: no VM restart in the event log/,
    );
  });

  it("sums the servers one by one and each agent batch's slowest, batches in stack-file order", () => {
    assert.strictEqual(batchedFloor([40, 42], [30, 35, 31, 33, 36], 1), 40 + 42 + 165);
    assert.strictEqual(batchedFloor([40, 42], [30, 35, 31, 33, 36], 2), 40 + 42 + 35 + 33 + 36);
    assert.strictEqual(batchedFloor([40], [30, 35, 31, 33, 36], 5), 40 + 36);
  });
});
