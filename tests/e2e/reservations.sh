#!/usr/bin/env bash
# Slurm's advanced reservations and feature alternatives, planned by the core:
#  - a job with --reservation starts inside its (active) reservation;
#  - a job without it keeps off the reserved nodes;
#  - a job whose time limit would run into a future reservation on the only nodes it
#    fits waits; one that ends before the reservation starts now;
#  - a job with -C "a|b" starts on a node with either feature;
#  - a job that names no reservation but may use a MAGNETIC one is drawn into it;
#  - a gang with a feature count (-C "hopper*2") starts: the counted feature is not
#    sent as a literal name every node must have;
#  - a partial reservation (CoreCnt) holds only its part: a job outside it that fits in the rest of the node starts there,
#    one that does not waits naming the reservation, and its own job starts in it.
#   reservations.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init accelpack "${1:-}"

scontrol create reservation ReservationName=now_r StartTime=now Duration=30 \
  Nodes=h100-2 Users=root >/dev/null
start=$(date -d '+5 min' +%Y-%m-%dT%H:%M:%S)
scontrol create reservation ReservationName=later_r StartTime="$start" Duration=30 \
  Nodes=h200-1,h200-2 Users=root Flags=MAINT >/dev/null
scontrol create reservation ReservationName=mag_r StartTime=now Duration=30 \
  Nodes=a910b-1 Users=root Flags=MAGNETIC >/dev/null
e2e_log "reservations: $(scontrol show reservation -o | cut -c1-160 | tr '\n' ';')"

inside=$(e2e_submit -J inside --reservation=now_r --gres=gpu:h100:2 -t 1 --wrap 'sleep 1')
outside=$(e2e_submit -J outside -w h100-2 --gres=gpu:h100:1 -t 1 --wrap 'sleep 1')
long=$(e2e_submit -J long --gres=gpu:h200:1 -t 10 --wrap 'sleep 1')
short=$(e2e_submit -J short --gres=gpu:h200:1 -t 2 --wrap 'sleep 1')
either=$(e2e_submit -J either -C '910c|h200' --gres=npu:2 -t 1 --wrap 'sleep 1')
drawn=$(e2e_submit -J drawn -w a910b-1 --gres=npu:910b:2 -t 1 --wrap 'sleep 1')
counted=$(e2e_submit -J counted -N 2 -C 'hopper*2' --gres=gpu:h200:1 -t 1 --wrap 'srun sleep 1')

e2e_wait_all_done 60 "$inside" "$short" "$either" "$drawn" "$counted" || e2e_fail "jobs that fit did not run"
e2e_check "the --reservation job ran inside it (h100-2)" \
  test "$(e2e_field "$inside" NodeList)" = h100-2
e2e_check "the job that ends before the future reservation ran on an h200" \
  test "$(e2e_field "$short" NodeList | cut -c1-4)" = h200
e2e_check "the -C '910c|h200' npu job ran on a 910C node" \
  test "$(e2e_field "$either" NodeList | cut -c1-5)" = a910c
e2e_check "the job on the MAGNETIC reservation's node ran in it" \
  test "$(e2e_field "$drawn" Reservation)" = mag_r
e2e_check "the -C 'hopper*2' gang ran on both h200 nodes" \
  test "$(e2e_field "$counted" NodeList)" = "h200-[1-2]"
e2e_check "all five completed" e2e_all_completed "$inside" "$short" "$either" "$drawn" "$counted"
sleep 2   # more cycles
for id in "$outside" "$long"; do
  state=$(e2e_state "$id")
  [ "$state" = PENDING ] || e2e_fail "job $id ($(e2e_field "$id" JobName)) is $state, expected PENDING"
  e2e_log "ok: job $id pending: $(squeue -h -j "$id" -o '%r')"
done
case "$(squeue -h -j "$long" -o '%r')" in
  *reserv*) ;;
  *) e2e_fail "the long job's reason does not name the reservation" ;;
esac
# Once the reservation on h100-2 is gone, the job outside it runs there.
scontrol delete ReservationName=now_r
e2e_wait_all_done 60 "$outside" || e2e_fail "job $outside did not run once the reservation was deleted"
e2e_check "then it ran on h100-2" test "$(e2e_field "$outside" NodeList)" = h100-2
scancel "$long"
scontrol delete ReservationName=later_r || true
scontrol delete ReservationName=mag_r || true

# partial_case NODE RESERVATION-SPEC BESIDE-ARGS WIDE-ARGS MEMBER-ARGS
partial_case() {
  local node=$1 spec=$2 beside wide member
  scontrol create reservation ReservationName=part_r StartTime=now Duration=30 \
    Nodes="$node" $spec Users=root >/dev/null
  e2e_log "partial: $(scontrol show reservation part_r -o | cut -c1-200)"
  beside=$(e2e_submit -J beside -w "$node" $3 -t 1 --wrap 'sleep 1')
  wide=$(e2e_submit -J wide -w "$node" $4 -t 1 --wrap 'sleep 1')
  member=$(e2e_submit -J member --reservation=part_r $5 -t 1 --wrap 'sleep 1')
  e2e_wait_all_done 60 "$beside" "$member" ||
    e2e_fail "$spec: the job beside the reservation or the one in it did not run"
  e2e_check "$spec: the job beside it ran on $node" test "$(e2e_field "$beside" NodeList)" = "$node"
  e2e_check "$spec: its own job ran in it" test "$(e2e_field "$member" Reservation)" = part_r
  e2e_check "$spec: both completed" e2e_all_completed "$beside" "$member"
  sleep 2
  [ "$(e2e_state "$wide")" = PENDING ] || e2e_fail "$spec: job $wide ($4) is $(e2e_state "$wide")"
  case "$(squeue -h -j "$wide" -o '%r')" in
    *reserv*) e2e_log "ok: $4 waits: $(squeue -h -j "$wide" -o '%r')" ;;
    *) e2e_fail "$spec: the waiting job's reason does not name the reservation: $(squeue -h -j "$wide" -o '%r')" ;;
  esac
  scancel "$wide"
  scontrol delete ReservationName=part_r
}
# CoreCnt=56 of 64: 8 cores for everyone else; the GPUs are not reserved.
partial_case h100-1 CoreCnt=56 "--gres=gpu:h100:2 -c 4" "--gres=gpu:h100:1 -c 16" \
  "--gres=gpu:h100:2 -c 16"
# TRES=gres/gpu reservations (23.11 on) need the GRES tracked in accounting, which
# needs slurmdbd (fatal at startup without it); this cluster has none, so their
# per-node device counts are tested in the core only (engine_tests).
e2e_log "passed"
