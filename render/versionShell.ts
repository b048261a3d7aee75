import { parseK3sVersion } from "../config";

/** Shell function `vkey VERSION` printing a comparable number for `vX.Y.Z+k3sN` (empty if the
 * text is not a K3s version). The `+k3sN` revision is part of the key. */
export const VKEY_FUNCTION =
  "vkey() { printf '%s\\n' \"$1\" | sed -n 's/^v\\([0-9]*\\)\\.\\([0-9]*\\)\\.\\([0-9]*\\)+k3s\\([0-9]*\\)$/\\1 \\2 \\3 \\4/p' | awk '{ printf \"%d\\n\", (($1 * 1000 + $2) * 1000 + $3) * 1000 + $4 }'; }";

/** The same key, computed here for the desired version. */
export function versionKey(version: string): number {
  const v = parseK3sVersion(version);
  if (!v) throw new Error(`not a K3s version: ${version}`);
  return ((v.major * 1000 + v.minor) * 1000 + v.patch) * 1000 + v.revision;
}
