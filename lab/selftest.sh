#!/usr/bin/env bash
# Self-test of the lab: brings up lab/fixtures/post.yaml, exercises every test host the way the
# program will (SSH with pinned host keys, sysctl, qm, installer, systemctl, kubectl, etcd),
# checks that nothing reached the real machine, tears the lab down and checks that nothing is
# left. Prints one line per check and "N passed, M failed" at the end. Run as root from the repo.
set -u
cd "$(dirname "$0")/.."
FIXTURE=lab/fixtures/post.yaml
LAB="npx ts-node --transpile-only lab/cli.ts"
WORK=$(mktemp -d /tmp/lab-selftest.XXXXXX)
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "PASS  $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL  $*"; }
check() { # check "description" command...
  local what=$1
  shift
  if "$@" >"$WORK/out" 2>&1; then pass "$what"; else fail "$what: $(tail -3 "$WORK/out" | tr '\n' ' ')"; fi
}
has() { grep -q -- "$1" "$WORK/out"; } # has PATTERN: the last check's or capture's output matches

# Client side: the committed test-only client key and a known_hosts pinned from lab/keys.
install -m 600 lab/keys/client "$WORK/client"
/usr/bin/python3 - "$FIXTURE" >"$WORK/known_hosts" <<'EOF'
import sys, yaml
f = yaml.safe_load(open(sys.argv[1]))
for h in f["proxmoxHosts"] + f["guests"]:
    key = open(f"lab/keys/{h['name']}_ed25519.pub").read().split()[:2]
    print(h["address"], *key)
EOF
ssh_to() { # ssh_to ADDRESS COMMAND
  ssh -i "$WORK/client" -o UserKnownHostsFile="$WORK/known_hosts" -o StrictHostKeyChecking=yes \
    -o BatchMode=yes -o ConnectTimeout=2 -o LogLevel=ERROR "root@$1" "$2"
}
capture() { ssh_to "$1" "$2" >"$WORK/out" 2>&1; }

# What the machine looks like before (compared after `lab down`).
real_swappiness=$(cat /proc/sys/vm/swappiness)
real_hostname=$(hostname)
ls -la /etc/sysctl.d /etc/modprobe.d >"$WORK/etc.before" 2>&1
ip netns list >"$WORK/netns.before"
ss -Hltn | awk '{print $4}' | sort >"$WORK/listen.before"
machine_daemons() { echo "sshd:$(pgrep -xc sshd) etcd:$(pgrep -xc etcd) keys:$([ -e /root/.ssh/authorized_keys ] && md5sum </root/.ssh/authorized_keys)"; }
daemons_before=$(machine_daemons)

echo "== lab up $FIXTURE"
if ! $LAB up "$FIXTURE" >"$WORK/up.log" 2>&1; then
  cat "$WORK/up.log"
  fail "lab up"
  echo "$PASSED passed, $FAILED failed"
  exit 1
fi
pass "lab up ($(grep -cE '^(pve|piglet|fawn|k3s-vm-[a-z]+) .* up ' "$WORK/up.log") hosts up)"
# The lab's etcdctl (scripts/etcd.sh) through the root-side 2379 forwarders, with the lab's client pair.
ectl() {
  local c=.lab/shared/etcd-client
  .lab/shared/bin/etcdctl --cacert $c/server-ca.crt --cert $c/client.crt --key $c/client.key "$@"
}
sed -n '/^HOST/,$p' "$WORK/up.log"

echo "== SSH with pinned host keys"
declare -A ADDR=([pve]=127.0.0.11 [piglet]=127.0.0.12 [fawn]=127.0.0.13
  [k3s-vm-pve]=127.0.0.21 [k3s-vm-piglet]=127.0.0.22 [k3s-vm-fawn]=127.0.0.23)
for h in pve piglet fawn k3s-vm-pve k3s-vm-piglet k3s-vm-fawn; do
  capture "${ADDR[$h]}" hostname
  if [ "$(cat "$WORK/out")" = "$h" ]; then pass "ssh root@${ADDR[$h]} is $h"; else fail "ssh to $h: $(cat "$WORK/out")"; fi
done

