/** A K3s release such as `v1.33.6+k3s1`. The `+k3sN` revision is compared explicitly: semver
 * ignores build metadata, but `+k3s1` and `+k3s2` are different binaries. */
export interface K3sVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly revision: number;
}

export const K3S_VERSION_PATTERN = /^v(\d+)\.(\d+)\.(\d+)\+k3s(\d+)$/;

export function parseK3sVersion(text: string): K3sVersion | undefined {
  const match = K3S_VERSION_PATTERN.exec(text);
  if (!match) return undefined;
  const [major, minor, patch, revision] = match.slice(1).map(Number);
  return { major, minor, patch, revision };
}

/** Negative when `a` is older than `b`, zero when equal, positive when newer. */
export function compareK3sVersions(a: K3sVersion, b: K3sVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || a.revision - b.revision;
}

/** How many minor releases separate two versions (absolute); Infinity across majors. */
export function minorDistance(a: K3sVersion, b: K3sVersion): number {
  return a.major === b.major ? Math.abs(a.minor - b.minor) : Infinity;
}
