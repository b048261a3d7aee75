import * as pulumi from "@pulumi/pulumi";
import { HomelabCluster } from "./components";
import { ConfigError } from "./config";
import { readClusterFromStack } from "./config/fromPulumi";

function readOrExplain(): ReturnType<typeof readClusterFromStack> {
  try {
    return readClusterFromStack();
  } catch (error) {
    // A RunError is shown without a stack trace: the owner sees only the list of problems.
    if (error instanceof ConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
}

const { spec, warnings, secrets } = readOrExplain();
for (const warning of warnings) pulumi.log.warn(warning);

const cluster = new HomelabCluster("homelab", { spec, secrets });

/** Per node: desired version and sysctl, what the last run saw of disk, host txg and the gate. */
export const nodes = cluster.report;
