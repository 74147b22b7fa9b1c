#!/usr/bin/env bash
# The main job for now: a two-host vxtap overlay plus one host that runs the
# kernel's vxlan device (configured as flannel configures it), all in network
# namespaces on this machine. It sets up what is missing, brings the overlay
# up, pings across it in every direction, prints each daemon's counters, and
# removes everything it made (also on Ctrl-C or failure).
#
#   sudo ./scripts/demo.sh            # run and tear down
#   sudo ./scripts/demo.sh --keep     # leave it running; tear down with --down
#   sudo ./scripts/demo.sh --down
set -euo pipefail
cd "$(dirname "$0")/.."
P=vxdemo-              # every namespace this script makes carries this prefix
VNI=42
PORT=4789
declare -A UNDER=([h1]=192.168.77.1 [h2]=192.168.77.2 [k3]=192.168.77.3)
declare -A SUB=([h1]=10.44.1.0 [h2]=10.44.2.0 [k3]=10.44.3.0)
RUN=/run/vxtap-demo

down() {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  done
  sleep 0.5
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns delete "$ns"
  done
  rm -rf "$RUN"
}

case "${1:-}" in
  --down) down; echo "demo: removed"; exit 0 ;;
  --keep|"") ;;
  *) echo "usage: $0 [--keep|--down]" >&2; exit 2 ;;
esac

./scripts/setup.sh
down
[ "${1:-}" = --keep ] || trap down EXIT
mkdir -p "$RUN"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
mac_of() { printf '02:76:%02x:%02x:%02x:%02x' $(echo "$1" | tr . ' '); }   # what vxtap derives from a public IP

step "underlay: a bridge in ${P}u, hosts h1 h2 (vxtap) and k3 (kernel vxlan) on 192.168.77.0/24"
ip netns add ${P}u; ip -n ${P}u link set lo up
ip -n ${P}u link add br0 type bridge; ip -n ${P}u link set br0 up
for h in h1 h2 k3; do
  ip netns add $P$h; ip -n $P$h link set lo up
  ip -n ${P}u link add p-$h type veth peer name eth0 netns $P$h
  ip -n ${P}u link set p-$h master br0 up
  ip -n $P$h link set eth0 up
  ip -n $P$h addr add ${UNDER[$h]}/24 dev eth0
  ip -n $P$h route add default dev eth0
done

step "k3: the kernel's vxlan device, as flannel's vxlan backend sets it up"
ip netns exec ${P}k3 ethtool -K eth0 tx off >/dev/null   # finish checksums in software, as a NIC would on a wire
ip -n ${P}k3 link add flannel.$VNI type vxlan id $VNI dstport $PORT local ${UNDER[k3]} dev eth0 nolearning
ip -n ${P}k3 link set flannel.$VNI mtu 1450 up
ip -n ${P}k3 addr add ${SUB[k3]}/32 dev flannel.$VNI
K3MAC=$(ip -n ${P}k3 -j link show flannel.$VNI | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
for h in h1 h2; do
  ip -n ${P}k3 neigh replace ${SUB[$h]} lladdr $(mac_of ${UNDER[$h]}) dev flannel.$VNI nud permanent
  ip netns exec ${P}k3 bridge fdb append $(mac_of ${UNDER[$h]}) dev flannel.$VNI dst ${UNDER[$h]}
  ip -n ${P}k3 route replace ${SUB[$h]}/24 via ${SUB[$h]} dev flannel.$VNI onlink
done

step "h1, h2: vxtap run --peers FILE (logs in $RUN/<host>.log)"
for h in h1 h2; do
  o=$([ $h = h1 ] && echo h2 || echo h1)
  cat > $RUN/$h.json <<JSON
{"vni": $VNI, "port": $PORT, "self": {"subnet": "${SUB[$h]}/24"},
 "peers": [{"subnet": "${SUB[$o]}/24", "publicIp": "${UNDER[$o]}"},
           {"subnet": "${SUB[k3]}/24", "publicIp": "${UNDER[k3]}", "vtepMac": "$K3MAC"}]}
JSON
  ip netns exec $P$h node bin/vxtap.js run --peers $RUN/$h.json --log-format pretty >$RUN/$h.log 2>&1 &
done
for h in h1 h2; do
  for _ in $(seq 50); do grep -q "vxtap is up" $RUN/$h.log && break; sleep 0.2; done
  grep -q "vxtap is up" $RUN/$h.log || { echo "vxtap on $h did not come up:"; cat $RUN/$h.log; exit 1; }
done
sed 's/^/  h1| /' $RUN/h1.log

step "ping across the overlay, every direction"
fail=0
for a in h1 h2 k3; do for b in h1 h2 k3; do
  [ $a = $b ] && continue
  if ip netns exec $P$a ping -c 2 -i 0.2 -W 2 -q ${SUB[$b]} >/dev/null; then r=ok; else r=FAIL; fail=1; fi
  printf '  %-3s -> %-3s %-10s %s\n' $a $b ${SUB[$b]} $r
done; done

step "h1: the kernel's view (routes via the TAP, neighbours answered by vxtap)"
ip -n ${P}h1 route show dev vxtap.$VNI | sed 's/^/  /'
ip -n ${P}h1 neigh show dev vxtap.$VNI | sed 's/^/  /'

step "counters (SIGUSR1 logs them)"
for h in h1 h2; do
  pid=$(ip netns pids $P$h | head -1); kill -USR1 "$pid"; sleep 0.3
  echo "  $h:"; grep -A30 "stats" $RUN/$h.log | tail -n +1 | head -0; tail -n 3 $RUN/$h.log | sed 's/^/    /'
done

if [ "${1:-}" = --keep ]; then
  step "left running: try  ip netns exec ${P}h1 ping ${SUB[k3]}   then  $0 --down"
fi
exit $fail
