import { Problem } from "./problems";

export const CONFIG_NAMESPACE = "k3s-homelab";
const STRUCTURED_KEYS = ["cluster", "hosts", "nodes"] as const;
const REQUIRED_SECRETS = ["sshPrivateKey", "token"] as const;
const OPTIONAL_SECRETS = ["agentToken"] as const;
const SECRET_KEYS: readonly string[] = [...REQUIRED_SECRETS, ...OPTIONAL_SECRETS];

/** A stack's config entries in this project's namespace, sorted out before zod sees them. */
export interface StackEntries {
  /** `{ cluster, hosts, nodes }` for buildClusterSpec. */
  readonly structured: Record<string, unknown>;
  readonly problems: Problem[];
  /** Required secrets that are not set yet (reported by `validate`, fatal for `pulumi up`). */
  readonly missingSecrets: string[];
}

/**
 * Splits a stack's config map (full keys such as `k3s-homelab:nodes`) into the structured part
 * and checks the secrets. `isSecret` says whether a value is stored encrypted.
 */
export function sortStackEntries(
  config: Readonly<Record<string, unknown>>,
  isSecret: (value: unknown) => boolean,
): StackEntries {
  const structured: Record<string, unknown> = {};
  const problems: Problem[] = [];
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const [fullKey, value] of Object.entries(config)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    if ((STRUCTURED_KEYS as readonly string[]).includes(key)) {
      structured[key] = parseIfJson(value);
    } else if (SECRET_KEYS.includes(key)) {
      if (!isSecret(value)) {
        problems.push(
          `stack config: \`${fullKey}\` is stored in plain text; set it with \`pulumi config set --secret ${key}\``,
        );
      }
    } else {
      problems.push(
        `stack config: unknown key \`${fullKey}\` (known: ${[...STRUCTURED_KEYS, ...SECRET_KEYS].join(", ")})`,
      );
    }
  }
  const missingSecrets = REQUIRED_SECRETS.filter((key) => !(`${prefix}${key}` in config));
  return { structured, problems, missingSecrets };
}

/** `pulumi.runtime.allConfig()` hands objects over as JSON text. */
function parseIfJson(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
