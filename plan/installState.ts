import { yamlMap } from "./yamlMap";
import { NodeSpec } from "../config";
import { NodeObservation } from "../probe/observations";

/** What a node was installed with that the stack must carry: refusals and notes for preview. */
export interface InstallStateVerdict {
  readonly errors: string[];
  readonly warnings: string[];
}

/** Short flag names K3s declares (`node-ip,i` ... in pkg/cli/cmds/server.go and agent.go). */
const ALIASES: Readonly<Record<string, string>> = {
  i: "node-ip",
  d: "data-dir",
  t: "token",
  s: "server",
  c: "config",
};

/** K3S_* variables K3s reads as a flag's EnvVar (pkg/cli/cmds), by the flag they stand for. */
export const ENV_FLAGS: Readonly<Record<string, string>> = {
  K3S_TOKEN: "token",
  K3S_TOKEN_FILE: "token-file",
  K3S_URL: "server",
  K3S_AGENT_TOKEN: "agent-token",
  K3S_AGENT_TOKEN_FILE: "agent-token-file",
  K3S_NODE_NAME: "node-name",
  K3S_DATA_DIR: "data-dir",
  K3S_CLUSTER_INIT: "cluster-init",
  K3S_KUBECONFIG_MODE: "write-kubeconfig-mode",
  K3S_KUBECONFIG_OUTPUT: "write-kubeconfig",
};

/** Flags the program itself carries in config.yaml, by the key it writes for them. */
const MANAGED: Readonly<Record<string, string>> = {
  token: "token-file",
  "token-file": "token-file",
  "agent-token": "agent-token-file",
  "agent-token-file": "agent-token-file",
  server: "server",
};

/** Boolean flags that take no value (so `--cluster-init --node-ip X` reads right). */
const BOOLEAN = new Set([
  "cluster-init",
  "cluster-reset",
  "secrets-encryption",
  "embedded-registry",
  "flannel-ipv6-masq",
  "flannel-external-ip",
  "supervisor-metrics",
  "etcd-expose-metrics",
  "protect-kernel-defaults",
  "selinux",
  "rootless",
  "prefer-bundled-bin",
  "with-node-id",
  "debug",
]);

/** A flag that takes no value: `--flag` alone means true, and unset means false. */
export function isBooleanFlag(key: string): boolean {
  return BOOLEAN.has(key) || key.startsWith("disable-");
}

/** Flags a config.yaml writes as a list. */
export function isListKey(key: string): boolean {
  return ["tls-san", "node-label", "node-taint", "disable"].includes(key) || key.endsWith("-arg");
}

export function isSecretKey(key: string): boolean {
  return /token|secret|password/.test(key) && !key.endsWith("-file");
}

/** install.sh's env file next to the unit, as messages name it. */
function envFileName(node: NodeSpec): string {
  return node.role === "server" ? "k3s.service.env" : "k3s-agent.service.env";
}

function unitName(node: NodeSpec): string {
  return node.role === "server" ? "k3s.service" : "k3s-agent.service";
}

/** `--key=value`, `--key value` and `--flag` arguments, in order (the subcommand skipped). */
export function parseFlags(args: readonly string[]): [string, string][] {
  const flags: [string, string][] = [];
  const rest = args[0] === "server" || args[0] === "agent" ? args.slice(1) : args;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith("-")) continue;
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    let key = eq < 0 ? body : body.slice(0, eq);
    key = ALIASES[key] ?? key;
    if (eq >= 0) flags.push([key, body.slice(eq + 1)]);
    else if (isBooleanFlag(key)) flags.push([key, "true"]);
    else if (i + 1 < rest.length && !rest[i + 1].startsWith("-")) flags.push([key, rest[++i]]);
    else flags.push([key, "true"]);
  }
  return flags;
}

function asList(value: unknown): string[] {
  return ([] as unknown[]).concat(value).map(String);
}

/** How the stack would write the setting: `key: value` or `key: [a, b]`. */
function yamlLine(key: string, values: readonly string[]): string {
  return isListKey(key) || values.length > 1
    ? `${key}: [${values.join(", ")}]`
    : `${key}: ${values[0]}`;
}

/**
 * One setting the node has from outside config.yaml (ExecStart flags or the env file): carried
 * when config.yaml as the program writes it has it (or, for the token and server, the key the
 * program writes for them), else refused with what to put in the stack.
 */
