import * as assert from "assert";
import { k3sChecks } from "../../doctor/nodeChecks";
import { buildClusterSpec } from "../../config";
import { Observed } from "../../plan";
import { ApiNode, NodeObservation } from "../../probe/observations";
import { validRaw } from "./fixtures";

const SPEC = buildClusterSpec(validRaw()).spec;
const PVE = SPEC.nodes.find((n) => n.name === "k3s-vm-pve")!;

function observedWith(api: ApiNode): { own: NodeObservation; observed: Observed } {
  const own: NodeObservation = {
    installedVersion: PVE.k3sVersion,
    service: { unit: "k3s", since: "Fri 2026-11-27 03:50:00 UTC" },
    configYaml: "",
    sysctl: {},
    sysctlFile: "",
    apiNodes: [api],
  };
  return { own, observed: { nodes: new Map([[PVE.name, own]]), hosts: new Map() } };
}

const readyLine = (api: ApiNode) => {
  const { own, observed } = observedWith(api);
  return k3sChecks(PVE, own, observed).find((c) => c.check === "node ready (API)")!;
};

describe("doctor: node readiness", () => {
  const api = { name: "k3s-vm-pve", kubeletVersion: PVE.k3sVersion, ready: "True" };

  it("is ok for a Ready, schedulable node", () => {
    const line = readyLine(api);
    assert.strictEqual(line.value, "Ready=True");
    assert.strictEqual(line.verdict, "ok");
  });

  it("warns about a node a roll left cordoned, and one cordoned by hand", () => {
    const byRoll = readyLine({ ...api, cordoned: "by-roll" });
    assert.strictEqual(byRoll.value, "Ready=True, cordoned by a roll whose gate did not pass");
    assert.strictEqual(byRoll.verdict, "warn");
    const byHand = readyLine({ ...api, cordoned: "by-hand" });
    assert.strictEqual(byHand.value, "Ready=True, cordoned");
    assert.strictEqual(byHand.verdict, "warn");
  });

  it("fails a NotReady node, cordoned or not", () => {
    assert.strictEqual(readyLine({ ...api, ready: "False", cordoned: "by-roll" }).verdict, "fail");
  });
});
