import { isBooleanFlag, isSecretKey } from "../plan/installState";
import { isUnread, settingsAsRun } from "../plan/effectiveConfig";
import type { NodeObservation } from "../probe/observations";

type K3sConfig = Record<string, string | boolean | string[]>;

/**
 * The K3s settings a guest runs with, as flag names, secrets left out (`settingsAsRun`: the
 * unit's env file, config.yaml and its drop-ins, then the unit's ExecStart flags). A boolean flag
 * stays a boolean, as config.yaml writes it (`cluster-init: true`), so the stack's config.yaml
 * says what the node's does.
 */
export function k3sConfigAsRun(own: NodeObservation): K3sConfig {
  const config: K3sConfig = {};
  for (const [key, value] of Object.entries(settingsAsRun(own, own.configYaml))) {
    if (isSecretKey(key) || isUnread(value)) continue;
    config[key] =
      isBooleanFlag(key) && (value === "true" || value === "false") ? value === "true" : value;
  }
  return config;
}
