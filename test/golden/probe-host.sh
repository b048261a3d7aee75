export LC_ALL=C
printf '\n@@ %s\n' 'vm 105 current'; qm config 105 --current 2>&1 || true
printf '\n@@ %s\n' 'vm 105 pending'; qm config 105 2>&1 || true
printf '\n@@ %s\n' 'vm 105 status'; qm status 105 2>&1 || true
printf '\n@@ %s\n' 'vm 106 current'; qm config 106 --current 2>&1 || true
printf '\n@@ %s\n' 'vm 106 pending'; qm config 106 2>&1 || true
printf '\n@@ %s\n' 'vm 106 status'; qm status 106 2>&1 || true
printf '\n@@ %s\n' 'txg'; cat /sys/module/zfs/parameters/zfs_txg_timeout 2>/dev/null || echo '!absent'
printf '\n@@ %s\n' 'txg-boot'; cat /etc/modprobe.d/zz-k3s-homelab-zfs.conf 2>/dev/null || true