function judge(
  node: NodeSpec,
  desired: Record<string, unknown>,
  key: string,
  values: readonly string[],
  shown: string,
  source: string,
): string | undefined {
  const drop = "re-running the installer drops it";
  const managed = MANAGED[key];
  if (managed !== undefined) {
    if (desired[managed] !== undefined) return undefined;
    return `node \`${node.name}\`: installed with ${shown} (${source}); ${drop}: set the secret \`k3s-homelab:agentToken\` (the program then writes \`agent-token-file\`)`;
  }
  if (key === "config") {
    return `node \`${node.name}\`: installed with ${shown} (${source}), so K3s reads that file, not the config.yaml the stack writes; ${drop}: move what that file sets into the node's \`config\` in the stack`;
  }
  const setting = isSecretKey(key)
    ? `\`${key}\` (its value from the node)`
    : `\`${yamlLine(key, values)}\``;
  const fix = `add ${setting} to the node's \`config\` in the stack`;
  const want = desired[key];
  if (want === undefined)
    return `node \`${node.name}\`: installed with ${shown} (${source}); ${drop}: ${fix}`;
  const wanted = asList(want);
  const carried =
    isListKey(key) || Array.isArray(want) || values.length > 1
      ? values.every((v) => wanted.includes(v))
      : wanted.length === 1 && wanted[0] === values[values.length - 1];
  if (carried) return undefined;
  const stackHas = isSecretKey(key) ? `\`${key}\`` : `\`${yamlLine(key, wanted)}\``;
  return `node \`${node.name}\`: installed with ${shown} (${source}), but the stack's config.yaml has ${stackHas}; ${drop} and the node would change: set ${setting} in the node's \`config\` in the stack instead, or change the node by hand first`;
}

/**
 * What re-running install.sh would drop on this node, and what overrides config.yaml. install.sh
 * deletes the unit and its env file (systemd_disable) and writes them again from its own
 * arguments and environment (create_systemd_service_file, create_env_file), so flags in ExecStart
 * and K3S_* values in the env file are lost unless the stack's config.yaml carries them; the
 * proxy and CONTAINERD_* values the prepare step hands to the installer again. Drop-ins under
 * config.yaml.d are read after config.yaml (K3s's pkg/configfilearg readConfigFile), so one
 * setting a key the stack writes to another value wins over the stack.
 */
export function checkInstallState(
  node: NodeSpec,
  own: NodeObservation,
  desiredConfigYaml: string,
): InstallStateVerdict {
  const verdict: InstallStateVerdict = { errors: [], warnings: [] };
  const desired = yamlMap(desiredConfigYaml);
  const reinstalls = own.installedVersion !== node.k3sVersion;
  if (reinstalls) {
    const byKey = new Map<string, string[]>();
    for (const [key, value] of parseFlags(own.execStart ?? [])) {
      byKey.set(key, [...(byKey.get(key) ?? []), value]);
    }
    for (const [key, values] of byKey) {
      const shown = values
        .map((v) =>
          v === "true" && BOOLEAN.has(key) ? `--${key}` : `--${key}=${isSecretKey(key) ? "…" : v}`,
        )
        .map((f) => `\`${f}\``)
        .join(", ");
      const problem = judge(node, desired, key, values, shown, `${unitName(node)} ExecStart`);
      if (problem) verdict.errors.push(problem);
    }
    const carried: string[] = [];
    for (const entry of own.unitEnv ?? []) {
      if (/^(NO|HTTP|HTTPS)_PROXY$/i.test(entry.name) || entry.name.startsWith("CONTAINERD_")) {
        carried.push(entry.name);
        continue;
      }
      if (!entry.name.startsWith("K3S_")) continue;
      const key = ENV_FLAGS[entry.name];
      const shown = `\`${entry.name}${entry.value === undefined ? "" : `=${entry.value}`}\``;
      const source = envFileName(node);
      const problem =
        key === undefined
          ? `node \`${node.name}\`: installed with ${shown} (${source}); re-running the installer drops it: put the K3s flag it stands for into the node's \`config\` in the stack`
          : judge(
              node,
              desired,
              key,
              entry.value === undefined ? [] : [entry.value],
              shown,
              source,
            );
      if (problem) verdict.errors.push(problem);
    }
    if (carried.length > 0) {
      verdict.warnings.push(
        `node \`${node.name}\`: ${envFileName(node)} has ${carried.join(", ")}: the installer rewrites that file, so the prepare step hands them to it again`,
      );
    }
  }
  for (const dropin of own.configDropins ?? []) {
    for (const [rawKey, value] of Object.entries(yamlMap(dropin.text))) {
      const key = rawKey.replace(/\+$/, "");
      if (desired[key] === undefined) continue;
      const same =
        !rawKey.endsWith("+") &&
        JSON.stringify(asList(value)) === JSON.stringify(asList(desired[key]));
      if (same) continue;
      verdict.errors.push(
        `node \`${node.name}\`: ${dropin.path} sets \`${rawKey}\`, which the stack writes in config.yaml; K3s reads config.yaml.d after config.yaml, so the drop-in wins: remove \`${rawKey}\` from that file or make the stack's value match it`,
      );
    }
  }
  return verdict;
}