echo "== sysctl in a guest changes only the guest"
G=127.0.0.21
capture $G 'sysctl -n vm.swappiness vm.dirty_ratio vm.dirty_background_ratio'
[ "$(tr '\n' ' ' <"$WORK/out")" = "60 20 10 " ] && pass "guest boots with the fixture sysctls (60 20 10)" || fail "boot sysctls: $(cat "$WORK/out")"
capture $G 'sysctl -w vm.swappiness=1 >/dev/null && printf "vm.swappiness=10\nvm.dirty_ratio=5\nvm.dirty_background_ratio=3\n" >/etc/sysctl.d/99-etcd.conf && sysctl -p /etc/sysctl.d/99-etcd.conf >/dev/null && sysctl -n vm.swappiness vm.dirty_ratio'
[ "$(tr '\n' ' ' <"$WORK/out")" = "10 5 " ] && pass "sysctl -w / -p inside k3s-vm-pve took effect there" || fail "guest sysctl: $(cat "$WORK/out")"
[ "$(cat /proc/sys/vm/swappiness)" = "$real_swappiness" ] && pass "machine's vm.swappiness unchanged ($real_swappiness)" || fail "machine's vm.swappiness changed"
[ ! -e /etc/sysctl.d/99-etcd.conf ] && pass "machine has no /etc/sysctl.d/99-etcd.conf" || fail "99-etcd.conf leaked to the machine"
capture 127.0.0.22 'sysctl -n vm.swappiness'
[ "$(cat "$WORK/out")" = "60" ] && pass "another guest still has swappiness 60" || fail "other guest: $(cat "$WORK/out")"
capture 127.0.0.11 'cat /sys/module/zfs/parameters/zfs_txg_timeout; echo 3 > /sys/module/zfs/parameters/zfs_txg_timeout; cat /sys/module/zfs/parameters/zfs_txg_timeout'
[ "$(tr '\n' ' ' <"$WORK/out")" = "5 3 " ] && pass "pve's zfs_txg_timeout 5, writable to 3" || fail "zfs param: $(cat "$WORK/out")"

echo "== qm set on a running VM stays pending"
capture 127.0.0.11 'qm set 105 --scsi0 local-zfs:vm-105-disk-0,cache=writeback,iothread=1,size=64G'
has "update VM 105: -scsi0 local-zfs:vm-105-disk-0,cache=writeback,iothread=1,size=64G" && pass "qm set prints the update line" || fail "qm set: $(cat "$WORK/out")"
capture 127.0.0.11 'qm config 105 | grep ^scsi0:'
has "cache=writeback,iothread=1" && pass "qm config shows the pending value" || fail "qm config: $(cat "$WORK/out")"
capture 127.0.0.11 'qm config 105 --current | grep ^scsi0:'
[ "$(cat "$WORK/out")" = "scsi0: local-zfs:vm-105-disk-0,size=64G" ] && pass "qm config --current does not" || fail "--current: $(cat "$WORK/out")"
capture 127.0.0.11 'qm pending 105 | grep scsi0:'
grep -q "^cur scsi0: local-zfs:vm-105-disk-0,size=64G" "$WORK/out" && grep -q "^new scsi0: .*cache=writeback" "$WORK/out" &&
  pass "qm pending shows cur/new" || fail "qm pending: $(cat "$WORK/out")"
capture 127.0.0.11 'qm set 105 --lock backup >/dev/null; qm set 105 --scsihw lsi; echo rc=$?; qm unlock 105'
has "VM is locked (backup)" && has "rc=255" && pass "a locked VM refuses qm set" || fail "lock: $(cat "$WORK/out")"

echo "== qm reboot 105 applies pending changes; etcd keeps quorum with 2/3"
t0=$(date +%s.%N)
check "qm reboot 105" ssh_to 127.0.0.11 'qm reboot 105'
down_seen=no
ssh_to $G true 2>/dev/null || down_seen=yes
check "etcd healthy on the other two members" ectl --endpoints https://127.0.0.22:2379,https://127.0.0.23:2379 --command-timeout=3s endpoint health
check "a write is committed while k3s-vm-pve is down" ectl --endpoints https://127.0.0.22:2379 put /lab/selftest written-during-reboot
if ectl --endpoints https://127.0.0.21:2379 --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1; then
  fail "k3s-vm-pve's etcd member answered during the reboot"
