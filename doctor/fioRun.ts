import { ClusterSpec, NodeSpec } from "../config";
import { Observed } from "../plan/observed";
import { renderFioScript } from "../probe/doctorScripts";
import { probeCluster } from "../probe/probeCluster";
import { ProbeError, runRemoteScript } from "../probe/ssh";
import { fioRefusals } from "./health";
import { FioReading, parseFioRun } from "./readings";

export interface FioOptions {
  /** fio's --runtime cap in seconds. */
  readonly runtimeSeconds: number;
  /** Progress lines (to stderr, so `--json` stays one document). */
  readonly log: (line: string) => void;
}

/** Free space the etcd file system must keep besides fio's 22 MiB. */
const MIN_FREE_KIB = 256 * 1024;

/**
 * etcd's fio disk check on each server, one at a time. Before each run the cluster is checked
 * again (the first time with the readings already taken) and fio is refused while it is
 * unhealthy: a disk benchmark must not be the load that tips a degraded cluster over.
 */
export async function runFioChecks(
  spec: ClusterSpec,
  privateKey: string,
  initial: Observed,
  desiredConfigYaml: (node: NodeSpec) => string,
  options: FioOptions,
): Promise<Map<string, FioReading>> {
  const results = new Map<string, FioReading>();
  const script = renderFioScript({
    runtimeSeconds: options.runtimeSeconds,
    minFreeKiB: MIN_FREE_KIB,
  });
  let observed = initial;
  for (const [i, node] of spec.nodes.filter((n) => n.role === "server").entries()) {
    if (i > 0) observed = await probeCluster(spec, privateKey);
    const refusals = fioRefusals(spec, observed, desiredConfigYaml);
    if (refusals.length > 0) {
      options.log(
        `doctor: fio on ${node.name} refused: the cluster is unhealthy: ${refusals.join("; ")}`,
      );
      results.set(node.name, {
        kind: "not-run",
        reason: `refused while the cluster is unhealthy: ${refusals.join("; ")}`,
        verdictHint: "warn",
      });
      continue;
    }
    options.log(
      `doctor: fio on ${node.name} (etcd's disk check, at most ${options.runtimeSeconds} s)`,
    );
    try {
      const run = await runRemoteScript(
        node,
        privateKey,
        script,
        (options.runtimeSeconds + 120) * 1000,
      );
      results.set(node.name, parseFioRun(run.stdout));
    } catch (error) {
      if (!(error instanceof ProbeError)) throw error;
      results.set(node.name, {
        kind: "not-run",
        reason: `fio run failed: ${error.message}`,
        verdictHint: "fail",
      });
    }
  }
  return results;
}
