# The lab bench's paths (sourced by bench/lab/run.sh and bench/latency/run.sh):
# two namespaces ${P}a and ${P}b over a veth underlay (192.168.88.1 and .2),
# and each tunnel between them. Uses P, VNI, PORT, TMP and HEALTHZ from the
# caller. vxtap_pair passes VXTAP_STAMPS=$STAMPS_DIR/<host>.stamps to each
# daemon when STAMPS_DIR is set (the latency budget's stamps, native/stamps.h).
underlay() {
  ip netns add ${P}a; ip netns add ${P}b
  for h in a b; do ip -n $P$h link set lo up; done
  ip -n ${P}a link add eth0 type veth peer name eth0 netns ${P}b
  ip -n ${P}a addr add 192.168.88.1/24 dev eth0; ip -n ${P}b addr add 192.168.88.2/24 dev eth0
  for h in a b; do ip -n $P$h link set eth0 up; ip -n $P$h route add default dev eth0; done
}
teardown() {
  for h in a b; do ip netns pids $P$h | xargs -r kill 2>/dev/null || true; done
  sleep 0.5
  for h in a b; do ip netns pids $P$h | xargs -r kill -9 2>/dev/null || true; ip netns delete $P$h; done
}
kernel_vxlan() { # host, own octet, peer octet
  local h=$1 me=$2 peer=$3
  ip -n $P$h link add flannel.$VNI address 02:76:c0:a8:58:0$me type vxlan id $VNI dstport $PORT local 192.168.88.$me dev eth0 nolearning
  ip -n $P$h link set flannel.$VNI mtu 1450 up
  ip -n $P$h addr add 10.44.$me.0/32 dev flannel.$VNI
  ip -n $P$h neigh replace 10.44.$peer.0 lladdr 02:76:c0:a8:58:0$peer dev flannel.$VNI nud permanent
  ip netns exec $P$h bridge fdb append 02:76:c0:a8:58:0$peer dev flannel.$VNI dst 192.168.88.$peer
  ip -n $P$h route replace 10.44.$peer.0/24 via 10.44.$peer.0 dev flannel.$VNI onlink
}
HEALTHZ=8285
ready() { # host: /readyz answers 200
  ip netns exec $P$1 python3 -c "import sys, urllib.request
try: sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$HEALTHZ/readyz', timeout=1).status == 200 else 1)
except Exception: sys.exit(1)"
}
vxtap_pair() { # io mode, extra flags (e.g. --offload)
  for me in 1 2; do
    local h=$([ $me = 1 ] && echo a || echo b) peer=$((3 - me))
    echo "{\"vni\":$VNI,\"port\":$PORT,\"self\":{\"subnet\":\"10.44.$me.0/24\"},\"peers\":[{\"subnet\":\"10.44.$peer.0/24\",\"publicIp\":\"192.168.88.$peer\"}]}" > $TMP/$h.json
    ip netns exec $P$h env ${STAMPS_DIR:+VXTAP_STAMPS=$STAMPS_DIR/$h.stamps} node bin/vxtap.js run --peers $TMP/$h.json --io "$1" ${2:-} --log-format json --healthz-ip 127.0.0.1 --healthz-port $HEALTHZ > $TMP/$h.log 2>&1 &
  done
  # Ready when /readyz says so (TAP up, peers installed), as an operator's probe would ask.
  for h in a b; do
    for _ in $(seq 100); do ready $h && break; sleep 0.1; done
    ready $h || { echo "vxtap did not become ready on $h:"; cat $TMP/$h.log; exit 1; } >&2
  done
}
# OpenVPN, TAP, point to point, no cipher and no auth (the userspace tunnel people pick today).
openvpn_pair() {
  for me in 1 2; do
    local h=$([ $me = 1 ] && echo a || echo b) peer=$((3 - me))
    ip netns exec $P$h openvpn --dev tap0 --dev-type tap --proto udp --local 192.168.88.$me --lport 1194 \
      --remote 192.168.88.$peer --rport 1194 --ifconfig 10.9.0.$me 255.255.255.0 --tun-mtu 1450 \
      --cipher none --auth none --data-ciphers none --verb 1 --daemon --log $TMP/ovpn-$h.log
  done
  for _ in $(seq 50); do ip netns exec ${P}a ping -c 1 -W 1 10.9.0.2 >/dev/null 2>&1 && return; sleep 0.2; done
  echo "bench: openvpn did not come up: $(tail -3 $TMP/ovpn-a.log)" >&2; exit 1
}
# tinc 1.0, switch mode, Cipher = none, Digest = none.
tinc_pair() {
  for me in 1 2; do
    local h=$([ $me = 1 ] && echo a || echo b) peer=$([ $me = 1 ] && echo b || echo a) d=$TMP/tinc-$([ $me = 1 ] && echo a || echo b)
    mkdir -p $d/hosts
    printf 'Name = %s\nMode = switch\nInterface = tinc0\nConnectTo = %s\nAddressFamily = ipv4\nBindToAddress = 192.168.88.%s\n' $h $peer $me > $d/tinc.conf
    printf 'Address = 192.168.88.%s\nCipher = none\nDigest = none\n' $me > $d/hosts/$h
    printf '#!/bin/sh\nip link set $INTERFACE mtu 1450 up\nip addr add 10.9.1.%s/24 dev $INTERFACE\n' $me > $d/tinc-up
    chmod +x $d/tinc-up
    tincd -c $d -K 2048 </dev/null >/dev/null 2>&1
  done
  cp $TMP/tinc-a/hosts/a $TMP/tinc-b/hosts/; cp $TMP/tinc-b/hosts/b $TMP/tinc-a/hosts/
  for h in a b; do ip netns exec $P$h tincd -c $TMP/tinc-$h --pidfile=$TMP/tinc-$h.pid; done
  for _ in $(seq 50); do ip netns exec ${P}a ping -c 1 -W 1 10.9.1.2 >/dev/null 2>&1 && return; sleep 0.2; done
  echo "bench: tinc did not come up" >&2; exit 1
}

