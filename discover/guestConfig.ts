import { ENV_FLAGS, isListKey, isSecretKey, parseFlags } from "../plan/installState";
import { yamlMap } from "../plan/yamlMap";
import type { NodeObservation } from "../probe/observations";

type K3sConfig = Record<string, string | string[]>;

function asText(value: unknown): string | string[] {
  return Array.isArray(value) ? value.map(String) : String(value);
}

function append(config: K3sConfig, key: string, values: string | string[]): void {
  const before = config[key];
  config[key] = [...(before === undefined ? [] : ([] as string[]).concat(before)), ...values];
}

/** config.yaml, then each drop-in in the order K3s reads them: a `key+` appends to a list, any
 * other key replaces (k3s-io/k3s `pkg/configfilearg/parser.go` `readConfigFile`, `dotDFiles`). */
function fromFiles(own: NodeObservation): K3sConfig {
  const config: K3sConfig = {};
  const files = [own.configYaml, ...(own.configDropins ?? []).map((d) => d.text)];
  for (const text of files) {
    for (const [rawKey, value] of Object.entries(yamlMap(text))) {
      if (rawKey.endsWith("+"))
        append(config, rawKey.slice(0, -1), ([] as unknown[]).concat(value).map(String));
      else config[rawKey] = asText(value);
    }
  }
  return config;
}

/**
 * The K3s settings a guest runs with, as flag names, secrets left out: the unit's env file
 * (a flag's EnvVar, used only where nothing else sets it), config.yaml and its drop-ins, then the
 * unit's ExecStart flags, which K3s puts after the config file's: a flag replaces a value and a
 * list flag appends to it (`pkg/configfilearg/parser.go` `Parse`: "the non-config file flags will
 * override, or if a slice append to, the config file values").
 */
export function k3sConfigAsRun(own: NodeObservation): K3sConfig {
  const config: K3sConfig = {};
  for (const entry of own.unitEnv ?? []) {
    const key = ENV_FLAGS[entry.name];
    if (key !== undefined && entry.value !== undefined) config[key] = entry.value;
  }
  Object.assign(config, fromFiles(own));
  for (const [key, value] of parseFlags(own.execStart ?? [])) {
    if (isListKey(key)) append(config, key, [value]);
    else config[key] = value;
  }
  for (const key of Object.keys(config)) if (isSecretKey(key)) delete config[key];
  return config;
}
