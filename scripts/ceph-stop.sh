#!/bin/bash
# Stops what scripts/ceph-start.sh DIR started, each daemon's whole process group, then removes
# DIR. Safe to run twice. The gateway and the OSD go first: an OSD that can still reach its
# monitor exits in about half a second, one that cannot waits about 5 s for it.
D=${1:?usage: ceph-stop.sh DIR}
pgid() { [ -f "$D/run/$1.pid" ] && cat "$D/run/$1.pid"; }
# A group counts as alive while it has a member that is not a zombie (init reaps those lazily).
alive() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'; }
# stop GROUP...: TERM, up to 5 s of grace, then KILL
stop() {
  local p any
  for p in "$@"; do kill -TERM -- "-$p" 2>/dev/null; done
  for _ in $(seq 50); do
    any=0
    for p in "$@"; do alive "$p" && any=1; done
    [ "$any" = 0 ] && break
    sleep 0.1
  done
  for p in "$@"; do kill -KILL -- "-$p" 2>/dev/null; done
}
first=()
for name in rgw osd; do p=$(pgid "$name") && first+=("$p"); done
[ ${#first[@]} -gt 0 ] && stop "${first[@]}"
mon=$(pgid mon) && stop "$mon"
rm -rf "$D"
true
