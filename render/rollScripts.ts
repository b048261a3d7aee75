import { NodeRole } from "../config";
import { restartFollowsLines, uncordonLines } from "./drainScripts";
import { ETCD_FUNCTIONS } from "./etcdApi";
import {
  K3S_AGENT_TOKEN_FILE,
  K3S_CONFIG_FILE,
  K3S_STARTED_CONFIG_FILE,
  K3S_TOKEN_FILE,
} from "./files";
import { commitStagedFile, prelude, shellQuote, stageFile } from "./shell";
import { header, k3sUnit, RollTarget, SameSettings, unitAgeLines, unitWhyFunction } from "./step";
import { carriedEnvLines, unitEnvFile } from "./installerEnv";
import { awaitReadyFunction, unitJobLines, unitSnapshotLines } from "./unitJobs";
import { VKEY_FUNCTION, versionKey } from "./versionShell";

/** Default for `cluster.roll.keepSnapshots`: how many of this tool's own snapshots a server keeps
 * (K3s never prunes snapshots saved with `--name`: `save` runs with retention 0). */
export const DEFAULT_KEEP_SNAPSHOTS = 5;

/**
 * Guest, first roll step: refuses a downgrade or a skipped minor, checks the virtio_scsi driver
 * when the controller will change, snapshots etcd on a server before an upgrade or config change
 * (and fails when the save wrote nothing, as on a learner), and only then writes config.yaml and
 * installs the new K3s without starting it (the restart comes later, once).
 */
export function renderPrepareScript(
  target: RollTarget,
  configYaml: string,
  installerUrl: string,
  controllerChange: boolean,
  announceRestart = false,
  keepSnapshots = DEFAULT_KEEP_SNAPSHOTS,
): string {
  const want = target.k3sVersion;
  const same = target.sameSettings;
  return [
    header(target, "prepare"),
    VKEY_FUNCTION,
    `WANT=${want}`,
    "have=$(k3s --version 2>/dev/null | awk 'NR==1 { print $3 }') || have=''",
    'if [ -n "$have" ]; then',
    '  hk=$(vkey "$have")',
    '  [ -n "$hk" ] || fail "cannot read the installed K3s version ($have)"',
    `  if [ "$hk" -gt ${versionKey(want)} ]; then fail "runs $have, newer than $WANT: refusing to downgrade"; fi`,
    `  if [ $(( ${Math.floor(versionKey(want) / 1e6)} - hk / 1000000 )) -gt 1 ]; then`,
    '    fail "runs $have: going to $WANT would skip a minor release; upgrade one minor at a time"',
    "  fi",
    "fi",
    ...(controllerChange
      ? [
          "# virtio-scsi-single needs the virtio_scsi driver at boot, or the guest will not find its disk.",
          "kver=$(uname -r)",
          'if ! grep -q "/virtio_scsi.ko" "/lib/modules/$kver/modules.builtin" 2>/dev/null &&',
          '   ! lsinitramfs "/boot/initrd.img-$kver" 2>/dev/null | grep -q "/virtio_scsi.ko"; then',
          '  fail "controllerChange is set but the initramfs of kernel $kver lacks virtio_scsi: add it to /etc/initramfs-tools/modules and run update-initramfs -u first"',
          "fi",
        ]
      : []),
    stageFile(K3S_CONFIG_FILE, configYaml, "0600"),
    "CONFIG_CHANGED=$CHANGED",
    ...(same ? keepStartedConfigLines(target.role, same) : []),
    ...(target.role === "server"
      ? snapshotLines(keepSnapshots, same ? "CONFIG_RESTARTS" : "CONFIG_CHANGED")
      : []),
    commitStagedFile(K3S_CONFIG_FILE),
    same
      ? `if [ "$CONFIG_CHANGED" = 1 ]; then if [ "$SAME_SETTINGS" = 1 ]; then say "wrote ${K3S_CONFIG_FILE}: the settings K3s runs with now, in the program's form, so no restart for it (the file K3s started with is kept as ${K3S_STARTED_CONFIG_FILE})"; echo "record config same-settings"; else say "wrote ${K3S_CONFIG_FILE} (takes effect at the restart)"; echo "record config changed"; fi; fi`
      : `if [ "$CONFIG_CHANGED" = 1 ]; then say "wrote ${K3S_CONFIG_FILE} (takes effect at the restart)"; echo "record config changed"; fi`,
    'if [ "$have" != "$WANT" ]; then',
    '  say "installing K3s $WANT (was ${have:-not installed}); it starts at the restart step"',
    ...carriedEnvLines(target.role).map((l) => `  ${l}`),
    `  if [ -n "$CARRIED" ]; then say "the installer keeps $(printf '%s\\n' "$CARRIED" | sed 's/=.*//' | tr '\\n' ' ')from ${unitEnvFile(target.role)}"; fi`,
    `  curl -sfL ${shellQuote(installerUrl)} | (carried_env; INSTALL_K3S_VERSION="$WANT" INSTALL_K3S_SKIP_START=true exec sh -s - ${target.role}) >/dev/null || fail "the K3s installer failed for $WANT"`,
    "  now=$(k3s --version 2>/dev/null | awk 'NR==1 { print $3 }')",
    '  [ "$now" = "$WANT" ] || fail "after installing, k3s --version says ${now:-nothing}, not $WANT"',
    '  echo "record installed ${have:-none}->$WANT"',
    "fi",
    'say "prepared: K3s $WANT on disk"',
    ...(announceRestart ? restartFollowsLines(target.role, same) : []),
    "",
  ].join("\n");
}

