#!/usr/bin/env bash
# Two hosts on a veth underlay (MTU 1500), one iperf3 TCP stream per path,
# all in ONE run so the figures compare: raw veth, kernel vxlan (as flannel
# sets it up), vxtap --io batch, vxtap --io dgram. Every figure is printed as
# a ratio of kernel vxlan measured here, because absolute numbers on shared
# machines drift. Namespaces carry the prefix vxb-; all are removed on exit.
#
#   sudo bench/lab/two-host.sh [SECONDS]     (default 10 s per path)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
P=vxb-
VNI=1
PORT=4789
OUT=$(mktemp -d)
cleanup() {
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P" || true); do
    ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
    ip netns delete "$ns"
  done
  rm -rf "$OUT"
}
trap cleanup EXIT
cleanup; OUT=$(mktemp -d)

underlay() {
  ip netns add ${P}a; ip netns add ${P}b
  for h in a b; do ip -n $P$h link set lo up; done
  ip -n ${P}a link add eth0 type veth peer name eth0 netns ${P}b
  ip -n ${P}a addr add 192.168.88.1/24 dev eth0; ip -n ${P}b addr add 192.168.88.2/24 dev eth0
  for h in a b; do ip -n $P$h link set eth0 up; ip -n $P$h route add default dev eth0; done
}
teardown() { for h in a b; do ip netns pids $P$h | xargs -r kill 2>/dev/null || true; done; sleep 0.5; for h in a b; do ip netns delete $P$h; done; }

# iperf3 from a to b's address; prints Gbit/s (receiver side).
iperf() {
  ip netns exec ${P}b iperf3 -s -1 -B "$1" >/dev/null 2>&1 &
  sleep 0.5
  ip netns exec ${P}a iperf3 -c "$1" -t "$SECS" -J > $OUT/iperf.json
  wait
  python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e9))' $OUT/iperf.json
}

declare -A R
echo "== raw veth"; underlay; R[veth]=$(iperf 192.168.88.2); teardown

kernel_vxlan() { # $1 = host, $2 = own last octet, $3 = peer last octet
  local h=$1 me=$2 peer=$3
  ip -n $P$h link add flannel.$VNI address 02:76:c0:a8:58:0$me type vxlan id $VNI dstport $PORT local 192.168.88.$me dev eth0 nolearning
  ip -n $P$h link set flannel.$VNI mtu 1450 up
  ip -n $P$h addr add 10.44.$me.0/32 dev flannel.$VNI
  ip -n $P$h neigh replace 10.44.$peer.0 lladdr 02:76:c0:a8:58:0$peer dev flannel.$VNI nud permanent
  ip netns exec $P$h bridge fdb append 02:76:c0:a8:58:0$peer dev flannel.$VNI dst 192.168.88.$peer
  ip -n $P$h route replace 10.44.$peer.0/24 via 10.44.$peer.0 dev flannel.$VNI onlink
}
echo "== kernel vxlan"; underlay; kernel_vxlan a 1 2; kernel_vxlan b 2 1; R[kernel]=$(iperf 10.44.2.0); teardown
echo "== kernel vxlan, veth tx offload off"; underlay
for h in a b; do ip netns exec $P$h ethtool -K eth0 tx off >/dev/null; done
kernel_vxlan a 1 2; kernel_vxlan b 2 1; R[kernel_txoff]=$(iperf 10.44.2.0); teardown

vxtap_pair() { # $1 = io mode
  for me in 1 2; do
    local h=$([ $me = 1 ] && echo a || echo b) peer=$((3 - me))
    echo "{\"vni\":$VNI,\"port\":$PORT,\"self\":{\"subnet\":\"10.44.$me.0/24\"},\"peers\":[{\"subnet\":\"10.44.$peer.0/24\",\"publicIp\":\"192.168.88.$peer\"}]}" > $OUT/$h.json
    ip netns exec $P$h node bin/vxtap.js run --peers $OUT/$h.json --io "$1" --log-format json > $OUT/$h.log 2>&1 &
  done
  for h in a b; do for _ in $(seq 50); do grep -q "vxtap is up" $OUT/$h.log && break; sleep 0.2; done; done
}
for io in batch dgram; do
  echo "== vxtap --io $io"; underlay; vxtap_pair $io; R[vxtap_$io]=$(iperf 10.44.2.0); teardown
done

echo
echo "iperf3, 1 TCP stream, ${SECS} s, $(date -u +%FT%TZ), $(nproc) cores, kernel $(uname -r)"
printf '%-34s %10s %12s\n' path Gbit/s "% kernel"
for k in veth kernel kernel_txoff vxtap_batch vxtap_dgram; do
  printf '%-34s %10s %11.1f%%\n' "$k" "${R[$k]}" "$(python3 -c "print(100*${R[$k]}/${R[kernel]})")"
done
