/**
 * `npm run validate -- Pulumi.homelab.yaml`: the program's config checks, offline, on a stack file.
 * Exit 0 with a one-line summary when valid (warnings on stderr), 1 with one line per problem.
 */
import { readFileSync } from "fs";
import { parse } from "yaml";
import { buildClusterSpec, ConfigError, listedOrderWarning, sortStackEntries } from "../config";

function isEncrypted(value: unknown): boolean {
  return typeof value === "object" && value !== null && "secure" in value;
}

function main(argv: string[]): number {
  const file = argv[0];
  if (!file || argv.length > 1) {
    console.error("usage: npm run validate -- <Pulumi.STACK.yaml>");
    return 1;
  }
  let document: unknown;
  try {
    document = parse(readFileSync(file, "utf8"));
  } catch (error) {
    console.error(`${file}: cannot read it as YAML: ${(error as Error).message}`);
    return 1;
  }
  const config = (document as { config?: Record<string, unknown> } | null)?.config ?? {};
  const entries = sortStackEntries(config, isEncrypted);
  let problems = [...entries.problems];
  try {
    const built = buildClusterSpec(entries.structured);
    const spec = built.spec;
    const orderWarning = listedOrderWarning(entries.structured);
    const warnings = orderWarning ? [...built.warnings, orderWarning] : built.warnings;
    if (problems.length === 0) {
      for (const warning of warnings) console.error(`warning: ${warning}`);
      for (const key of entries.missingSecrets) {
        console.error(
          `note: secret \`k3s-homelab:${key}\` is not set yet (pulumi config set --secret ${key} ...)`,
        );
      }
      const servers = spec.nodes.filter((n) => n.role === "server").length;
      console.log(
        `${file}: valid: ${spec.nodes.length} nodes (${servers} servers, ${spec.nodes.length - servers} agents) on ${spec.hosts.length} Proxmox hosts, K3s ${spec.k3sVersion}, ${warnings.length} warnings`,
      );
      return 0;
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = [...problems, ...error.problems];
  }
  for (const problem of problems) console.log(`${file}: ${problem}`);
  return 1;
}

process.exitCode = main(process.argv.slice(2));