/**
 * Prepare, where preflight found the same settings: SAME_SETTINGS=1 when K3s runs its version
 * and the config.yaml it started with (the kept copy, if made after that start, else config.yaml
 * unchanged since) is the one preflight compared; a copy of it is then kept beside the new file,
 * and CONFIG_RESTARTS (what the snapshot goes by) is 0. Anything else restarts as usual.
 */
function keepStartedConfigLines(role: NodeRole, same: SameSettings): string[] {
  const kept = K3S_STARTED_CONFIG_FILE;
  return [
    "SAME_SETTINGS=0",
    `if [ "$CONFIG_CHANGED" = 1 ] && [ "$have" = "$WANT" ] && systemctl is-active -q ${k3sUnit(role)}; then`,
    ...unitAgeLines(role).map((l) => `  ${l}`),
    `  if [ -f ${kept} ] && [ "$(stat -c %Y ${kept})" -ge "$started" ]; then base=${kept}; else base=${K3S_CONFIG_FILE}; fi`,
    `  if [ "$(cat "$base" 2>/dev/null | sha256sum | cut -c1-64)" = ${same.startedWith} ] && { [ "$base" = ${kept} ] || [ ! -e ${K3S_CONFIG_FILE} ] || [ "$(stat -c %Y ${K3S_CONFIG_FILE})" -le "$started" ]; }; then`,
    "    SAME_SETTINGS=1",
    `    if [ "$base" != ${kept} ]; then (umask 077; cat ${K3S_CONFIG_FILE} 2>/dev/null > ${kept}.tmp || true; mv -f ${kept}.tmp ${kept}); fi`,
    "  else",
    `    warn "${K3S_CONFIG_FILE} is not the file preview compared (changed since?): K3s restarts for the new one"`,
    "  fi",
    "fi",
    'CONFIG_RESTARTS=$CONFIG_CHANGED; [ "$SAME_SETTINGS" = 0 ] || CONFIG_RESTARTS=0',
  ];
}

/** Server, before anything changes: an etcd snapshot when K3s runs and will be upgraded or get a
 * new config (`configVar` says so). The save counts only if `etcd-snapshot ls` then lists a new
 * snapshot of that name (K3s's `Snapshot()` returns without error and writes nothing on a learner
 * member). Older snapshots of this tool beyond the newest `keep` are deleted. */
