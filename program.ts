import * as pulumi from "@pulumi/pulumi";
import { HomelabCluster, nodeConfigYaml } from "./components";
import { refusalError } from "./errorStack";
import { ConfigError } from "./config";
import { readClusterFromStack } from "./config/fromPulumi";
import { agentBatchLine, formatPlan, fsyncGateLine, Observed, preflight } from "./plan";
import { probeSettled } from "./probe/settle";

/** Problems are shown as a list without a stack trace. */
function refuse(title: string, problems: readonly string[]): never {
  throw refusalError(`${title}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
}

/**
 * The whole program: validate the stack config, probe every machine read-only, refuse what is
 * unsafe, print the roll plan, then register the cluster. `index.ts` hands it to the Pulumi CLI;
 * the e2e tests and the demo run it as an Automation API inline program.
 */
export async function homelabProgram() {
  let stack: ReturnType<typeof readClusterFromStack>;
  try {
    stack = readClusterFromStack();
  } catch (error) {
    if (error instanceof ConfigError) refuse("invalid stack config", error.problems);
    throw error;
  }
  const { spec, warnings, secrets, plainPrivateKey, plainTokens } = stack;
  for (const warning of warnings) pulumi.log.warn(warning);

  // Read-only look at every machine before anything is registered: refusals stop here.
  const hasAgentToken = secrets.agentToken !== undefined;
  const check = (observed: Observed) =>
    preflight(
      spec,
      observed,
      (n) => nodeConfigYaml(spec, n, hasAgentToken),
      spec.roll,
      plainTokens,
    );
  // A VM an interrupted run's qm reboot is still restarting: up waits for it (preview does not).
  const observed = await probeSettled(spec, plainPrivateKey, (o) => check(o).errors);
  const verdict = check(observed);
  for (const warning of verdict.warnings) pulumi.log.warn(warning);
  if (verdict.errors.length > 0) refuse("preflight refused the roll", verdict.errors);
  pulumi.log.info(
    formatPlan(
      verdict.plan,
      verdict.repairs,
      spec.roll.drain,
      fsyncGateLine(spec),
      agentBatchLine(spec),
    ),
  );

  const repair = spec.roll.repair
    ? Object.fromEntries(verdict.repairs.map((r) => [r.node, r.reason]))
    : undefined;
  const cluster = new HomelabCluster("homelab", {
    spec,
    secrets,
    repair,
    sameSettingsAs: verdict.sameSettingsAs,
  });
  return {
    /** Per node: desired version and sysctl, what the last run saw of disk, host txg and the gate. */
    nodes: cluster.report,
    /** What this run planned to restart, in order. */
    plan: verdict.plan,
    /** In repair mode: the nodes found unhealthy, restarted first. */
    ...(repair ? { repair: verdict.repairs } : {}),
  };
}
