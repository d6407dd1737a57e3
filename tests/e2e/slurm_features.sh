#!/usr/bin/env bash
# Ordinary Slurm usage works as under stock Slurm: single-node, multi-node
# (-N 2), a job array with a %N throttle, dependencies, -w, interactive srun,
# salloc, and a non-root user's job. Run in both modes (ctest: features_backfill
# is the reference, features_accelpack the claim). In mode accelpack every job
# must also have been started by the plugin on the nodes it ran on.
# Also Slurm's gates at the start: a licence (one of it) and a --deadline.
#   slurm_features.sh BUILD_DIR [accelpack|backfill]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mode=${2:-accelpack}
export ACCELPACK_SLURM_CONF_EXTRA="${ACCELPACK_SLURM_CONF_EXTRA:+$ACCELPACK_SLURM_CONF_EXTRA
}Licenses=fluent:1"
e2e_init "$mode" "${1:-}"
all=()

# Licences: three jobs asking for the only one, released together so that one
# plan sees all three free to start: one at a time (Slurm 22.05's select_nodes
# does not test licences; the start must).
jl=()
for i in 1 2 3; do
  jl+=("$(e2e_submit -H -J "lic-$i" -L fluent:1 --gres=gpu:h200:1 --wrap 'sleep 2')")
done
scontrol release "$(IFS=,; echo "${jl[*]}")"
max_lic=0
for ((i = 0; i < 200; i++)); do
  r=$(squeue -h -j "$(IFS=,; echo "${jl[*]}")" -t RUNNING -o %i 2>/dev/null | wc -l)
  [ "$r" -gt "$max_lic" ] && max_lic=$r
  [ -z "$(squeue -h -j "$(IFS=,; echo "${jl[*]}")" -o %i 2>/dev/null)" ] && break
  sleep 0.2
done
e2e_check "one licence: at most one of its jobs running at once ($max_lic)" test "$max_lic" -eq 1
all+=("${jl[@]}")

# --deadline: a job that cannot end in time is ended (state DEADLINE), not
# started once its node frees. The blocker holds a910c-1's NPUs; the job's 2
# minutes stop fitting before its deadline about 10 s after submission (the
# plugin ends it then; stock Slurm when it next tries it, at the latest when
# the blocker ends).
jblock=$(e2e_submit -J dl-block -w a910c-1 --gres=npu:910c:8 --wrap 'sleep 40')
e2e_wait_state "$jblock" RUNNING 60 || e2e_fail "deadline blocker did not start"
jdl=$(e2e_submit -J deadline -w a910c-1 --gres=npu:910c:1 -t 2 --deadline=now+130seconds --wrap 'sleep 1')
dl_state=
for ((i = 0; i < 350; i++)); do
  dl_state=$(e2e_field "$jdl" JobState)
  [ "$dl_state" = PENDING ] || break
  sleep 0.2
done
e2e_check "deadline: the job that cannot end in time ended as DEADLINE ($dl_state)" test "$dl_state" = DEADLINE
scancel "$jblock"

# single node, typed GPU request
j1=$(e2e_submit -J single --gres=gpu:h200:2 --wrap 'echo "$CUDA_VISIBLE_DEVICES"; sleep 1')
all+=("$j1")
# two nodes, one step on each
j2=$(e2e_submit -J multi -p training -N 2 --gres=npu:910b:8 --wrap 'srun hostname; sleep 1')
all+=("$j2")
# -w: on exactly the named node
j3=$(e2e_submit -J pinned -w a910c-2 --gres=npu:910c:1 --wrap 'sleep 1')
all+=("$j3")
# array of 6 with at most 2 running at once
ja=$(e2e_submit -J array --array=1-6%2 --gres=gpu:h100:1 --wrap 'sleep 3')
# dependencies: B after A succeeded, C after B in any state
ja_dep=$(e2e_submit -J dep-a --gres=gpu:h100:1 --wrap 'sleep 3')
jb_dep=$(e2e_submit -J dep-b --dependency=afterok:"$ja_dep" --gres=npu:910b:1 --wrap 'sleep 1')
jc_dep=$(e2e_submit -J dep-c --dependency=afterany:"$jb_dep" --gres=gpu:h200:1 --wrap 'sleep 1')
all+=("$ja_dep" "$jb_dep" "$jc_dep")

