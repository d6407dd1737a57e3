#!/usr/bin/env bash
# topology/block (Slurm 23.11 and newer; this test needs --segment, 24.11) as the
# SuperPoD label: where a site describes its NVL72 racks / Ascend SuperPoDs as
# blocks, the plugin sends each node's block as its SuperPoD, so an Ascend 910C
# gang never spans two blocks.
# No node has a superpod_ feature here: the label can only come from the block.
# With a910c-1 and a910c-2 in different blocks a two-node 910C job waits with a
# reason that names the SuperPoD; after topology.conf puts both in one block and
# `scontrol reconfigure`, sched/accelpack starts it on both.
#   superpod_block.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
topo=$(mktemp /tmp/accelpack-topology.XXXXXX)
blocks() {  # write blocks "east" and "west" (4 nodes each) to FILE
  printf 'BlockName=east Nodes=%s\nBlockName=west Nodes=%s\n' "$2" "$3" >"$1"
}
blocks "$topo" h100-1,h200-1,a910b-1,a910c-1 h100-2,h200-2,a910b-2,a910c-2
export ACCELPACK_TOPOLOGY_CONF=$topo ACCELPACK_SLURM_CONF_EXTRA="TopologyPlugin=topology/block"
# Skip before starting anything on a release without topology/block.
ver=$( (PATH="${ACCELPACK_SLURM_PREFIX:+$ACCELPACK_SLURM_PREFIX/sbin:}$PATH" slurmctld -V 2>/dev/null) | awk '{ print $2 }')
if [ -z "$ver" ] || [ "$(printf '24.11\n%s\n' "$ver" | sort -V | head -1)" != 24.11 ]; then
  rm -f "$topo"
  e2e_skip "Slurm ${ver:-?} has no topology/block with --segment (24.11 and newer)"
fi
e2e_init accelpack "${1:-}"
rm -f "$topo"

# --segment=1: Slurm itself may split the job over blocks; the SuperPoD label must not.
id=$(e2e_submit -J gang -p training -N 2 --segment=1 --gres=npu:910c:8 --wrap 'srun hostname; sleep 1')
sleep 4   # several scheduling cycles
state=$(e2e_state "$id")
reason=$(squeue -h -j "$id" -o '%r' 2>/dev/null)
[ "$state" = PENDING ] || e2e_fail "gang $id over two blocks is $state, expected PENDING"
case "$reason" in
  *SuperPoD*) e2e_log "ok: blocks east/west: pending, squeue reason: $reason" ;;
  *) e2e_fail "gang $id pending, but the reason does not name the SuperPoD: '$reason'" ;;
esac

blocks "$AP_RUN_DIR/conf/topology.conf" h100-1,h100-2,h200-1,h200-2 a910b-1,a910b-2,a910c-1,a910c-2
scontrol reconfigure || e2e_fail "scontrol reconfigure failed"
e2e_wait_all_done 90 "$id" || e2e_fail "gang $id did not run once both nodes were in one block"
e2e_check "the gang completed" e2e_all_completed "$id"
e2e_check "sched/accelpack started it on both 910C nodes" \
  test "$(e2e_hosts "$(e2e_field "$id" NodeList)" | tr '\n' ' ')" = "a910c-1 a910c-2 "
e2e_check "on the nodes the core chose" e2e_check_started_by_plugin "$id"
e2e_log "passed (Slurm $ver)"
