export LC_ALL=C
printf '\n@@ %s\n' 'k3s-version'; k3s --version 2>/dev/null | head -n 1 || true
printf '\n@@ %s\n' 'service'
for u in k3s k3s-agent; do if systemctl is-active -q $u 2>/dev/null; then echo "$u active $(TZ=UTC systemctl show -p ActiveEnterTimestamp --value $u)"; fi; done
printf '\n@@ %s\n' 'config'; cat /etc/rancher/k3s/config.yaml 2>/dev/null || true
printf '\n@@ %s\n' 'config-sha'; cat /etc/rancher/k3s/config.yaml 2>/dev/null | sha256sum | cut -c1-64
printf '\n@@ %s\n' 'config-as-started'; if [ -f /etc/rancher/k3s/k3s-homelab-started-with.yaml ]; then sha256sum < /etc/rancher/k3s/k3s-homelab-started-with.yaml | cut -c1-64; cat /etc/rancher/k3s/k3s-homelab-started-with.yaml; fi
printf '\n@@ %s\n' 'unit-exec'; systemctl show -p ExecStart --value k3s 2>/dev/null || true
printf '\n@@ %s\n' 'unit-env'; awk '/^[A-Za-z_][A-Za-z0-9_]*=/ { n = substr($0, 1, index($0, "=") - 1); if (n ~ /^K3S_/ && n !~ /TOKEN|SECRET|PASSWORD|KEY/) print; else print n }' /etc/systemd/system/k3s.service.env 2>/dev/null || true
for f in /etc/rancher/k3s/config.yaml.d/*; do case "$f" in *.[yY][aA][mM][lL]|*.[yY][mM][lL]) if [ -f "$f" ]; then printf '\n@@ config-dropin %s\n' "$f"; cat "$f"; fi ;; esac; done
printf '\n@@ %s\n' 'sysctl'
printf '%s\t%s\n' 'vm.swappiness' "$(sysctl -n 'vm.swappiness' 2>/dev/null | tr -s ' \t' '  ')"
printf '%s\t%s\n' 'vm.dirty_ratio' "$(sysctl -n 'vm.dirty_ratio' 2>/dev/null | tr -s ' \t' '  ')"
printf '\n@@ %s\n' 'sysctl-file'; cat /etc/sysctl.d/99-etcd.conf 2>/dev/null || true
printf '\n@@ %s\n' 'nodes'
k3s kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status} {.spec.unschedulable} {.metadata.annotations.k3s-homelab/cordoned}{"\n"}{end}' 2>/dev/null || echo '!unavailable'
T=/var/lib/rancher/k3s/server/tls/etcd
etcd_api() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 5 --cacert "$T/server-ca.crt" --cert "$T/client.crt" --key "$T/client.key" -X POST -d '{}' "https://$h:2382/v3/$1" 2>/dev/null && return 0; done; return 1; }
etcd_local() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 3 "http://$h:2381/$1" 2>/dev/null && return 0; done; return 1; }
printf '\n@@ %s\n' 'etcd-health'; for h in 127.0.0.1 '[::1]'; do curl -s --max-time 3 "http://$h:2381/health" && break; done || echo '!unavailable'
printf '\n@@ %s\n' 'etcd-members'; etcd_api cluster/member/list || echo '!unavailable'
printf '\n@@ %s\n' 'etcd-status'; etcd_api maintenance/status || echo '!unavailable'
