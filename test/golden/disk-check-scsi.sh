set -eu
WHO='k3s-agent-1 (VM 110 on pve)'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: disk check; desired state 0123456789abcdef
VMID=110; DISK=scsi0; CACHE=writeback; IOTHREAD=1
command -v qm >/dev/null || fail "qm not found: is this a Proxmox host?"
cfg() { qm config "$VMID" "$@" || fail "qm config $VMID $* failed"; }
value() { printf '%s\n' "$1" | sed -n "s/^$2: //p"; }
opt() { printf '%s\n' "$1" | tr ',' '\n' | sed -n "s/^$2=//p" | head -n 1; }
cache_of() { c=$(opt "$1" cache); echo "${c:-none}"; }
io_of() { if [ "$(opt "$1" iothread)" = 1 ]; then echo 1; else echo 0; fi; }
# Sets cache and iothread in a drive string, keeping the volume and every other option.
rebuild() {
  printf '%s\n' "$1" | awk -F, -v cache="$CACHE" -v io="$IOTHREAD" '{
    out = $1; c = 0; t = 0
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "cache") { c = 1; if (cache != "none") out = out ",cache=" cache; continue }
      if (kv[1] == "iothread") { t = 1; if (io == 1) out = out ",iothread=1"; continue }
      out = out "," $i
    }
    if (!c && cache != "none") out = out ",cache=" cache
    if (!t && io == 1) out = out ",iothread=1"
    print out
  }'
}
owed() {
  cur=$(cfg --current); d=$(value "$cur" "$DISK")
  [ "$(cache_of "$d")" = "$CACHE" ] || printf ' cache %s->%s' "$(cache_of "$d")" "$CACHE"
  [ "$(io_of "$d")" = "$IOTHREAD" ] || printf ' iothread %s->%s' "$(io_of "$d")" "$IOTHREAD"
  h=$(value "$cur" scsihw); [ "${h:-lsi}" = virtio-scsi-single ] || printf ' scsihw %s->virtio-scsi-single' "${h:-lsi}"
  return 0
}
OWED=$(owed)
state=$(qm status "$VMID" | awk '{ print $2 }')
if [ -n "$OWED" ] && [ "$state" = running ]; then echo "restart-follows qm reboot:$OWED"; fi