function snapshotLines(keep: number, configVar: string): string[] {
  const ours = (prefix: string) =>
    `awk -v n="${prefix}" 'index($1, n) == 1 { print $1 }' | sort -u`;
  return [
    `if systemctl is-active -q k3s && { [ "$have" != "$WANT" ] || [ "$${configVar}" = 1 ]; }; then`,
    '  why=$([ "$have" != "$WANT" ] && echo "upgrade-$(echo "$have-to-$WANT" | tr "+." "--")" || echo config-change)',
    '  say "saving an etcd snapshot before the $why"',
    `  before=$(k3s etcd-snapshot ls 2>/dev/null | ${ours("k3s-homelab-pre-$why-")}) || before=''`,
    `  out=$(k3s etcd-snapshot save --name "k3s-homelab-pre-$why" 2>&1) || fail "k3s etcd-snapshot save failed ($(printf '%s\\n' "$out" | tail -n 1)); nothing was changed on this node"`,
    "  # K3s appends the node name and a timestamp; `etcd-snapshot ls` says where it went (file:// or s3://).",
    `  after=$(k3s etcd-snapshot ls 2>/dev/null | ${ours("k3s-homelab-pre-$why-")}) || after=''`,
    `  name=$(printf '%s\\n' "$after" | grep -vxF -e "$before" -e "" | tail -n 1) || name=''`,
    '  [ -n "$name" ] || fail "k3s etcd-snapshot save exited 0 but no new snapshot is listed (K3s skips the snapshot on an etcd learner member: is this server still being promoted?); nothing was changed on this node"',
    `  loc=$(k3s etcd-snapshot ls 2>/dev/null | awk -v n="$name" '$1 == n { print $2 }' | tail -n 1) || loc=''`,
    '  say "snapshot: $name${loc:+ at $loc}"; echo "record snapshot k3s-homelab-pre-$why"',
    '  if [ -n "$loc" ]; then echo "record snapshot_location $loc"; fi',
    `  # K3s never prunes snapshots saved with --name: keep this tool's newest ${keep}.`,
    `  old=$(k3s etcd-snapshot ls 2>/dev/null | ${ours("k3s-homelab-pre-")} | awk '{ t = $1; sub(/.*-/, "", t); print t, $1 }' | sort -n | head -n -${keep} | awk '{ print $2 }') || old=''`,
    '  if [ -n "$old" ]; then',
    "    # shellcheck disable=SC2086 # one argument per snapshot name",
    '    if k3s etcd-snapshot delete $old >/dev/null 2>&1; then say "deleted older snapshots: $(echo $old)"; else warn "could not delete older snapshots: $(echo $old)"; fi',
    "  fi",
    "fi",
  ];
}

/** Guest: restarts K3s only when its binary, config or token changed after it last started (a VM
 * restart earlier in the roll already started the new ones). The start or restart is queued and
 * waited for at most `timeoutSeconds` (see `awaitReadyFunction`). */
export function renderRestartScript(target: RollTarget, timeoutSeconds: number): string {
  const u = k3sUnit(target.role);
  return [
    header(target, "restart"),
    "# The unit's own last words, for the failure message.",
    unitWhyFunction(target.role),
    awaitReadyFunction(target.role, timeoutSeconds),
    ...unitSnapshotLines(target.role),
    'if [ "$now_state" != active ]; then',
    `  say "${u} is not running ($now_state): starting it"`,
    ...unitJobLines(target.role, "start", "", "snapshot").map((l) => `  ${l}`),
    `  rm -f ${K3S_STARTED_CONFIG_FILE}`,
    "  exit 0",
    "fi",
    ...unitAgeLines(target.role, target.sameSettings),
    'if [ "$newest" -ge "$started" ]; then',
    `  say "restarting ${u}: its binary or config changed after it started ($(date -u -d "@$started" "+%Y-%m-%d %H:%M:%S UTC"))"`,
    ...unitJobLines(target.role, "restart", "").map((l) => `  ${l}`),
    `  echo "record restarted ${u}"`,
    `  rm -f ${K3S_STARTED_CONFIG_FILE}`,
    ...(target.sameSettings
      ? [
          `elif [ -f ${K3S_STARTED_CONFIG_FILE} ]; then`,
          `  say "${u} keeps running: ${K3S_CONFIG_FILE} holds the settings it started with, in the program's form"`,
        ]
      : []),
    "else",
    `  say "${u} already runs the current binary and config"`,
    "fi",
    "",
  ].join("\n");
}

