#!/usr/bin/env bash
# Stops the cluster that up.sh started in $ACCELPACK_RUN_DIR: cancels jobs, then
# stops every daemon by its recorded PID. Leaves logs in the run dir.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ap_cluster_down
