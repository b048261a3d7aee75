export LC_ALL=C
printf '\n@@ %s\n' 'k3s-version'; k3s --version 2>/dev/null | head -n 1 || true
printf '\n@@ %s\n' 'service'
for u in k3s k3s-agent; do if systemctl is-active -q $u 2>/dev/null; then echo "$u active $(TZ=UTC systemctl show -p ActiveEnterTimestamp --value $u)"; fi; done
printf '\n@@ %s\n' 'config'; cat /etc/rancher/k3s/config.yaml 2>/dev/null || true
printf '\n@@ %s\n' 'config-sha'; cat /etc/rancher/k3s/config.yaml 2>/dev/null | sha256sum | cut -c1-64
printf '\n@@ %s\n' 'config-as-started'; if [ -f /etc/rancher/k3s/k3s-homelab-started-with.yaml ]; then sha256sum < /etc/rancher/k3s/k3s-homelab-started-with.yaml | cut -c1-64; cat /etc/rancher/k3s/k3s-homelab-started-with.yaml; fi
printf '\n@@ %s\n' 'unit-exec'; systemctl show -p ExecStart --value k3s-agent 2>/dev/null || true
printf '\n@@ %s\n' 'unit-env'; awk '/^[A-Za-z_][A-Za-z0-9_]*=/ { n = substr($0, 1, index($0, "=") - 1); if (n ~ /^K3S_/ && n !~ /TOKEN|SECRET|PASSWORD|KEY/) print; else print n }' /etc/systemd/system/k3s-agent.service.env 2>/dev/null || true
for f in /etc/rancher/k3s/config.yaml.d/*; do case "$f" in *.[yY][aA][mM][lL]|*.[yY][mM][lL]) if [ -f "$f" ]; then printf '\n@@ config-dropin %s\n' "$f"; cat "$f"; fi ;; esac; done
printf '\n@@ %s\n' 'sysctl'
printf '%s\t%s\n' 'vm.swappiness' "$(sysctl -n 'vm.swappiness' 2>/dev/null | tr -s ' \t' '  ')"
printf '%s\t%s\n' 'vm.dirty_ratio' "$(sysctl -n 'vm.dirty_ratio' 2>/dev/null | tr -s ' \t' '  ')"
printf '\n@@ %s\n' 'sysctl-file'; cat /etc/sysctl.d/99-etcd.conf 2>/dev/null || true
printf '\n@@ %s\n' 'sysctl-override'
later_files() {
  for d in /etc/sysctl.d /run/sysctl.d /usr/local/lib/sysctl.d /usr/lib/sysctl.d /lib/sysctl.d; do
    for f in "$d"/*.conf; do
      [ -e "$f" ] || continue
      b=${f##*/}
      [ "$b" = 99-etcd.conf ] && continue
      [ "$(printf '%s\n%s\n' "$b" 99-etcd.conf | LC_ALL=C sort | tail -n 1)" = "$b" ] && echo "$f"
    done
  done
  [ -e /etc/sysctl.conf ] && readlink -f /etc/sysctl.conf
  return 0
}
LATER=$(later_files | sort -u)
override() {
  pattern=$(printf '%s' "$1" | sed 's/[.\/]/[.\/]/g')
  for f in $LATER; do
    line=$(grep -E "^[[:space:]]*-?[[:space:]]*${pattern}[[:space:]]*=" "$f" 2>/dev/null | tail -n 1)
    [ -n "$line" ] || continue
    printf '%s\t%s\t%s\n' "$1" "$(readlink -f "$f")" "$(printf '%s' "${line#*=}" | tr -s ' \t' '  ' | sed 's/^ //; s/ $//')"
  done
}
override 'vm.swappiness'
override 'vm.dirty_ratio'
