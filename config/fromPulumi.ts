import * as pulumi from "@pulumi/pulumi";
import { buildClusterSpec, ValidatedCluster } from "./build";
import { ConfigError } from "./problems";
import { ClusterSecrets } from "./spec";
import { CONFIG_NAMESPACE, sortStackEntries } from "./stackFile";

/** Reads and validates the running stack's config; the only place that reads pulumi.Config.
 * Throws a ConfigError listing every problem before any resource is registered. */
export function readClusterFromStack(): ValidatedCluster & {
  secrets: ClusterSecrets<pulumi.Output<string>>;
  /** For the read-only probe, which runs in this process; never exported or logged. */
  plainPrivateKey: string;
  /** For preflight's comparison of the token a node runs with; never exported or logged. */
  plainTokens: { token: string; agentToken?: string };
} {
  // allConfig() hands over decrypted values; only key names and presence are used here.
  const all = pulumi.runtime.allConfig();
  const entries = sortStackEntries(all, () => true);
  const missing = entries.missingSecrets.map(
    (key) =>
      `stack config: secret \`${CONFIG_NAMESPACE}:${key}\` is not set (pulumi config set --secret ${key} ...)`,
  );
  let validated: ValidatedCluster;
  try {
    validated = buildClusterSpec(entries.structured);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError([...entries.problems, ...missing, ...error.problems]);
  }
  if (entries.problems.length + missing.length > 0)
    throw new ConfigError([...entries.problems, ...missing]);
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  return {
    ...validated,
    plainPrivateKey: all[`${CONFIG_NAMESPACE}:sshPrivateKey`],
    plainTokens: {
      token: all[`${CONFIG_NAMESPACE}:token`],
      agentToken: all[`${CONFIG_NAMESPACE}:agentToken`],
    },
    secrets: {
      sshPrivateKey: config.requireSecret("sshPrivateKey"),
      token: config.requireSecret("token"),
      agentToken: config.getSecret("agentToken"),
    },
  };
}
