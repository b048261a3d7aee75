import { NodeRole } from "../config";
import { k3sUnit } from "./step";

/** The env file install.sh writes next to the unit (`FILE_K3S_ENV` in its setup_env). */
export function unitEnvFile(role: NodeRole): string {
  return `/etc/systemd/system/${k3sUnit(role)}.service.env`;
}

/**
 * Shell lines setting CARRIED to the proxy and CONTAINERD_* lines of the node's env file.
 * install.sh deletes that file (systemd_disable) and writes it again from its own environment
 * (create_env_file: `^(K3S|CONTAINERD)_` and, case-insensitively, `^(NO|HTTP|HTTPS)_PROXY`), so
 * the installer gets them again through `carried_env` and the node keeps them. K3S_* values are
 * carried by config.yaml or refused by preflight. Values are never printed, only names.
 */
export function carriedEnvLines(role: NodeRole): string[] {
  const file = unitEnvFile(role);
  return [
    `CARRIED=$({ grep -E '^CONTAINERD_[A-Za-z0-9_]*=' ${file}; grep -Ei '^(NO|HTTP|HTTPS)_PROXY=' ${file}; } 2>/dev/null || true)`,
    "# The file holds install.sh's `sh -c export` lines (NAME='value'), so the shell reads them back.",
    'carried_env() { set -a; eval "$CARRIED"; set +a; }',
  ];
}
