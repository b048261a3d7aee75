/** Single-quotes a value for POSIX sh. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The opening of every remote script: strict mode, and `say`/`warn`/`fail` helpers that name the
 * machine, so a failed step tells the owner which node or host and what did not hold.
 */
export function prelude(who: string): string {
  return [
    "set -eu",
    `WHO=${shellQuote(who)}`,
    'say() { printf \'%s: %s\\n\' "$WHO" "$*"; }',
    'warn() { printf \'%s: WARNING: %s\\n\' "$WHO" "$*" >&2; }',
    'fail() { printf \'%s: FAILED: %s\\n\' "$WHO" "$*" >&2; exit 1; }',
  ].join("\n");
}

/** Shell lines that write `content` to `path` atomically, only when it differs, with `mode`.
 * Sets CHANGED=1 when the file was written. */
export function writeFileIfChanged(path: string, content: string, mode: string): string {
  const marker = "K3S_HOMELAB_EOF";
  if (content.includes(marker)) throw new Error(`file content for ${path} contains ${marker}`);
  const dir = path.slice(0, path.lastIndexOf("/"));
  return [
    `mkdir -p ${shellQuote(dir)}`,
    `tmp=$(mktemp ${shellQuote(`${dir}/.k3s-homelab.XXXXXX`)})`,
    `cat > "$tmp" <<'${marker}'`,
    content.endsWith("\n") ? content.slice(0, -1) : content,
    marker,
    `if [ -f ${shellQuote(path)} ] && cmp -s "$tmp" ${shellQuote(path)}; then`,
    '  rm -f "$tmp"; CHANGED=0',
    "else",
    `  chmod ${mode} "$tmp"; mv -f "$tmp" ${shellQuote(path)}; CHANGED=1`,
    "fi",
  ].join("\n");
}

/** Shell lines that stage `content` for `path` in a temporary file beside it (STAGED), removed
 * again if the script exits before `commitStagedFile`, and set CHANGED=1 when it differs from
 * what `path` holds. Nothing is changed until the commit. */
export function stageFile(path: string, content: string, mode: string): string {
  const marker = "K3S_HOMELAB_EOF";
  if (content.includes(marker)) throw new Error(`file content for ${path} contains ${marker}`);
  const dir = path.slice(0, path.lastIndexOf("/"));
  return [
    `mkdir -p ${shellQuote(dir)}`,
    `STAGED=$(mktemp ${shellQuote(`${dir}/.k3s-homelab.XXXXXX`)})`,
    `trap 'rm -f "$STAGED"' EXIT`,
    `cat > "$STAGED" <<'${marker}'`,
    content.endsWith("\n") ? content.slice(0, -1) : content,
    marker,
    `chmod ${mode} "$STAGED"`,
    `if [ -f ${shellQuote(path)} ] && cmp -s "$STAGED" ${shellQuote(path)}; then CHANGED=0; else CHANGED=1; fi`,
  ].join("\n");
}

/** Shell lines that move a file staged by `stageFile` into place when it changed. */
export function commitStagedFile(path: string): string {
  return `if [ "$CHANGED" = 1 ]; then mv -f "$STAGED" ${shellQuote(path)}; else rm -f "$STAGED"; fi`;
}

/** Shell lines for a `delete` that removes `path` only while it still holds `sha256`, the hash of
 * what this resource wrote; otherwise the file is left alone and the script says why. */
export function removeFileIfOwned(path: string, sha256: string): string {
  const p = shellQuote(path);
  return [
    `if [ ! -e ${p} ]; then say "${path} is already gone"`,
    `elif [ "$(sha256sum < ${p} | cut -d' ' -f1)" = ${shellQuote(sha256)} ]; then rm -f ${p}; say "removed ${path}"`,
    `else say "left ${path}: it no longer holds what this resource wrote"; fi`,
  ].join("\n");
}
