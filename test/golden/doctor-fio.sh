export LC_ALL=C
DATA='/var/lib/rancher/k3s/server/db'
printf '\n@@ %s\n' 'fio-ready'
if ! command -v fio >/dev/null 2>&1; then echo '!no-fio'; exit 0; fi
if [ ! -d "$DATA" ]; then echo '!no-data-dir'; exit 0; fi
FREE=$(df -Pk "$DATA" | awk 'NR == 2 { print $4 }')
if [ "${FREE:-0}" -lt 284672 ]; then echo "!no-space $FREE"; exit 0; fi
DIR=$(mktemp -d "$DATA/.k3s-homelab-doctor-fio.XXXXXX") || { echo '!mktemp'; exit 0; }
FIO=
# fio runs in its own process group: TERM the group, KILL it after 10 s, remove the dir.
stop() {
  if [ -n "$FIO" ]; then
    kill -TERM -"$FIO" 2>/dev/null
    n=0
    while kill -0 -"$FIO" 2>/dev/null && [ "$n" -lt 10 ]; do sleep 1; n=$((n + 1)); done
    kill -KILL -"$FIO" 2>/dev/null
    FIO=
  fi
  rm -rf "$DIR"
}
trap stop EXIT
trap 'stop; exit 129' HUP
trap 'stop; exit 130' INT
trap 'stop; exit 141' PIPE
trap 'stop; exit 143' TERM
echo ready
printf '\n@@ %s\n' 'fs'; df -PT "$DATA" | awk 'NR == 2 { print $2, $1 }'
setsid fio --rw=write --ioengine=sync --fdatasync=1 --directory="$DIR" --size=22m --bs=2300 --name=k3s-homelab-doctor --output-format=json --runtime=300 --output="$DIR/result.json" >/dev/null 2>"$DIR/stderr" &
FIO=$!
# A closed SSH session makes this write fail: stop fio and remove its file then.
while kill -0 "$FIO" 2>/dev/null; do printf . >&2 || { stop; exit 141; }; sleep 1; done
wait "$FIO"; RC=$?; FIO=
printf '\n@@ %s\n' 'fio-exit'; echo "$RC"
printf '\n@@ %s\n' 'fio-stderr'; cat "$DIR/stderr" 2>/dev/null
printf '\n@@ %s\n' 'fio'; cat "$DIR/result.json" 2>/dev/null
stop; trap - EXIT
printf '\n@@ %s\n' 'removed'; if [ -e "$DIR" ]; then echo no; else echo yes; fi
