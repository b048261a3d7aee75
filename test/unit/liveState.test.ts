import * as assert from "assert";
import { nodeConfigYaml } from "../../components/K3sNode";
import { desiredLiveValues, drifted } from "../../components/NodeLiveState";
import { sha } from "../../components/liveRead";
import { renderSysctlFile } from "../../render";
import { buildClusterSpec } from "../../config";
import { validRaw } from "./fixtures";

describe("drift: the desired side of a node's live values", () => {
  it("is what readLive reports for a converged node", () => {
    const { spec } = buildClusterSpec(validRaw());
    const fawn = spec.nodes.find((n) => n.name === "k3s-vm-fawn")!;
    const values = desiredLiveValues(spec, fawn, false);
    assert.deepStrictEqual(values, {
      k3sVersion: "v1.33.6+k3s1",
      sysctl: { "vm.swappiness": "10", "vm.dirty_ratio": "5", "vm.dirty_background_ratio": "3" },
      sysctlFileSha: sha(renderSysctlFile("k3s-vm-fawn-sysctl-apply", fawn.sysctl)),
      configSha: sha(nodeConfigYaml(spec, fawn, false)),
      disk: "cache=writeback iothread=1",
    });
    assert.notStrictEqual(
      desiredLiveValues(spec, fawn, true).configSha,
      values.configSha,
      "agent-token-file changes config.yaml",
    );
  });
});

describe("drift: what counts as drift", () => {
  const { spec } = buildClusterSpec(validRaw());
  const values = desiredLiveValues(spec, spec.nodes[0], false);
  const changed = { ...values, sysctl: { ...values.sysctl, "vm.swappiness": "30" } };
  const props = { node: "n", target: {} as never, repairs: 0 };

  it("is a refresh seeing other values than both the converged and the desired ones", () => {
    assert.strictEqual(drifted({ ...props, values, live: changed }, { values }), true);
  });

  it("is not a converged node, nor a change of the desired values alone", () => {
    assert.strictEqual(drifted({ ...props, values, live: values }, { values }), false);
    // Without a refresh there is nothing live to compare.
    assert.strictEqual(drifted({ ...props, values }, { values: changed }), false);
    // A refresh before the new desired values are applied sees the old ones.
    assert.strictEqual(drifted({ ...props, values, live: values }, { values: changed }), false);
    // A refresh after they were applied (the state still holds the old desired values).
    assert.strictEqual(drifted({ ...props, values, live: changed }, { values: changed }), false);
  });
});
