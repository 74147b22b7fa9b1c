#!/usr/bin/env bash
# Installs what vxtap needs on a Debian machine, as root: the system packages
# the daemon, the tests and the lab use, then the npm packages and the addon
# build (`npm ci` runs node-gyp for native/ and tsc for src/).
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (TAP devices, network namespaces and apt-get need it): sudo $0" >&2
  exit 1
fi

# Debian package -> a command (or file) it provides.
declare -A need=(
  [iproute2]=/usr/sbin/ip          # ip netns, ip link, bridge
  [iputils-ping]=/usr/bin/ping
  [ethtool]=/usr/sbin/ethtool      # the one test that turns a kernel peer's TX checksum offload off
  [tcpdump]=/usr/bin/tcpdump
  [tshark]=/usr/bin/tshark         # dissects VXLAN in the tests' captures
  [iperf3]=/usr/bin/iperf3         # the lab benchmark
  [sockperf]=/usr/bin/sockperf     # the lab benchmark: UDP ping-pong round trips
  [etcd-server]=/usr/bin/etcd      # the control plane's store (tests start their own)
  [etcd-client]=/usr/bin/etcdctl
  [util-linux]=/usr/bin/setpriv    # tests run a TAP as an unprivileged user
  [prometheus]=/usr/bin/promtool   # the tests scrape /metrics with a real Prometheus and lint it with promtool
  [systemd]=/usr/bin/systemd-analyze # the tests verify contrib/systemd/vxtap.service
  [make]=/usr/bin/make             # node-gyp
  [g++]=/usr/bin/g++
  [python3]=/usr/bin/python3
  [chromium]=/usr/bin/chromium     # the headless browser of `lab web`'s test (driven by playwright-core; no browser download)
)
missing=()
for pkg in "${!need[@]}"; do
  [ -e "${need[$pkg]}" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: vxtap needs Node.js 20 or later (apt-get install nodejs npm, or your usual Node install)" >&2
  exit 1
fi

# npm ci: the locked npm packages; its install script builds the addon
# (node-gyp rebuild) and its prepare script compiles the TypeScript.
npm ci --no-audit --no-fund
test -f build/Release/vxtap.node || { echo "setup: the addon did not build (build/Release/vxtap.node missing)" >&2; exit 1; }
test -f dist/src/cli/main.js || { echo "setup: the TypeScript did not compile (dist/ missing)" >&2; exit 1; }
echo "setup: done"
