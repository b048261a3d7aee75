export LC_ALL=C
echo '@@ vm 105 current'; qm config 105 --current 2>&1 || true
echo '@@ vm 105 pending'; qm config 105 2>&1 || true
echo '@@ vm 105 status'; qm status 105 2>&1 || true
echo '@@ vm 106 current'; qm config 106 --current 2>&1 || true
echo '@@ vm 106 pending'; qm config 106 2>&1 || true
echo '@@ vm 106 status'; qm status 106 2>&1 || true
echo '@@ txg'; cat /sys/module/zfs/parameters/zfs_txg_timeout 2>/dev/null || echo '!absent'
echo '@@ txg-boot'; cat /etc/modprobe.d/zz-k3s-homelab-zfs.conf 2>/dev/null || true
