import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec } from "../config/spec";
import { keepSettling, Observed, restartingNodes, settleLine } from "../plan";
import { probeCluster } from "./probeCluster";

const SETTLE_POLL_MS = 5000;

/**
 * The probe, and in `up` (never in preview) a wait when it finds a VM that a `qm reboot` is still
 * restarting, as a killed or interrupted run leaves it: the probe runs again every 5 s, with a
 * progress line, until no VM is restarting and `problems` (the preflight's errors) names none of
 * the nodes that were (keepSettling), at most `gateTimeoutSeconds`. What the last probe saw goes
 * to the preflight either way.
 */
export async function probeSettled(
  spec: ClusterSpec,
  privateKey: string,
  problems: (observed: Observed) => readonly string[],
): Promise<Observed> {
  let observed = await probeCluster(spec, privateKey);
  if (pulumi.runtime.isDryRun() || restartingNodes(spec, observed).length === 0) return observed;
  const started = Date.now();
  const timeout = spec.gateTimeoutSeconds;
  const cameBack = new Set<string>();
  for (;;) {
    const nodes = restartingNodes(spec, observed);
    nodes.forEach((r) => cameBack.add(r.node));
    const restarting = nodes.map((r) => r.what);
    const found = problems(observed);
    if (!keepSettling(restarting, found, [...cameBack])) return observed;
    const waited = Math.round((Date.now() - started) / 1000);
    if (waited >= timeout) return observed;
    pulumi.log.info(settleLine(waited, timeout, restarting, found[0]));
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    observed = await probeCluster(spec, privateKey);
  }
}
