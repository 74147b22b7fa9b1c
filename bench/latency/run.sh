#!/usr/bin/env bash
# The latency budget (issue #14 part 1): where one ping's round trip through
# two vxtap daemons goes, hop by hop, at three ping spacings, with kernel
# vxlan and tinc measured in the same run for reference.
#
#   sudo bench/latency/run.sh [--counts 500,2000,2000] [--out DIR] [--prefix P] [--no-tinc] [--vxtap-flags "--no-offload"]
#   npm run bench:latency  (the same, defaults)
#
# One pair of namespaces (bench/lab/paths.sh, the lab bench's), one path after
# the other, each pinged from a at 10 ms, 1 ms and 0.2 ms spacing (--counts
# pings each; fewer than the lab bench's, as the budget prints p50 and p99
# and the recorded run writes every frame four times):
#   kernel         kernel vxlan, the reference the "added" figures are taken against;
#   tinc           tinc switch mode, no cipher (when installed; --no-tinc skips it);
#   vxtap          `vxtap run` on both ends, nothing recorded: the plain figure;
#   vxtap-stamped  the same daemons with VXTAP_STAMPS (the addon's stamps,
#                  native/stamps.h) and tcpdump on a's TAP, a's eth0, b's eth0
#                  and b's TAP. Each echo is followed through all six by its
#                  ICMP id and sequence (bench/latency/budget.ts).
# Output in DIR (default bench/results/latency/<time>/): pings, captures,
# stamps, budget.md and budget.json (bench/latency/main.ts writes them).
# Namespaces ${P}a/b (default vxlt-), removed on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNTS="500 2000 2000" OUTDIR="" P=vxlt- TINC=1 VXFLAGS=""
SPACINGS="0.01 0.001 0.0002"
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --counts) COUNTS=${2//,/ }; shift 2 ;;
    --out) OUTDIR=$2; shift 2 ;;
    --prefix) P=$2; shift 2 ;;
    --no-tinc) TINC=0; shift ;;
    --vxtap-flags) VXFLAGS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench:latency: unknown flag $1" >&2; usage >&2; exit 2 ;;
  esac
done
# The flags first (exit 2), before anything needs root or touches a namespace.
[[ "$P" =~ ^[a-z][a-z0-9-]{1,9}$ ]] || { echo "bench:latency: --prefix takes 2-10 lower-case letters, digits or dashes, got '$P'" >&2; exit 2; }
[ "$(wc -w <<<"$COUNTS")" = 3 ] || { echo "bench:latency: --counts takes three numbers (10 ms, 1 ms, 0.2 ms), got '$COUNTS'" >&2; exit 2; }
for n in $COUNTS; do
  # A positive integer of at most 7 digits: ping -c takes it, and a run ends.
  [[ "$n" =~ ^[1-9][0-9]{0,6}$ ]] || { echo "bench:latency: --counts takes positive whole numbers of pings, got '$n' in '$COUNTS'" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench:latency: run as root (network namespaces)" >&2; exit 1; }
for c in ip ping tcpdump node python3; do command -v $c >/dev/null || { echo "bench:latency: $c is missing (sudo ./scripts/setup.sh installs it)" >&2; exit 1; }; done
[ -f dist/bench/latency/main.js ] && [ -f build/Release/vxtap.node ] || { echo "bench:latency: not built (run npm ci)" >&2; exit 1; }
[ "$TINC" = 1 ] && ! command -v tincd >/dev/null && { echo "bench:latency: tinc is not installed (apt-get install tinc): skipped" >&2; TINC=0; }

VNI=1 PORT=4789
OUTDIR=${OUTDIR:-bench/results/latency/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
TMP=$(mktemp -d)
DUMPS=()
cleanup() {
  for pid in "${DUMPS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P" || true); do
    ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo; echo "bench:latency: interrupted, cleaning up"; exit 130' INT TERM
cleanup; TMP=$(mktemp -d)
say() { printf '\033[1m[%s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
. bench/lab/paths.sh

# Pings from a at each spacing: DIR/<path>-<spacing>.ping, and the window of
# each run (CLOCK_REALTIME ns) in DIR/<path>.windows: "spacing start end".
pings() { # path, dst
  ip netns exec ${P}a ping -c 50 -i 0.01 -q "$2" >/dev/null 2>&1 || true   # warm up ARP/neigh and the daemons
  : > "$OUTDIR/$1.windows"
  local i=0 sp n t0
  for sp in $SPACINGS; do
    i=$((i + 1)); n=$(cut -d' ' -f$i <<<"$COUNTS")
    say "$1: $n pings, $(python3 -c "print('%g' % ($sp * 1000))") ms apart"
    t0=$(date +%s%N)
    # ping exits 1 when replies were lost (the budget counts them) and 2 when
    # it could not run at all (a bad option, no permission): that ends the run.
    local rc=0
    ip netns exec ${P}a ping -c "$n" -i "$sp" "$2" > "$OUTDIR/$1-$sp.ping" 2>&1 || rc=$?
    if [ "$rc" = 1 ]; then
      say "$1: ping lost replies: $(grep -m1 'packet loss' "$OUTDIR/$1-$sp.ping" || tail -n1 "$OUTDIR/$1-$sp.ping")"
    elif [ "$rc" != 0 ]; then
      echo "bench:latency: $1: ping -c $n -i $sp $2 failed (exit $rc): $(tail -n2 "$OUTDIR/$1-$sp.ping")" >&2; exit 1
    fi
    echo "$sp $t0 $(date +%s%N)" >> "$OUTDIR/$1.windows"
  done
}
dump() { # host, interface, file, filter
  ip netns exec $P$1 tcpdump -i "$2" -n -s 160 -B 8192 --time-stamp-precision nano -w "$OUTDIR/$3" "$4" 2> "$OUTDIR/$3.log" &
  DUMPS+=($!)
  for _ in $(seq 50); do grep -q "listening on" "$OUTDIR/$3.log" && return; sleep 0.1; done
  echo "bench:latency: tcpdump on $1/$2 did not start: $(cat "$OUTDIR/$3.log")" >&2; exit 1
}

python3 -c "import os; print(round(os.getloadavg()[0], 2))" > "$OUTDIR/load1-start"
say "== kernel vxlan"
underlay; kernel_vxlan a 1 2; kernel_vxlan b 2 1; pings kernel 10.44.2.0; teardown
if [ "$TINC" = 1 ]; then say "== tinc"; underlay; tinc_pair; pings tinc 10.9.1.2; teardown; fi
say "== vxtap (nothing recorded)"
underlay; vxtap_pair batch "$VXFLAGS"; pings vxtap 10.44.2.0; teardown
say "== vxtap with stamps and captures"
rm -f "$OUTDIR"/a.stamps "$OUTDIR"/b.stamps
underlay
STAMPS_DIR=$OUTDIR vxtap_pair batch "$VXFLAGS"
dump a vxtap.$VNI tap-a.pcap icmp; dump a eth0 eth-a.pcap "udp port $PORT"
dump b eth0 eth-b.pcap "udp port $PORT"; dump b vxtap.$VNI tap-b.pcap icmp
pings vxtap-stamped 10.44.2.0
# tcpdump hands frames over a block at a time (TPACKET_V3, 1 s timeout): wait
# for the last block before stopping it, or the last run's frames are lost.
sleep 2
for pid in "${DUMPS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
for pid in "${DUMPS[@]}"; do wait "$pid" 2>/dev/null || true; done
DUMPS=()
teardown
python3 -c "import os; print(round(os.getloadavg()[0], 2))" > "$OUTDIR/load1"
node dist/bench/latency/main.js "$OUTDIR"