/** Runs on a server (the node itself when it is one): waits until the API reports the node Ready
 * at the desired version and, for a server, its etcd member healthy and a leader; then uncordons
 * the node if the drain step cordoned it. In `repair` mode any version will do. A server's gate
 * runs on the server itself, so at its timeout it also says what its K3s unit is doing. */
export function renderGateScript(
  target: RollTarget,
  timeoutSeconds: number,
  mode: "roll" | "repair" = "roll",
): string {
  const checkEtcd = target.role === "server";
  const anyVersion = mode === "repair";
  const wanted = anyVersion ? "" : " at $WANT";
  return [
    header(target, mode === "roll" ? "gate" : "repair gate"),
    `NODE_NAME=${shellQuote(target.nodeName)}`,
    ...(anyVersion ? [] : [`WANT=${target.k3sVersion}`]),
    "begin=$(date +%s)",
    "last=''",
    "next_report=0",
    ...(checkEtcd ? [ETCD_FUNCTIONS, unitWhyFunction(target.role)] : []),
    "while :; do",
    `  seen=$(k3s kubectl get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status}' 2>&1) || seen="API not answering: $(echo "$seen" | tail -n 1)"`,
    "  version=${seen%% *}; ready=${seen#* }",
    ...(checkEtcd
      ? [
          '  if etcd_local health | grep -q \'"health":"true"\'; then etcd=healthy; else etcd=unhealthy; fi',
          "  if etcd_local metrics | grep -q '^etcd_server_has_leader 1'; then leader=yes; else leader=no; fi",
        ]
      : ["  etcd=n/a; leader=n/a"]),
    '  last="version=$version ready=$ready etcd=$etcd leader=$leader"',
    `  if ${anyVersion ? "" : '[ "$version" = "$WANT" ] && '}[ "$ready" = True ] && [ "$etcd" != unhealthy ] && [ "$leader" != no ]; then`,
    `    say "Ready${anyVersion ? " ($version)" : wanted} after $(( $(date +%s) - begin ))s (etcd member $etcd)"`,
    '    echo "record gate_seconds $(( $(date +%s) - begin ))"; echo "record at $(date -u +%Y-%m-%dT%H:%M:%SZ)"',
    "    break",
    "  fi",
    "  elapsed=$(( $(date +%s) - begin ))",
    `  [ "$elapsed" -lt ${timeoutSeconds} ] || fail "not Ready${wanted} after ${timeoutSeconds}s; last seen: $last${checkEtcd ? `; ${k3sUnit(target.role)}: $(why)` : ""}"`,
    '  if [ "$elapsed" -ge "$next_report" ]; then say "waiting for $NODE_NAME (${elapsed}s): $last"; next_report=$(( elapsed + 15 )); fi',
    "  sleep 2",
    "done",
    ...uncordonLines(),
    "",
  ].join("\n");
}

/** K3s's manageLearners() refreshes each etcd node's EtcdIsVoter condition every
 * manageTickerTime (15 s, pkg/etcd/etcd.go): a member that just came back may still show
 * Unhealthy for up to two ticks, so the cluster check waits this long before it refuses. */
export const ETCD_VOTER_WAIT_SECONDS = 45;

