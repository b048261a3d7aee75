import { ENV_FLAGS, isBooleanFlag, isListKey, parseFlags } from "./installState";
import { yamlMap } from "./yamlMap";
import { K3S_AGENT_TOKEN_FILE, K3S_TOKEN_FILE } from "../render/files";
import type { NodeObservation } from "../probe/observations";

/** A K3s setting as K3s reads it: one value, or a list. */
export type K3sSettings = Record<string, string | string[]>;

/** What the unit hands K3s besides config.yaml: the env file, the drop-ins, the ExecStart flags. */
export type SettingSources = Pick<NodeObservation, "unitEnv" | "configDropins" | "execStart">;

/** A secret K3s reads that the probe does not print (the env file's K3S_TOKEN): equal to nothing. */
const UNREAD = "\u0000unread";

/** A value the probe could not read (`settingsAsRun` marks it so). */
export function isUnread(value: string | readonly string[] | undefined): boolean {
  return value === UNREAD || (Array.isArray(value) && value.includes(UNREAD));
}

function asText(value: unknown): string | string[] {
  return Array.isArray(value) ? value.map(String) : String(value);
}

function append(settings: K3sSettings, key: string, values: readonly string[]): void {
  const before = settings[key];
  settings[key] = [...(before === undefined ? [] : ([] as string[]).concat(before)), ...values];
}

/**
 * The settings K3s starts with, as flag names, secrets included where the probe read them: the
 * unit's env file (a flag's EnvVar, used only where nothing else sets it), `configYaml` and then
 * each drop-in (a `key+` appends to a list, any other key replaces: k3s-io/k3s
 * `pkg/configfilearg/parser.go` `readConfigFile`, `dotDFiles`), then the unit's ExecStart flags,
 * which K3s puts after the config file's: a flag replaces a value and a list flag appends to it
 * (`Parse`: "the non-config file flags will override, or if a slice append to, the config file
 * values").
 */
export function settingsAsRun(own: SettingSources, configYaml: string): K3sSettings {
  const settings: K3sSettings = {};
  for (const entry of own.unitEnv ?? []) {
    const key = ENV_FLAGS[entry.name];
    if (key !== undefined) settings[key] = entry.value ?? UNREAD;
  }
  for (const text of [configYaml, ...(own.configDropins ?? []).map((d) => d.text)]) {
    for (const [rawKey, value] of Object.entries(yamlMap(text))) {
      if (rawKey.endsWith("+"))
        append(settings, rawKey.slice(0, -1), ([] as unknown[]).concat(value).map(String));
      else settings[rawKey] = asText(value);
    }
  }
  for (const [key, value] of parseFlags(own.execStart ?? [])) {
    if (isListKey(key)) append(settings, key, [value]);
    else settings[key] = value;
  }
  return settings;
}

/** The join secrets the stack writes into the token files (renderTokenScript). */
export interface StackTokens {
  readonly token: string;
  readonly agentToken?: string;
}

/** K3s's own defaults (the server flags' defaults in k3s-io/k3s `pkg/cli/cmds/server.go`), so
 * writing a default explicitly is not a change. */
export const K3S_DEFAULTS: Readonly<Record<string, string>> = {
  "cluster-cidr": "10.42.0.0/16",
  "service-cidr": "10.43.0.0/16",
  "cluster-dns": "10.43.0.10",
  "cluster-domain": "cluster.local",
  "flannel-backend": "vxlan",
  "egress-selector-mode": "agent",
  "secrets-encryption-provider": "aescbc",
};

/** A token as the server holds it (`K10<ca hash>::server:<password>`) or as given: the part the
 * token step compares (renderTokenScript accepts both forms). */
function tokenPassword(value: string): string {
  const at = value.indexOf("::server:");
  return value.startsWith("K10") && at >= 0 ? value.slice(at + "::server:".length) : value;
}

/**
 * What two sets of settings are compared by: a `token-file` or `agent-token-file` naming the file
 * the token step writes stands for the stack's secret, and wins over `token` as K3s lets it
 * (k3s-io/k3s `pkg/cli/server/server.go` `run`: `if cfg.TokenFile != ""` reads the file over
 * `cfg.Token`); any other token file is unknown. A boolean flag's false is no flag; a default
 * written out is no setting; a list is its distinct values, in order for `*-arg` lists (a later
 * argument wins) and as a set otherwise.
 */
export function comparable(
  settings: K3sSettings,
  role: "server" | "agent",
  tokens: StackTokens,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const fileToken = (file: string | string[], secret: string | undefined, ours: string) =>
    file === ours && secret !== undefined ? secret : UNREAD;
  const joinSecret = role === "agent" ? (tokens.agentToken ?? tokens.token) : tokens.token;
  for (const [key, value] of Object.entries(settings)) {
    if (key === "token-file" || key === "agent-token-file") continue;
    if (isBooleanFlag(key)) {
      if (String(value) === "true") out[key] = "true";
      continue;
    }
    if (!Array.isArray(value) && K3S_DEFAULTS[key] === value) continue;
    if (Array.isArray(value) || isListKey(key)) {
      const distinct = [...new Set(([] as string[]).concat(value))];
      out[key] = key.endsWith("-arg") ? distinct : distinct.sort();
      continue;
    }
    out[key] = value;
  }
  if (settings["token-file"] !== undefined)
    out.token = fileToken(settings["token-file"], joinSecret, K3S_TOKEN_FILE);
  if (settings["agent-token-file"] !== undefined)
    out["agent-token"] = fileToken(
      settings["agent-token-file"],
      tokens.agentToken,
      K3S_AGENT_TOKEN_FILE,
    );
  for (const key of ["token", "agent-token"]) {
    const value = out[key];
    if (typeof value === "string") out[key] = tokenPassword(value);
  }
  return out;
}

/** Keys whose comparable values differ between what K3s runs with and what it would run with
 * once `desiredYaml` replaces config.yaml (same unit, same env file, same drop-ins). Empty when
 * the new file changes nothing K3s does; a secret the probe could not read always counts. */
export function settingsThatChange(
  own: SettingSources,
  runningYaml: string,
  desiredYaml: string,
  role: "server" | "agent",
  tokens: StackTokens,
): string[] {
  const before = comparable(settingsAsRun(own, runningYaml), role, tokens);
  const after = comparable(settingsAsRun(own, desiredYaml), role, tokens);
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter(
      (k) =>
        isUnread(before[k]) ||
        isUnread(after[k]) ||
        JSON.stringify(before[k]) !== JSON.stringify(after[k]),
    )
    .sort();
}
