#!/usr/bin/env bash
# The main job: from a fresh clone to a working VXLAN overlay on this machine,
# in one command. It installs what is missing (scripts/setup.sh), builds the
# lab (`vxtap lab up`: an underlay bridge, a real etcd, vxtap hosts and a
# container behind each, all in network namespaces named vxlab-*), pings every
# container from every other one (`vxtap lab ping`), and leaves the lab up to
# explore (`vxtap lab trace h1`, `vxtap lab status`).
#
#   sudo ./scripts/lab.sh                  # 3 vxtap hosts
#   sudo ./scripts/lab.sh --kernel-peer    # plus a host running the kernel's vxlan device, as flannel sets it up
#   sudo ./scripts/lab.sh --mode l2        # L2 mode: a bridge br0 per host, every container on one subnet, flood and learn
#   sudo ./scripts/lab.sh --hosts 5        # any other `vxtap lab up` flag too
#   sudo ./scripts/lab.sh --once [FLAGS]   # up, ping, down: checks the machine and leaves nothing
#   sudo ./scripts/lab.sh --down [--prefix P --state-dir D]   # remove the lab (the same --prefix/--state-dir as up, if given)
set -euo pipefail
cd "$(dirname "$0")/.."
vxtap() { node bin/vxtap.js "$@"; }

case "${1:-}" in
  --down)
    shift
    if [ -f dist/src/cli/main.js ]; then exec node bin/vxtap.js lab down "$@"; fi
    echo "lab: vxtap is not built, so no lab was built either" >&2; exit 0 ;;
  --once) once=1; shift ;;
  -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) once=0 ;;
esac

# --prefix and --state-dir name the lab: down and ping must act on the same one as up.
scope=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --prefix|--state-dir) scope+=("${args[i]}" "${args[i+1]:-}"); i=$((i + 1)) ;;
    --prefix=*|--state-dir=*) scope+=("${args[i]}") ;;
  esac
done

./scripts/setup.sh
# A lab left from an earlier run would make `lab up` refuse: remove it first.
if ! out=$(vxtap lab down "${scope[@]}" 2>&1); then echo "$out" >&2; exit 1; fi
case "$out" in *"nothing to remove"*) ;; *) echo "lab: removed the lab of an earlier run"; echo "$out" ;; esac
[ "$once" = 1 ] && trap 'echo; vxtap lab down "${scope[@]}"' EXIT

vxtap lab up "$@"
echo
rc=0
vxtap lab ping "${scope[@]}" || rc=$?
if [ "$once" = 0 ]; then
  echo
  echo "The lab stays up: try the commands above. Remove it with: sudo $0 --down ${scope[*]}"
fi
exit $rc
