# Step count and time left for bench/lab/run.sh (sourced). A full run is
# ~30 measurements and ~15 minutes, so each one is announced as
# "[step 7/30, ~4 min left]".
#
# Each step is given its planned seconds (an iperf3 run: --seconds + 1; the
# pings: 6). Before the first step ends, the time left is the plan; after,
# the plan left scaled by how long the steps done took against their plan,
# which takes in what the plan does not know: setting up each path, starting
# the daemons, a busy machine.
#
#   progress_init STEPS PLANNED_SECONDS
#   progress_next STEP_SECONDS        sets PROGRESS_TAG for the step that starts now
progress_now() { date +%s; }
progress_init() {
  PROGRESS_TOTAL=$1 PROGRESS_PLAN=$2 PROGRESS_DONE=0 PROGRESS_DONE_PLAN=0 PROGRESS_T0=$(progress_now) PROGRESS_TAG=""
}
# Seconds as people say them: "~40 s", "~4 min", "~1 h 5 min".
progress_human() {
  local s=$1
  if [ "$s" -lt 90 ]; then echo "~$(( (s + 9) / 10 * 10 )) s"
  elif [ "$s" -lt 3600 ]; then echo "~$(( (s + 30) / 60 )) min"
  else echo "~$(( s / 3600 )) h $(( (s % 3600 + 30) / 60 )) min"; fi
}
progress_next() {
  local elapsed left_plan left
  elapsed=$(( $(progress_now) - PROGRESS_T0 ))
  left_plan=$(( PROGRESS_PLAN - PROGRESS_DONE_PLAN ))
  [ "$left_plan" -gt 0 ] || left_plan=$1
  if [ "$PROGRESS_DONE_PLAN" -gt 0 ]; then left=$(( left_plan * elapsed / PROGRESS_DONE_PLAN )); else left=$left_plan; fi
  PROGRESS_DONE=$(( PROGRESS_DONE + 1 ))
  PROGRESS_DONE_PLAN=$(( PROGRESS_DONE_PLAN + $1 ))
  PROGRESS_TAG="[step $PROGRESS_DONE/$PROGRESS_TOTAL, $(progress_human "$left") left]"
}