# Watch the array's throttle while everything runs.
max_running=0
for ((i = 0; i < 300; i++)); do
  r=$(squeue -h -r -j "$ja" -t RUNNING -o %i 2>/dev/null | wc -l)
  [ "$r" -gt "$max_running" ] && max_running=$r
  [ -z "$(squeue -h -j "$ja" -o %i 2>/dev/null)" ] && break
  sleep 0.2
done
e2e_check "array throttle %2 held (at most $max_running running at once)" test "$max_running" -le 2 -a "$max_running" -ge 1

# interactive: srun and salloc return
out=$(timeout 60 srun -N1 --gres=gpu:h100:1 hostname) || e2e_fail "srun failed or hung"
e2e_check "interactive srun ran (said '$out')" test "$out" = "$(hostname)"
out=$(timeout 60 salloc -N1 --gres=npu:910b:1 srun printenv SLURM_JOB_NODELIST 2>/dev/null) || e2e_fail "salloc failed or hung"
e2e_check "salloc + srun ran on an Ascend 910B node ($out)" grep -qx 'a910b-[12]' <<<"$out"

# a non-root user's job
user=accelpack-e2e
id "$user" >/dev/null 2>&1 || useradd -M -s /bin/bash "$user"
ju=$(cd /tmp && runuser -u "$user" -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable --chdir=/tmp \
  --output="$AP_RUN_DIR/jobs/%j.out" -J user-job --gres=npu:910c:2 --wrap 'id -un; sleep 1')
all+=("$ju")
out=$(runuser -u "$user" -- env SLURM_CONF="$SLURM_CONF" timeout 60 srun -N1 --gres=gpu:h200:1 id -un) \
  || e2e_fail "srun as $user failed"
e2e_check "srun as $user runs as $user" test "$out" = "$user"

e2e_wait_all_done 120 "${all[@]}" || e2e_fail "jobs did not finish"
mapfile -t array_ids < <(scontrol show job -o "$ja" | sed -n 's/.*JobId=\([0-9]*\) .*/\1/p')
e2e_check "array has 6 tasks" test "${#array_ids[@]}" -eq 6
e2e_wait_all_done 120 "${array_ids[@]}" || e2e_fail "array did not finish"
e2e_check "every job completed" e2e_all_completed "${all[@]}" "${array_ids[@]}"

e2e_check "single: 2 GPUs on an H200 node" grep -qx 'h200-[12]' <<<"$(e2e_field "$j1" NodeList)"
e2e_check "single: CUDA_VISIBLE_DEVICES has 2 devices" grep -qx '[0-7],[0-7]' "$AP_RUN_DIR/jobs/$j1.out"
e2e_check "multi: both 910B nodes" test "$(e2e_field "$j2" NodeList)" = 'a910b-[1-2]'
e2e_check "multi: one step task per node" test "$(grep -c "$(hostname)" "$AP_RUN_DIR/jobs/$j2.out")" -eq 2
e2e_check "-w: ran on a910c-2" test "$(e2e_field "$j3" NodeList)" = a910c-2
a_end=$(date -d "$(e2e_field "$ja_dep" EndTime)" +%s)
b_start=$(date -d "$(e2e_field "$jb_dep" StartTime)" +%s)
b_end=$(date -d "$(e2e_field "$jb_dep" EndTime)" +%s)
c_start=$(date -d "$(e2e_field "$jc_dep" StartTime)" +%s)
e2e_check "afterok: B started after A ended" test "$b_start" -ge "$a_end"
e2e_check "afterany: C started after B ended" test "$c_start" -ge "$b_end"
e2e_check "user job ran as $user" test "$(cat "$AP_RUN_DIR/jobs/$ju.out")" = "$user"
e2e_check "user job owned by $user" grep -q "^$user(" <<<"$(e2e_field "$ju" UserId)"

if [ "$mode" = accelpack ]; then
  # (the deadline job never ran)
  mapfile -t every < <(scontrol show job -o | grep -v ' JobState=DEADLINE ' | sed -n 's/^JobId=\([0-9]*\) .*/\1/p')
  e2e_check "all ${#every[@]} jobs were started by sched/accelpack on the nodes they ran on" \
    e2e_check_started_by_plugin "${every[@]}"
fi
e2e_log "passed ($mode)"