else pass "k3s-vm-pve's etcd member is down during the reboot"; fi
until ssh_to $G true 2>/dev/null; do sleep 0.2; done
t1=$(date +%s.%N)
down_for=$(echo "$t1 - $t0" | bc)
[ $down_seen = yes ] && pass "k3s-vm-pve's sshd was unreachable, back after ${down_for}s (restartSeconds 5)" || fail "sshd never went down"
all_healthy() { for i in $(seq 30); do ectl --endpoints https://127.0.0.21:2379,https://127.0.0.22:2379,https://127.0.0.23:2379 endpoint health && return 0; sleep 1; done; return 1; }
check "member rejoined: all three healthy" all_healthy
has_write() { ectl --endpoints https://127.0.0.21:2379 get /lab/selftest --consistency=s | grep -q written-during-reboot; }
check "the rejoined member has the write" has_write
capture 127.0.0.11 'qm config 105 --current | grep ^scsi0:; qm pending 105 | grep -c "^new" || true'
has "cache=writeback,iothread=1" && has "^0$" && pass "after the reboot qm config --current has the options, nothing pending" || fail "after reboot: $(cat "$WORK/out")"
capture $G 'sysctl -n vm.swappiness'
[ "$(cat "$WORK/out")" = "10" ] && pass "at boot 99-etcd.conf was applied (swappiness 10)" || fail "after boot: $(cat "$WORK/out")"

echo "== a reboot from inside the guest does not apply pending changes"
ssh_to 127.0.0.12 'qm set 106 --scsi0 local-zfs:vm-106-disk-0,cache=writeback,iothread=1,size=64G' >/dev/null
ssh_to 127.0.0.22 'reboot' >/dev/null 2>&1
for i in $(seq 50); do ssh_to 127.0.0.22 true 2>/dev/null || break; sleep 0.2; done
until ssh_to 127.0.0.22 true 2>/dev/null; do sleep 0.2; done
capture 127.0.0.12 'qm config 106 --current | grep ^scsi0:; qm pending 106 | grep "^new scsi0"'
[ "$(head -1 "$WORK/out")" = "scsi0: local-zfs:vm-106-disk-0,size=64G" ] && has "^new scsi0" &&
  pass "after an in-guest reboot 106's change is still pending" || fail "in-guest reboot: $(cat "$WORK/out")"
check "etcd cluster healthy again" all_healthy

echo "== a Proxmox host's reboot reloads ZFS parameters from modprobe.d"
capture 127.0.0.12 'echo 3 > /sys/module/zfs/parameters/zfs_txg_timeout; echo "options zfs zfs_txg_timeout=3" > /etc/modprobe.d/zfs-etcd.conf'
capture 127.0.0.11 'reboot'
for i in $(seq 50); do ssh_to 127.0.0.11 true 2>/dev/null || break; sleep 0.2; done
until ssh_to 127.0.0.11 true 2>/dev/null; do sleep 0.2; done
ssh_to 127.0.0.12 reboot >/dev/null 2>&1
for i in $(seq 50); do ssh_to 127.0.0.12 true 2>/dev/null || break; sleep 0.2; done
until ssh_to 127.0.0.12 true 2>/dev/null; do sleep 0.2; done
a=$(ssh_to 127.0.0.11 'cat /sys/module/zfs/parameters/zfs_txg_timeout')
b=$(ssh_to 127.0.0.12 'cat /sys/module/zfs/parameters/zfs_txg_timeout')
[ "$a $b" = "5 3" ] && pass "after reboot: pve back to 5 (live-only change), piglet 3 (modprobe.d)" || fail "zfs after reboot: pve $a piglet $b"

echo "== etcd as K3s runs it (pkg/etcd/etcd.go)"
TLSA='T=/var/lib/rancher/k3s/server/tls/etcd; A="--cacert $T/server-ca.crt --cert $T/client.crt --key $T/client.key"'
for i in 1 2 3; do
  capture 127.0.0.23 "$TLSA; curl -sv \$A -X POST -d '{}' https://127.0.0.1:2379/v3/cluster/member/list 2>&1 | grep -E '^< HTTP|^\\* (ALPN|Closing|Recv)'"
  has "^< HTTP" && break
  sleep 1
done
has "^< HTTP/2 415" && pass "2379 speaks gRPC only: the JSON member list gets HTTP 415" || fail "2379 JSON: $(cat "$WORK/out")"
capture 127.0.0.23 "$TLSA; curl -s \$A -X POST -d '{}' https://127.0.0.1:2382/v3/cluster/member/list"
[ "$(grep -oE '"name":"k3s-vm-(pve|piglet|fawn)-[0-9a-f]{8}"' "$WORK/out" | wc -l)" = 3 ] &&
  pass "2382 (loopback) answers the member list: 3 members named <node>-<8 hex>" || fail "2382: $(cat "$WORK/out")"
capture 127.0.0.23 "$TLSA; curl -s \$A -X POST -d '{}' https://198.18.0.23:2382/v3/cluster/member/list; echo rc=\$?; curl -s \$A -X POST -d '{}' https://198.18.0.21:2382/v3/cluster/member/list; echo rc=\$?"
[ "$(grep -c '^rc=7$' "$WORK/out")" = 2 ] && pass "2382 is refused on the node IPs (its own and another server's)" || fail "2382 on node IP: $(cat "$WORK/out")"
capture 127.0.0.23 "curl -s --cacert /var/lib/rancher/k3s/server/tls/etcd/server-ca.crt -X POST -d '{}' https://127.0.0.1:2382/v3/cluster/member/list; echo rc=\$?"
! has '"members"' && ! has "^rc=0$" && pass "without K3s's client certificate the gateway refuses (client-cert auth)" || fail "no client cert: $(cat "$WORK/out")"
capture 127.0.0.23 'curl -s http://127.0.0.1:2381/health; echo; curl -s http://198.18.0.23:2381/health; echo rc=$?'
has '^{"health":"true","reason":""}' && has "^rc=7$" && pass "2381 /health on loopback only: {\"health\":\"true\"}" || fail "2381: $(cat "$WORK/out")"
capture 127.0.0.23 'cat /var/lib/rancher/k3s/server/db/etcd/name; echo; ls /var/lib/rancher/k3s/server/tls/etcd | tr "\n" " "'
fawn_member=$(head -1 "$WORK/out")
grep -q '^k3s-vm-fawn-[0-9a-f]\{8\}$' <<<"$fawn_member" &&
  has "client.crt client.key peer-ca.crt peer-ca.key peer-server-client.crt peer-server-client.key server-ca.crt server-ca.key server-client.crt server-client.key" &&
  pass "db/etcd/name is $fawn_member; tls/etcd has K3s's ten files" || fail "name/tls: $(cat "$WORK/out")"
ectl --endpoints https://127.0.0.21:2379 member list -w json >"$WORK/out" 2>&1
has "https://198.18.0.23:2379" && ! has "2382" && pass "advertised client URLs are https://<node-ip>:2379 only" || fail "client URLs: $(cat "$WORK/out")"
voter() { ssh_to 127.0.0.21 "k3s kubectl get node $1 -o jsonpath='{.status.conditions[?(@.type==\"EtcdIsVoter\")].status} {.status.conditions[?(@.type==\"EtcdIsVoter\")].reason}'"; }
wait_voter() { for i in $(seq 40); do [ "$(voter "$1")" = "$2" ] && return 0; sleep 1; done; return 1; }
all_voters() { for n in k3s-vm-pve k3s-vm-piglet k3s-vm-fawn; do wait_voter $n "True MemberNotLearner" || return 1; done; }
check "every server's EtcdIsVoter is True/MemberNotLearner" all_voters
ssh_to 127.0.0.22 'systemctl stop k3s'
check "while k3s-vm-piglet is stopped the leader sets its EtcdIsVoter False/Unhealthy" wait_voter k3s-vm-piglet "False Unhealthy"
ssh_to 127.0.0.22 'systemctl start k3s'
check "started again, it is True/MemberNotLearner at the next tick" wait_voter k3s-vm-piglet "True MemberNotLearner"

echo "== a server joins as K3s joins: critical flags compared, learner, promotion"
fawn_id=$(ectl --endpoints https://127.0.0.21:2379 member list | grep k3s-vm-fawn | cut -d, -f1)
ssh_to 127.0.0.23 'systemctl stop k3s; rm -rf /var/lib/rancher/k3s/server/db/etcd' >/dev/null
check "fawn's member removed (as an operator does before rejoining it)" ectl --endpoints https://127.0.0.21:2379 member remove "$fawn_id"
capture 127.0.0.23 'printf "cluster-domain: other.local\n" >> /etc/rancher/k3s/config.yaml; systemctl start k3s; echo rc=$?; grep -h "critical configuration" /run/k3s-homelab-lab/logs/k3s-vm-fawn-k3s.log | tail -2'
has "critical configuration mismatched: cluster-domain" && has "critical configuration value mismatch between servers" && has "^rc=1" &&
  pass "joining with another cluster-domain fails as compareConfig does" || fail "compareConfig: $(cat "$WORK/out")"
mkdir -p .lab/shared/faults/k3s-vm-fawn && touch .lab/shared/faults/k3s-vm-fawn/etcd-learner
# The start blocks until k3s is ready (Type=notify), i.e. until the member is promoted.
ssh_to 127.0.0.23 'sed -i "/^cluster-domain: other.local$/d" /etc/rancher/k3s/config.yaml; systemctl start k3s' >"$WORK/start.out" 2>&1 &
learner_seen() { for i in $(seq 40); do ectl --endpoints https://127.0.0.21:2379 member list -w table 2>/dev/null | grep k3s-vm-fawn | grep -q '| *true *|$' && return 0; sleep 1; done; return 1; }
check "k3s-vm-fawn joined as a learner (MemberAddAsLearner)" learner_seen
# Its Node still carries the removed member's name (K3s updates the annotation once it runs).
check "meanwhile its Node's EtcdIsVoter is False/NotAMember" wait_voter k3s-vm-fawn "False NotAMember"
capture 127.0.0.23 'k3s etcd-snapshot save --name on-learner; echo rc=$?; ls /var/lib/rancher/k3s/server/db/snapshots/ 2>/dev/null | grep -c on-learner'
has "Unable to take snapshot: not supported for learner" && has "^rc=0$" && has "^0$" &&
  pass "etcd-snapshot save on a learner exits 0 and writes no file" || fail "learner snapshot: $(cat "$WORK/out")"
rm -f .lab/shared/faults/k3s-vm-fawn/etcd-learner
check "the leader promotes it (MemberPromote) and it votes" wait_voter k3s-vm-fawn "True MemberNotLearner"
fawn_active() { for i in $(seq 30); do ssh_to 127.0.0.23 'systemctl is-active -q k3s' && return 0; sleep 1; done; return 1; }
check "k3s on k3s-vm-fawn becomes active once promoted" fawn_active
capture 127.0.0.22 'printf "cluster-domain: other.local\n" >> /etc/rancher/k3s/config.yaml; systemctl restart k3s; echo rc=$?; sed -i "/^cluster-domain: other.local$/d" /etc/rancher/k3s/config.yaml; systemctl restart k3s'
has "^rc=0$" && pass "an initialized server restarts with another critical flag (compared only on join)" || fail "restart with flag: $(cat "$WORK/out")"
capture 127.0.0.23 'curl -s 127.0.0.1:2381/metrics | grep etcd_disk_wal_fsync_duration_seconds | head -3'
has "etcd_disk_wal_fsync_duration_seconds_bucket" && pass "WAL fsync histogram on the guest's 127.0.0.1:2381/metrics" || fail "metrics: $(cat "$WORK/out")"
capture 127.0.0.21 'k3s etcd-snapshot save --name pre-upgrade; ls /var/lib/rancher/k3s/server/db/snapshots/'
grep -Eq '^pre-upgrade-k3s-vm-pve-[0-9]+$' "$WORK/out" && pass "k3s etcd-snapshot save wrote pre-upgrade-k3s-vm-pve-<ts>" || fail "snapshot: $(cat "$WORK/out")"
capture 127.0.0.21 'n=$(ls /var/lib/rancher/k3s/server/db/snapshots/ | grep "^pre-upgrade-" | head -n 1); k3s etcd-snapshot delete "$n"; echo rc=$?; ls /var/lib/rancher/k3s/server/db/snapshots/ | grep -c "^pre-upgrade-"'
has "^rc=0$" && has "^0$" && pass "k3s etcd-snapshot delete NAME removes that snapshot" || fail "snapshot delete: $(cat "$WORK/out")"
capture 127.0.0.23 'k3s --version'
[ "$(head -1 "$WORK/out" | cut -d' ' -f1-3)" = "k3s version v1.33.5+k3s1" ] && has "^go version go1" && pass "k3s --version on k3s-vm-fawn: v1.33.5+k3s1" || fail "version: $(cat "$WORK/out")"

echo "== installer with INSTALL_K3S_SKIP_START keeps the old version running"
capture 127.0.0.23 'curl -sfL http://127.0.0.1:8088/install.sh | INSTALL_K3S_VERSION=v1.33.6+k3s1 INSTALL_K3S_SKIP_START=true sh -s - server; k3s --version | head -1'
has "k3s version v1.33.6+k3s1" && pass "new binary installed on k3s-vm-fawn" || fail "install: $(cat "$WORK/out")"
node_version() { ssh_to 127.0.0.21 "k3s kubectl get node k3s-vm-fawn -o jsonpath='{.status.nodeInfo.kubeletVersion}'"; }
[ "$(node_version)" = "v1.33.5+k3s1" ] && pass "the API (asked on k3s-vm-pve) still reports v1.33.5+k3s1" || fail "reported $(node_version)"
check "systemctl restart k3s on k3s-vm-fawn" ssh_to 127.0.0.23 'systemctl restart k3s'
[ "$(node_version)" = "v1.33.6+k3s1" ] && pass "after the restart it reports v1.33.6+k3s1" || fail "reported $(node_version)"
capture 127.0.0.23 'curl -sfL http://127.0.0.1:8088/install.sh | INSTALL_K3S_VERSION=v1.33.99+k3s1 sh -s - server; echo rc=$?'
has "Download failed" && has "rc=1" && pass "an unknown version fails like the real installer" || fail "bad version: $(cat "$WORK/out")"
capture 127.0.0.21 'k3s kubectl get node k3s-vm-fawn -o json'
/usr/bin/python3 -c 'import json,sys; n=json.load(open(sys.argv[1])); r=[c["status"] for c in n["status"]["conditions"] if c["type"]=="Ready"]; sys.exit(0 if n["kind"]=="Node" and n["metadata"]["name"]=="k3s-vm-fawn" and r==["True"] else 1)' "$WORK/out" &&
  pass "k3s kubectl get node k3s-vm-fawn -o json from k3s-vm-pve: Node, Ready True" || fail "kubectl json: $(head -5 "$WORK/out")"
capture 127.0.0.22 'systemctl stop k3s; systemctl is-active k3s; k3s kubectl get nodes; echo rc=$?; systemctl start k3s; systemctl is-active k3s'
has "The connection to the server 127.0.0.1:6443 was refused" && has "rc=1" && grep -q '^active' "$WORK/out" &&
  pass "kubectl is refused while k3s is stopped, answers after start" || fail "stopped k3s: $(cat "$WORK/out")"
capture 127.0.0.21 'k3s kubectl cordon k3s-vm-fawn; k3s kubectl get nodes | grep "^k3s-vm-fawn"; k3s kubectl uncordon k3s-vm-fawn; echo "unschedulable=$(k3s kubectl get node k3s-vm-fawn -o jsonpath="{.spec.unschedulable}")"'
has "node/k3s-vm-fawn cordoned" && has "SchedulingDisabled" && has "node/k3s-vm-fawn uncordoned" && has "^unschedulable=$" &&
  pass "kubectl cordon/uncordon: SchedulingDisabled, then schedulable again" || fail "cordon: $(cat "$WORK/out")"
# Real workloads (lab/fixtures/workloads, applied at lab up) and a real drain: the fixture's own
# pods move; a pod under a budget that allows no eviction holds it until --timeout; a bare pod
# (no controller) makes it fail without --force.
capture 127.0.0.21 'k3s kubectl get pods -A --no-headers | wc -l; k3s kubectl get pdb web -o jsonpath="{.status.disruptionsAllowed}"'
[ "$(head -1 "$WORK/out")" -ge 7 ] && [ "$(tail -1 "$WORK/out")" = 1 ] &&
  pass "fixture workloads run: $(head -1 "$WORK/out") pods, web's budget allows 1 disruption" || fail "workloads: $(cat "$WORK/out")"
capture 127.0.0.21 'k3s kubectl drain k3s-vm-fawn --ignore-daemonsets --delete-emptydir-data --timeout=60s; echo rc=$?; k3s kubectl get pods -A --field-selector spec.nodeName=k3s-vm-fawn --no-headers | grep -vc node-agent; k3s kubectl uncordon k3s-vm-fawn'
has "node/k3s-vm-fawn drained" && has "^rc=0$" && grep -q '^0$' "$WORK/out" &&
  pass "a real drain evicts k3s-vm-fawn's pods (the DaemonSet's stays)" || fail "drain: $(cat "$WORK/out")"
ssh_to 127.0.0.21 'k3s kubectl apply -f -' >"$WORK/out" 2>&1 <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: { name: pinned, namespace: default }
spec:
  replicas: 1
  selector: { matchLabels: { app: pinned } }
  template:
    metadata: { labels: { app: pinned } }
    spec:
      nodeSelector: { kubernetes.io/hostname: k3s-vm-fawn }
      containers: [{ name: pinned, image: registry.invalid/pinned:1 }]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: pinned, namespace: default }
spec: { minAvailable: 1, selector: { matchLabels: { app: pinned } } }
EOF
capture 127.0.0.21 'k3s kubectl wait --for=condition=Ready pod -l app=pinned --timeout=60s >/dev/null; k3s kubectl drain k3s-vm-fawn --ignore-daemonsets --delete-emptydir-data --timeout=5s; echo rc=$?; k3s kubectl uncordon k3s-vm-fawn; k3s kubectl delete deployment/pinned pdb/pinned'
has "Cannot evict pod as it would violate the pod's disruption budget" && has "global timeout reached: 5s" && has "^rc=1$" &&
  pass "a PodDisruptionBudget holds the drain until its --timeout (kubectl: global timeout reached: 5s)" || fail "PDB drain: $(cat "$WORK/out")"
capture 127.0.0.21 'printf "apiVersion: v1\nkind: Pod\nmetadata: { name: bare, namespace: default }\nspec: { nodeName: k3s-vm-fawn, containers: [{ name: bare, image: registry.invalid/bare:1 }] }\n" | k3s kubectl apply -f - >/dev/null; k3s kubectl drain k3s-vm-fawn --ignore-daemonsets --delete-emptydir-data --timeout=10s; echo rc=$?; k3s kubectl uncordon k3s-vm-fawn; k3s kubectl delete pod bare --wait=false'
has "cannot delete Pods that declare no controller" && has "^rc=1$" &&
  pass "a bare pod makes the drain fail without --force" || fail "bare pod drain: $(cat "$WORK/out")"
capture 127.0.0.23 'k3s kubectl get nodes; echo rc=$?; ls /etc/rancher/k3s/'
has "^rc=0$" && has "k3s.yaml" && pass "k3s kubectl on a server uses /etc/rancher/k3s/k3s.yaml" || fail "kubeconfig: $(cat "$WORK/out")"
capture 127.0.0.21 'systemctl restart ssh; echo rc=$?'
has "not managed in the lab" && pass "systemctl refuses units other than k3s" || fail "systemctl ssh: $(cat "$WORK/out")"

echo "== systemd as install.sh's unit runs it, in the guest's zone"
capture 127.0.0.21 'systemctl show -p ExecStart --value k3s; grep -c . /etc/systemd/system/k3s.service.env; grep -o "^[A-Z_]*=" /etc/systemd/system/k3s.service.env | tr -d "\n"'
has "argv\[\]=/usr/local/bin/k3s server --node-ip=198.18.0.21 --tls-san=k3s.lab.example ; ignore_errors=no" && has "^HTTP_PROXY=NO_PROXY=$" &&
  pass "k3s-vm-pve: install-time flags in ExecStart, proxy env in k3s.service.env" || fail "install-time state: $(cat "$WORK/out")"
capture 127.0.0.22 'systemctl show -p ActiveEnterTimestamp --value k3s; systemctl show --timestamp=unix -p ActiveEnterTimestamp --value k3s; TZ=UTC systemctl show -p ActiveEnterTimestamp --value k3s'
grep -Eq ' AE[DS]T$' "$WORK/out" && grep -Eq '^@[0-9]+$' "$WORK/out" && grep -Eq ' UTC$' "$WORK/out" &&
  pass "k3s-vm-piglet (Australia/Sydney): ActiveEnterTimestamp in AEDT/AEST, @seconds, UTC" || fail "timestamps: $(cat "$WORK/out")"
# The stop part takes a moment (k3s stops its apiserver, controllers and kwok): deactivating,
# then activating/start until READY.
capture 127.0.0.23 'systemctl restart --no-block k3s; echo rc=$?; for i in $(seq 80); do s=$(systemctl show -p ActiveState,SubState k3s | tr "\n" " "); case "$s" in *=activating*) echo "$s"; break ;; esac; sleep 0.25; done; for i in $(seq 60); do [ "$(systemctl show -p ActiveState --value k3s)" = active ] && break; sleep 0.5; done; systemctl is-active k3s'
has "^rc=0" && has "^ActiveState=activating SubState=start" && grep -q '^active$' "$WORK/out" &&
  pass "systemctl restart --no-block returns at once; activating/start until READY, then active" || fail "no-block: $(cat "$WORK/out")"
capture 127.0.0.21 'systemctl stop k3s'
capture 127.0.0.22 'systemctl stop k3s'
capture 127.0.0.23 'timeout 20 systemctl restart k3s; echo rc=$?; systemctl show -p ActiveState,SubState k3s'
has "^rc=124" && has "^ActiveState=activating" && has "^SubState=start" &&
  pass "without etcd quorum systemctl restart k3s does not return (TimeoutStartSec=0)" || fail "no quorum: $(cat "$WORK/out")"
capture 127.0.0.21 'systemctl start --no-block k3s'
capture 127.0.0.22 'systemctl start k3s; systemctl is-active k3s'
capture 127.0.0.23 'for i in $(seq 60); do [ "$(systemctl show -p ActiveState --value k3s)" = active ] && break; sleep 0.5; done; systemctl is-active k3s'
grep -q '^active$' "$WORK/out" && pass "quorum back: the queued start of k3s-vm-fawn completes" || fail "quorum back: $(cat "$WORK/out")"

echo "== the event log"
EV=.lab/events.jsonl
/usr/bin/python3 - "$EV" >"$WORK/out" 2>&1 <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
up = max(i for i, e in enumerate(ev) if e["tool"] == "lab" and e["action"] == "up")
calls = [e for e in ev[up + 1:] if e["tool"] != "lab"]
mut = [(e["host"], e["tool"], e["action"]) for e in calls if e["mutating"]]
print("mutating calls:", len(mut))
def idx(item):
    return mut.index(item)
assert all({"ts", "host", "tool", "action", "mutating"} <= set(e) for e in ev), "fields"
assert ("pve", "qm", "set") in mut and ("pve", "qm", "reboot") in mut
assert idx(("pve", "qm", "set")) < idx(("pve", "qm", "reboot")), "qm set before qm reboot"
assert mut.count(("pve", "qm", "reboot")) == 1, "exactly one qm reboot"
i = idx(("k3s-vm-fawn", "installer", "install"))
assert i < idx(("k3s-vm-fawn", "systemctl", "restart")), "install before restart"
assert ("k3s-vm-pve", "k3s", "etcd-snapshot") in mut
ro = [e for e in calls if e["tool"] == "qm" and e["action"] == "config"]
assert ro and not any(e["mutating"] for e in ro), "qm config is read-only"
boots = [e for e in ev[up + 1:] if e["tool"] == "lab" and e["action"] == "boot" and e["host"] == "k3s-vm-pve"]
assert len(boots) == 1, "one boot of k3s-vm-pve after lab up"
print("ok")
EOF
has "^ok$" && pass "event log: fields, order and counts ($(grep 'mutating calls' "$WORK/out"))" || fail "event log: $(cat "$WORK/out")"

echo "== lab status"
$LAB status >"$WORK/out" 2>&1
[ "$(grep -cE '^(pve|piglet|fawn|k3s-vm-[a-z]+) .* up ' "$WORK/out")" = 6 ] && pass "lab status: 6 hosts up" || fail "status: $(cat "$WORK/out")"

echo "== lab down"
check "lab down" $LAB down
[ -z "$(ip netns list | grep '^hl-')" ] && pass "no hl-* network namespaces" || fail "netns left: $(ip netns list)"
diff <(ip netns list) "$WORK/netns.before" >/dev/null && pass "ip netns list as before" || fail "ip netns differs"
[ -z "$(grep -E '/\.lab/|/run/netns' /proc/self/mountinfo)" ] && pass "no lab mounts, /run/netns as before" || fail "mounts left: $(grep -E '/\.lab/|/run/netns' /proc/self/mountinfo)"
[ -z "$(pgrep -f 'lab/runtime/supervisor.py|bin/etcd --name|socat TCP-LISTEN')" ] && pass "no lab processes" || fail "processes left: $(pgrep -af 'supervisor.py|etcd --name|socat TCP-LISTEN')"
[ "$(machine_daemons)" = "$daemons_before" ] && pass "sshd/etcd processes and /root/.ssh/authorized_keys as before ($daemons_before)" || fail "machine daemons: $(machine_daemons) vs $daemons_before"
# Other processes on the machine may open 127.0.0.1 listeners meanwhile: look at the lab's addresses.
new_listeners=$(comm -13 "$WORK/listen.before" <(ss -Hltn | awk '{print $4}' | sort) | grep -E '^127\.0\.0\.(1[1-3]|2[1-3]):')
[ -z "$new_listeners" ] && pass "no listener left on the lab's addresses" || fail "listeners left: $new_listeners"
ls -la /etc/sysctl.d /etc/modprobe.d >"$WORK/etc.after" 2>&1
diff "$WORK/etc.before" "$WORK/etc.after" >/dev/null && pass "machine's /etc/sysctl.d and /etc/modprobe.d unchanged" || fail "/etc changed"
[ "$(hostname)" = "$real_hostname" ] && [ "$(cat /proc/sys/vm/swappiness)" = "$real_swappiness" ] && [ ! -e /etc/pve ] &&
  pass "hostname, vm.swappiness as before, no /etc/pve" || fail "machine state changed"
[ ! -e .lab ] && pass ".lab removed" || fail ".lab still there"

rm -rf "$WORK"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