/**
 * Runs on a server before a node's disruptive step. Every voting etcd member must be healthy,
 * read only where real K3s serves it: the member list and leader from this server's JSON gateway
 * (127.0.0.1:2382), this member's health from its own 127.0.0.1:2381/health, every other
 * member's from what K3s itself keeps, the EtcdIsVoter condition of its Node (True/
 * MemberNotLearner; False with Unhealthy, MemberIsLearner or NotAMember is not healthy). A
 * member without a Node (stale) counts and is unhealthy; a learner is never a voter, and the
 * check waits for K3s to promote it. Waits up to ETCD_VOTER_WAIT_SECONDS, then every node Ready
 * but `batchMates` (Kubernetes node names): the nodes of its batch (`cluster.roll.agentBatch`)
 * roll beside it and may be down meanwhile; no other node may.
 */
export function renderClusterCheckScript(
  target: RollTarget,
  batchMates: readonly string[] = [],
): string {
  return [
    header(target, "cluster check"),
    ETCD_FUNCTIONS,
    "begin=$(date +%s); next_report=15",
    "while :; do",
    "  members=$(etcd_api cluster/member/list) || fail \"etcd's member list does not answer on 127.0.0.1:2382 (K3s's client certificate in $T)\"",
    '  self=$(etcd_api maintenance/status) || fail "etcd\'s status does not answer on 127.0.0.1:2382"',
    "  leader=$(printf '%s' \"$self\" | grep -o '\"leader\":\"[0-9]*\"' | grep -o '[0-9][0-9]*' || true)",
    "  me=$(printf '%s' \"$self\" | grep -o '\"member_id\":\"[0-9]*\"' | grep -o '[0-9][0-9]*' || true)",
    `  conds=$(k3s kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="EtcdIsVoter")].status} {.status.conditions[?(@.type=="EtcdIsVoter")].reason}{"\\n"}{end}') || fail "the API does not answer: $(echo "$conds" | tail -n 1)"`,
    '  bad=""; voters=0; healthy=0',
    '  list=$(printf \'%s\' "$members" | sed \'s/{"ID"/\\n{"ID"/g\' | grep \'^{"ID"\')',
    "  while IFS= read -r m; do",
    '    [ -n "$m" ] || continue',
    '    id=$(printf \'%s\' "$m" | sed -n \'s/^{"ID":"\\([0-9]*\\)".*/\\1/p\')',
    '    name=$(printf \'%s\' "$m" | sed -n \'s/.*"name":"\\([^"]*\\)".*/\\1/p\')',
    '    who=${name:-"unstarted member $id"}',
    '    if printf \'%s\' "$m" | grep -q \'"isLearner":true\'; then bad="$bad; $who is a learner (K3s has not promoted it to a voting member yet)"; continue; fi',
    "    voters=$((voters + 1))",
    '    if [ "$id" = "$me" ]; then',
    '      if etcd_local health | grep -q \'"health":"true"\'; then healthy=$((healthy + 1)); else bad="$bad; $who (this server) does not answer healthy on 127.0.0.1:2381/health"; fi',
    "      continue",
    "    fi",
    "    node=${name%-*}",
    '    line=$(printf \'%s\\n\' "$conds" | grep "^$node " || true)',
    "    st=$(printf '%s' \"$line\" | cut -d ' ' -f 2); why=$(printf '%s' \"$line\" | cut -d ' ' -f 3)",
    '    if [ -z "$name" ] || [ -z "$line" ]; then bad="$bad; $who has no Node${name:+ \\`$node\\`} (a stale member still votes)"',
    '    elif [ "$st" = True ]; then healthy=$((healthy + 1))',
    '    else bad="$bad; $who: EtcdIsVoter=${st:-none} (${why:-no condition yet})"; fi',
    "  done <<EOF",
    "$list",
    "EOF",
    '  [ -n "$leader" ] && [ "$leader" != 0 ] || bad="$bad; etcd has no leader"',
    '  [ -n "$bad" ] || break',
    "  elapsed=$(( $(date +%s) - begin ))",
    `  [ "$elapsed" -lt ${ETCD_VOTER_WAIT_SECONDS} ] || fail "etcd not healthy after \${elapsed}s: \${bad#; }; refusing to restart $WHO"`,
    '  if [ "$elapsed" -ge "$next_report" ]; then say "waiting for etcd (${elapsed}s): ${bad#; }"; next_report=$(( elapsed + 15 )); fi',
    "  sleep 3",
    "done",
    `ready=$(k3s kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}') || fail "the API does not answer the node list (kubectl's error above)"`,
    "notready=$(printf '%s\\n' \"$ready\" | grep -v '=True$' | grep . || true)",
    ...(batchMates.length > 0 ? batchMateLines(batchMates) : []),
    '[ -z "$notready" ] || fail "nodes not Ready: $(echo $notready); refusing to restart $WHO"',
    batchMates.length > 0
      ? `say "cluster healthy: $healthy/$voters voting etcd members, leader $leader, all nodes Ready but batch-mates rolling beside $WHO (${batchMates.join(", ")}; not Ready now: \${mates_down:-none})"`
      : 'say "cluster healthy: $healthy/$voters voting etcd members, leader $leader, all nodes Ready"',
    "",
  ].join("\n");
}

