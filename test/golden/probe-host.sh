export LC_ALL=C
printf '\n@@ %s\n' 'vm 105 conf'; cat /etc/pve/qemu-server/105.conf 2>/dev/null || true
printf '\n@@ %s\n' 'vm 105 status'; qm status 105 --verbose 2>/dev/null || qm status 105 2>&1 || true
printf '\n@@ %s\n' 'vm 105 pid'; cat /var/run/qemu-server/105.pid 2>/dev/null || true
printf '\n@@ %s\n' 'vm 105 reboot-timeout'; cat /run/k3s-homelab/qm-reboot-timeout-105 2>/dev/null || true
printf '\n@@ %s\n' 'vm 105 qemu-age'; p=$(cat /var/run/qemu-server/105.pid 2>/dev/null) && ps -o etimes= -p "$p" 2>/dev/null || true
printf '\n@@ %s\n' 'vm 105 restart'; [ -e /var/run/qemu-server/105.reboot ] && echo reboot-request; pgrep -f 'qm cleanu[p] 105 ' >/dev/null && echo cleanup; true
printf '\n@@ %s\n' 'vm 106 conf'; cat /etc/pve/qemu-server/106.conf 2>/dev/null || true
printf '\n@@ %s\n' 'vm 106 status'; qm status 106 --verbose 2>/dev/null || qm status 106 2>&1 || true
printf '\n@@ %s\n' 'vm 106 pid'; cat /var/run/qemu-server/106.pid 2>/dev/null || true
printf '\n@@ %s\n' 'vm 106 reboot-timeout'; cat /run/k3s-homelab/qm-reboot-timeout-106 2>/dev/null || true
printf '\n@@ %s\n' 'vm 106 qemu-age'; p=$(cat /var/run/qemu-server/106.pid 2>/dev/null) && ps -o etimes= -p "$p" 2>/dev/null || true
printf '\n@@ %s\n' 'vm 106 restart'; [ -e /var/run/qemu-server/106.reboot ] && echo reboot-request; pgrep -f 'qm cleanu[p] 106 ' >/dev/null && echo cleanup; true
printf '\n@@ %s\n' 'storage'; cat /etc/pve/storage.cfg 2>/dev/null || true
printf '\n@@ %s\n' 'txg'; cat /sys/module/zfs/parameters/zfs_txg_timeout 2>/dev/null || echo '!absent'
printf '\n@@ %s\n' 'txg-boot'; cat /etc/modprobe.d/zz-k3s-homelab-zfs.conf 2>/dev/null || true
