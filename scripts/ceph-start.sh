#!/bin/bash
# A throwaway single-node Ceph cluster with one RADOS Gateway (S3 on 127.0.0.1), for tests.
# One monitor, one OSD on memstore (data in RAM, at most 2 GiB), one radosgw; no authentication
# between the daemons. S3 user: access key TESTKEY, secret TESTSECRET; any region is accepted.
#
# Usage: scripts/ceph-start.sh DIR [PORT]   (RGW on PORT, default 7480; monitor on PORT+10000)
# Prints the S3 endpoint URL on success. Every daemon runs in its own process group, whose id is
# in DIR/run/<daemon>.pid; scripts/ceph-stop.sh DIR ends them all and removes DIR.
# Installs radosgw, ceph-mon, ceph-osd and ceph-common from Debian when they are missing.
set -euo pipefail
D=${1:?usage: ceph-start.sh DIR [PORT]}
P=${2:-7480}
MONP=$((P + 10000))

if ! command -v radosgw >/dev/null || ! command -v ceph-osd >/dev/null || ! command -v ceph-mon >/dev/null \
  || ! command -v ceph >/dev/null || ! command -v radosgw-admin >/dev/null || ! command -v monmaptool >/dev/null; then
  pkgs=(radosgw ceph-mon ceph-osd ceph-common)
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet: update once, then retry.
  apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null; }
fi

rm -rf "$D"
mkdir -p "$D"/{mon,osd/ceph-0,run,log}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat >"$D/ceph.conf" <<EOC
[global]
fsid = $FSID
mon_host = v1:127.0.0.1:$MONP
ms_bind_msgr2 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = $D/run
admin_socket = $D/run/\$name.asok
log_file = $D/log/\$name.log
pid_file = $D/run/\$name.daemon-pid
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_max_pg_per_osd = 1000
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
[mon]
mon_data = $D/mon/\$cluster-\$id
[osd]
osd_data = $D/osd/\$cluster-\$id
osd_objectstore = memstore
memstore_device_bytes = 2147483648
osd_memory_target = 536870912
osd_crush_update_on_start = false
osd_class_update_on_start = false
[client.rgw.gw]
rgw_frontends = beast endpoint=127.0.0.1:$P
rgw_dns_name = 127.0.0.1
EOC
C=(-c "$D/ceph.conf")

fail() {
  echo "ceph-start: $*" >&2
  tail -n 20 "$D"/log/*.out >&2 2>/dev/null || true
  exit 1
}
# With auth none a fresh client may send its first command before it has the monitor map and
# get EPERM: retry every CLI call.
retry() {
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "gave up on: $*"
}
# setsid: each daemon leads its own process group, so the stop script can end it whole.
daemon() {
  local name=$1; shift
  setsid "$@" >"$D/log/$name.out" 2>&1 </dev/null &
  echo $! >"$D/run/$name.pid"
}

monmaptool --create --addv a "[v1:127.0.0.1:$MONP]" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" >/dev/null 2>&1 || fail "ceph-mon --mkfs failed"
daemon mon ceph-mon "${C[@]}" -f -i a
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
retry ceph "${C[@]}" osd new "$OSD_UUID"
ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$OSD_UUID" >/dev/null 2>&1 || fail "ceph-osd --mkfs failed"
retry ceph "${C[@]}" osd crush add-bucket localhost host
retry ceph "${C[@]}" osd crush move localhost root=default
retry ceph "${C[@]}" osd crush add osd.0 1 host=localhost
daemon osd ceph-osd "${C[@]}" -f -i 0
end=$(($(date +%s) + 90))
until ceph "${C[@]}" osd stat 2>/dev/null | grep -q "1 up"; do
  [ "$(date +%s)" -ge "$end" ] && fail "the OSD did not come up"
  sleep 0.2
done
daemon rgw radosgw "${C[@]}" -f -n client.rgw.gw
until curl -s -o /dev/null "http://127.0.0.1:$P/"; do
  [ "$(date +%s)" -ge "$end" ] && fail "radosgw did not start listening on $P"
  sleep 0.2
done
retry radosgw-admin "${C[@]}" user create --uid=test --display-name=test --access-key=TESTKEY --secret=TESTSECRET
echo "http://127.0.0.1:$P"