/** The cluster check's exception for a batch: its mates' lines leave `notready` for
 * `mates_down`, matched by whole node name. */
function batchMateLines(batchMates: readonly string[]): string[] {
  return [
    "# Its batch-mates (cluster.roll.agentBatch) roll beside it: they alone may be down meanwhile.",
    `MATES=${shellQuote(` ${batchMates.join(" ")} `)}`,
    'mates_down=$(printf \'%s\\n\' "$notready" | awk -F= -v m="$MATES" \'$1 != "" && index(m, " " $1 " ")\' | tr \'\\n\' \' \')',
    "mates_down=${mates_down% }",
    'notready=$(printf \'%s\\n\' "$notready" | awk -F= -v m="$MATES" \'$1 != "" && !index(m, " " $1 " ")\')',
  ];
}

/** Guest: writes the join token files from stdin (line 1 the token, line 2 the agent token or
 * empty). Never prints them. Refuses to change a token a running server already holds. */
export function renderTokenScript(node: string, role: NodeRole): string {
  return [
    prelude(node),
    "IFS= read -r TOKEN || true",
    "IFS= read -r AGENT_TOKEN || true",
    '[ -n "$TOKEN" ] || fail "no token on stdin"',
    "umask 077",
    "mkdir -p /etc/rancher/k3s",
    ...(role === "server"
      ? [
          "# A server that already joined holds the cluster token; a different one would not start.",
          "if [ -f /var/lib/rancher/k3s/server/token ]; then",
          "  held=$(cat /var/lib/rancher/k3s/server/token)",
          '  case "$held" in "$TOKEN"|*"::server:$TOKEN") ;; *) fail "k3s-homelab:token differs from the token this server already holds; rotating it needs k3s token rotate, refusing" ;; esac',
          "fi",
        ]
      : []),
    'put() { tmp=$(mktemp /etc/rancher/k3s/.token.XXXXXX); printf \'%s\\n\' "$2" > "$tmp"; if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; say "wrote $1"; fi; }',
    ...(role === "server"
      ? [
          `put ${K3S_TOKEN_FILE} "$TOKEN"`,
          `if [ -n "$AGENT_TOKEN" ]; then put ${K3S_AGENT_TOKEN_FILE} "$AGENT_TOKEN"; fi`,
        ]
      : [`put ${K3S_TOKEN_FILE} "\${AGENT_TOKEN:-$TOKEN}"`]),
    'say "token files in place"',
    "",
  ].join("\n");
}
