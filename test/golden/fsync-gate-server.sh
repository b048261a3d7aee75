set -eu
WHO='k3s-vm-fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: fsync gate on k3s-vm-pve; desired state 0123456789abcdef
MEMBER='k3s-vm-pve'
MAX=100
T=/var/lib/rancher/k3s/server/tls/etcd
etcd_api() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 5 --cacert "$T/server-ca.crt" --cert "$T/client.crt" --key "$T/client.key" -X POST -d '{}' "https://$h:2382/v3/$1" 2>/dev/null && return 0; done; return 1; }
etcd_local() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 3 "http://$h:2381/$1" 2>/dev/null && return 0; done; return 1; }
# This member's WAL fsync histogram as `LE COUNT` lines, in etcd's order.
fsync_buckets() { etcd_local metrics | LC_ALL=C awk 'index($0, "etcd_disk_wal_fsync_duration_seconds_bucket{") == 1 { le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); print le, $2 }'; }
# The syncs between two readings ($1, then $2), judged as PromQL's histogram_quantile(0.99).
fsync_window() {
  { printf '%s\n' "$1" | sed 's/^/b /'; printf '%s\n' "$2" | sed 's/^/a /'; } | LC_ALL=C awk -v max="$MAX" -v min=20 '
function ms_text(ms) { if (ms < 1) return sprintf("%.2f ms", ms); if (ms < 10) return sprintf("%.1f ms", ms); return sprintf("%d ms", ms + 0.5) }
$1 == "b" { old[$2] = $3; next }
$1 == "a" { n++; le[n] = $2; if (!($2 in old) || $3 + 0 < old[$2] + 0) gone = 1; else cnt[n] = $3 - old[$2] }
END {
  if (n < 2 || le[n] != "+Inf") { print "- unreadable"; exit }
  if (gone) { print "- restarted"; exit }
  top = 0
  for (i = 1; i <= n; i++) if (cnt[i] < top) cnt[i] = top; else top = cnt[i]
  total = cnt[n]
  if (total < min) { print total, "few"; exit }
  rank = 0.99 * total
  i = 1
  while (i < n && cnt[i] < rank) i++
  if (i == n) { print total, "slow", "> " ms_text(le[n - 1] * 1000); exit }
  lo = 0; below = 0
  if (i > 1) { lo = le[i - 1]; below = cnt[i - 1] }
  if (i == 1 && le[1] + 0 <= 0) v = le[1] + 0
  else v = lo + (le[i] - lo) * (rank - below) / (cnt[i] - below)
  print total, (v * 1000 > max ? "slow" : "ok"), ms_text(v * 1000)
}
'
}
say "reading $MEMBER's etcd WAL fsync for 15 s before anything on $WHO changes (p99 at most $MAX ms, cluster.roll.maxFsyncP99Ms)"
begin=$(date +%s)
base=$(fsync_buckets); base_at=$(date +%s)
while :; do
  sleep 15
  now=$(fsync_buckets); now_at=$(date +%s); span=$((now_at - base_at))
  if [ -z "$base" ] || [ -z "$now" ]; then
    syncs=-; verdict=unreadable; p99=''
  else
    read -r syncs verdict p99 <<EOF
$(fsync_window "$base" "$now")
EOF
  fi
  case "$verdict" in
    ok)
      say "$MEMBER's etcd WAL fsync p99 is $p99 over the last $span s ($syncs syncs; max $MAX ms)"
      exit 0 ;;
    few)
      # Widen the window from the same first reading, up to 60 s.
      if [ "$span" -lt 60 ]; then continue; fi
      say "$MEMBER's etcd recorded only $syncs WAL syncs in the last $span s (fewer than 20): too few to judge its fsync p99; not holding the roll"
      exit 0 ;;
    slow)
      seen="$MEMBER's etcd WAL fsync p99 is $p99 over the last $span s ($syncs syncs; max $MAX ms, cluster.roll.maxFsyncP99Ms)"
      why="while the cluster's quorum is slow" ;;
    restarted)
      seen="$MEMBER's etcd restarted within the last $span s"
      why="without a reading of $MEMBER's WAL fsync" ;;
    *)
      seen="cannot read $MEMBER's WAL fsync histogram (etcd_disk_wal_fsync_duration_seconds on 127.0.0.1:2381/metrics)"
      why="without a reading of $MEMBER's WAL fsync" ;;
  esac
  base=$now; base_at=$now_at
  elapsed=$(( $(date +%s) - begin ))
  [ "$elapsed" -lt 600 ] || fail "$seen, still after waiting $elapsed s: refusing to restart $WHO $why; its roll did nothing: no snapshot, config.yaml, install, drain or restart"
  say "waiting ($elapsed s of 600 s): $seen"
done
