# shellcheck shell=bash
# Common functions for accelpack's one-machine Slurm cluster (sourced, not run).
#
# Everything a cluster owns lives under one run directory ($ACCELPACK_RUN_DIR,
# default /tmp/accelpack-cluster): conf/, state/, spool/, log/, pid/, munge/, dev/.
# Every daemon is started by these functions, its PID recorded in pid/, and stopped
# by that PID. Nothing is written into the source tree.
#
# Settings (environment):
#   ACCELPACK_RUN_DIR     run directory, absolute or made so; letters, digits and
#                         . _ / + - only (it goes into slurm.conf)  [/tmp/accelpack-cluster]
#   ACCELPACK_MODE        accelpack | backfill                [accelpack]
#   ACCELPACK_BUILD_DIR   where accelpackd was built          [<repo>/build]
#   ACCELPACK_ACCELPACKD  path of accelpackd (overrides the build dir)
#   ACCELPACK_POLICY      policy file for accelpackd          [contrib/cluster/policy.yaml]
#   ACCELPACK_CTLD_PORT   slurmctld port [6817; if busy, the next free of 6917, 7017, ...]
#   ACCELPACK_SLURMD_PORT first of 8 slurmd ports             [ctld port + 10004]
#   ACCELPACK_PLUGIN_CONF_EXTRA  lines appended to accelpack.conf (e.g. StatsEveryCycles=1)
#   ACCELPACK_SLURM_CONF_EXTRA   lines appended to slurm.conf (e.g. TopologyPlugin=...)
#   ACCELPACK_TOPOLOGY_CONF      a file installed as the cluster's topology.conf
#   ACCELPACK_CRED_EXPIRE seconds: AuthInfo's cred_expire (at least 5), which also
#                         sets how long a requeued job is held back (cred_expire + 1;
#                         Slurm's default 120 s)                    [empty: default]
#   ACCELPACK_FRACTIONAL  1: fractional accelerators: h200-[1-2] share their GPUs as
#                         shard GRES (4 shards per GPU), h100-2 is MIG-partitioned
#                         (14 x 1g.10gb + 4 x 3g.40gb: four GPUs' worth), h100-1
#                         stays whole                                      [empty]
#   ACCELPACK_NPU_FILES   1: the Ascend nodes' npu lines in gres.conf name device files
#                         (File=, as on a real node: /dev/davinciN), so that Slurm
#                         tracks each NPU and cons_tres picks which ones a job gets;
#                         without it they are counts                       [empty]
#   ACCELPACK_NPU_CORES   1 (with ACCELPACK_NPU_FILES): each NPU line also gives its
#                         socket (Cores=0-31 for davinci0-3, 32-63 for 4-7), as the
#                         probe writes for a real node                     [empty]
#   ACCELPACK_GPU_CORES   1 (with ACCELPACK_FRACTIONAL): the H200 nodes' gpu and shard
#                         lines give each GPU's socket (Cores=0-31 for nvidia0-3,
#                         32-63 for 4-7), as the probe writes for a real node [empty]
#   ACCELPACK_PLUGIN_DIR  extra directory searched for Slurm plugins first (e.g.
#                         a build dir holding sched_accelpack.so)
#   ACCELPACK_SLURM_PREFIX  a Slurm installed under a prefix (contrib/slurm-prefix.sh
#                         builds one): its daemons, commands and plugins are used
#                         instead of Debian's                      [empty: Debian's]
#
# Config templates: NAME.in here, or slurm-<major>.<minor>/NAME.in where a release
# needs a different one (the newest such directory not newer than the running Slurm).

AP_CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AP_REPO_DIR="$(cd "$AP_CLUSTER_DIR/../.." && pwd)"
AP_RUN_DIR="${ACCELPACK_RUN_DIR:-/tmp/accelpack-cluster}"
AP_MODE="${ACCELPACK_MODE:-accelpack}"
AP_BUILD_DIR="${ACCELPACK_BUILD_DIR:-$AP_REPO_DIR/build}"
AP_POLICY="${ACCELPACK_POLICY:-$AP_CLUSTER_DIR/policy.yaml}"
AP_NODES=(h100-1 h100-2 h200-1 h200-2 a910b-1 a910b-2 a910c-1 a910c-2)
# Debian's Slurm plugins, under the machine's multiarch triplet (arm64: aarch64-linux-gnu).
AP_PLUGIN_DIR="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/slurm-wlm"
AP_SLURM_PREFIX="${ACCELPACK_SLURM_PREFIX:-}"

ap_log() { printf '%s [cluster] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
ap_die() { ap_log "ERROR: $*"; exit 1; }

# The run directory goes into slurm.conf, gres.conf and PID file paths as it is:
# slurm.conf has no quoting for a path with spaces, '#' starts a comment, and the
# daemons chdir, so it must be absolute and plain.
case "$AP_RUN_DIR" in /*) ;; *) AP_RUN_DIR="$PWD/$AP_RUN_DIR" ;; esac
# Checked before any arithmetic: bash evaluates a variable's text as an expression.
for ap_port_var in ACCELPACK_CTLD_PORT ACCELPACK_SLURMD_PORT; do
  ap_port_value="${!ap_port_var:-}"
  [ -z "$ap_port_value" ] || { [[ "$ap_port_value" =~ ^[1-9][0-9]{3,4}$ ]] && [ "$ap_port_value" -le 65528 ]; } ||
    ap_die "$ap_port_var='$ap_port_value': a port number from 1024 to 65528 (the slurmds take 8 from it)"
done
AP_CTLD_PORT="${ACCELPACK_CTLD_PORT:-6817}"
AP_SLURMD_PORT="${ACCELPACK_SLURMD_PORT:-$((AP_CTLD_PORT + 10004))}"
[ "$AP_SLURMD_PORT" -le 65528 ] ||
  ap_die "ACCELPACK_CTLD_PORT=$AP_CTLD_PORT puts the slurmds past port 65535 (ctld + 10004); set ACCELPACK_SLURMD_PORT"
[[ "$AP_RUN_DIR" =~ ^/[A-Za-z0-9._/+-]+$ ]] ||
  ap_die "ACCELPACK_RUN_DIR='$AP_RUN_DIR': only letters, digits and . _ / + - can go into slurm.conf's paths; choose another directory"
export SLURM_CONF="$AP_RUN_DIR/conf/slurm.conf"

# A Slurm under a prefix: its commands first on PATH (for the tests and the user's
# shell via env.sh), its plugins in PluginDir.
if [ -n "$AP_SLURM_PREFIX" ]; then
  [ -x "$AP_SLURM_PREFIX/sbin/slurmctld" ] ||
    ap_die "ACCELPACK_SLURM_PREFIX=$AP_SLURM_PREFIX has no sbin/slurmctld (build one: contrib/slurm-prefix.sh)"
  export PATH="$AP_SLURM_PREFIX/bin:$AP_SLURM_PREFIX/sbin:$PATH"
  AP_PLUGIN_DIR="$AP_SLURM_PREFIX/lib/slurm"
fi

# The running Slurm's version: "slurm-wlm 22.05.8" (Debian) or "slurm 26.05.3".
ap_slurm_version() { slurmctld -V 2>/dev/null | awk '{ print $2 }'; }

# a <= b in version order
ap_version_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$1" ]; }

# Template NAME for the Slurm in use (see the header).
ap_template() {
  local name=$1 ver best="" d rel
  ver=$(ap_slurm_version)
  for d in "$AP_CLUSTER_DIR"/slurm-*/; do
    rel=$(basename "$d"); rel=${rel#slurm-}
    [ -f "$d/$name.in" ] && ap_version_le "$rel" "$ver" || continue
    if [ -z "$best" ] || ap_version_le "$best" "$rel"; then best=$rel; fi
  done
  if [ -n "$best" ]; then echo "$AP_CLUSTER_DIR/slurm-$best/$name.in"; else echo "$AP_CLUSTER_DIR/$name.in"; fi
}

ap_accelpackd_bin() {
  if [ -n "${ACCELPACK_ACCELPACKD:-}" ]; then echo "$ACCELPACK_ACCELPACKD"; return; fi
  local c
  for c in "$AP_BUILD_DIR/scheduler_core/service/accelpackd" "$AP_BUILD_DIR/accelpackd" \
           "$AP_BUILD_DIR/bin/accelpackd"; do
    [ -x "$c" ] && { echo "$c"; return; }
  done
  command -v accelpackd 2>/dev/null || true
}

# True when slurmctld can load sched/accelpack (the plugin is installed).
ap_plugin_installed() {
  [ -f "$AP_PLUGIN_DIR/sched_accelpack.so" ] || [ -f "${ACCELPACK_PLUGIN_DIR:-/nonexistent}/sched_accelpack.so" ]
}

# --- processes ----------------------------------------------------------------

# Alive and not a zombie.
ap_pid_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local st
  st=$( { cat "/proc/$1/stat"; } 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}

ap_pidfile_pid() { if [ -s "$1" ]; then tr -dc '0-9' <"$1"; fi; return 0; }

# PID and all its descendants, parents first.
ap_tree() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      keep[root] = 1; print root
      do { added = 0
        for (i = 1; i <= NR; i++) { p = pids[i]
          if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; print p; added = 1 } }
      } while (added)
    }'
}

# Stops one PID: SIGTERM, wait up to $2 seconds, then SIGKILL.
ap_stop_pid() {
  local pid=$1 wait_s=${2:-15} name=${3:-process} i
  ap_pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 10; i++)); do
    ap_pid_alive "$pid" || return 0
    sleep 0.1
  done
  ap_log "$name (pid $pid) ignored SIGTERM for ${wait_s}s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

# Stops the daemon whose PID is recorded in pid/<name>.pid.
ap_stop_recorded() {
  local name=$1 wait_s=${2:-15} f="$AP_RUN_DIR/pid/$1.pid" pid
  pid=$(ap_pidfile_pid "$f")
  if [ -n "$pid" ] && ap_pid_alive "$pid"; then
    ap_stop_pid "$pid" "$wait_s" "$name"
  fi
  rm -f "$f"
}

# Starts a daemon in the background with its output in log/<name>.out and
# records its PID in pid/<name>.pid. The daemon inherits ACCELPACK_CLUSTER so
# that leftovers (e.g. slurmstepd) can be found by PID later.
ap_spawn() {
  local name=$1; shift
  ACCELPACK_CLUSTER="$AP_RUN_DIR" setsid "$@" </dev/null >>"$AP_RUN_DIR/log/$name.out" 2>&1 &
  echo $! >"$AP_RUN_DIR/pid/$name.pid"
  # setsid execs in place when the caller is not a group leader; check it did.
  sleep 0.05
  if [ "$(readlink "/proc/$!/exe" 2>/dev/null)" = "$(readlink -f "$(command -v setsid)")" ]; then
    ap_log "warning: $name: PID $! is setsid, not the daemon"
  fi
}

# PIDs of processes this cluster started: marked with ACCELPACK_CLUSTER=<run dir>,
# and slurmstepd, whose process title overwrites the start of its environment (the
# mark with it; 26.05 clears it all): found by the run dir's files it holds open (its
# slurmd's log, the job's output). A stepd outlives a slurmd stopped under it.
ap_marked_pids() {
  local p
  {
    grep -lzxF "ACCELPACK_CLUSTER=$AP_RUN_DIR" /proc/[0-9]*/environ 2>/dev/null \
      | sed 's|/proc/\([0-9]*\)/environ|\1|'
    for p in $(pgrep -x slurmstepd); do
      if [ -n "$(find "/proc/$p/fd" -maxdepth 1 -lname "$AP_RUN_DIR/*" -print -quit 2>/dev/null)" ]; then
        echo "$p"
      fi
    done
  } | grep -vx "$$" | sort -un || true
}

# --- configuration -------------------------------------------------------------

# Any socket on the port counts, not only a listener: connections of a cluster
# stopped a moment ago linger (TIME_WAIT); a slurmctld 24.11.5 started one second
# after the previous test's failed once to bind its port.
# Not `ss | grep -q`: under pipefail, grep leaving early fails ss with SIGPIPE and a
# busy port would read as free.
ap_port_busy() { [ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ]; }

# Picks free ports unless they were given: several clusters (a developer's and
# a test's) may run on one machine, each on its own ports.
ap_pick_ports() {
  local base p busy slurmd
  [ -n "${ACCELPACK_CTLD_PORT:-}" ] && return 0
  for base in 6817 6917 7017 7117 7217 7317 7417 7517; do
    busy=0
    slurmd="${ACCELPACK_SLURMD_PORT:-$((base + 10004))}"
    for p in "$base" $(seq "$slurmd" $((slurmd + 7))); do
      ap_port_busy "$p" && { busy=1; break; }
    done
    if [ "$busy" -eq 0 ]; then AP_CTLD_PORT=$base; AP_SLURMD_PORT=$slurmd; return 0; fi
  done
  ap_die "no free port block for slurmctld/slurmd (tried 6817..7517)"
}

ap_render() {  # template -> output, substituting @KEY@
  local host port_h100 port_h200 port_910b port_910c sched_type sched_params
  host=$(hostname -s)
  port_h100="$AP_SLURMD_PORT-$((AP_SLURMD_PORT + 1))"
  port_h200="$((AP_SLURMD_PORT + 2))-$((AP_SLURMD_PORT + 3))"
  port_910b="$((AP_SLURMD_PORT + 4))-$((AP_SLURMD_PORT + 5))"
  port_910c="$((AP_SLURMD_PORT + 6))-$((AP_SLURMD_PORT + 7))"
  case "$AP_MODE" in
    accelpack) sched_type=sched/accelpack; sched_params="defer,sched_interval=-1" ;;
    backfill) sched_type=sched/backfill; sched_params="bf_interval=1" ;;
    *) ap_die "ACCELPACK_MODE must be accelpack or backfill, not '$AP_MODE'" ;;
  esac
  local plugin_dir=$AP_PLUGIN_DIR
  [ -n "${ACCELPACK_PLUGIN_DIR:-}" ] && plugin_dir="$ACCELPACK_PLUGIN_DIR:$AP_PLUGIN_DIR"
  sed -e "s|@RUN_DIR@|$AP_RUN_DIR|g" -e "s|@PLUGIN_DIR@|$plugin_dir|g" -e "s|@CTLD_HOST@|$host|g" -e "s|@HOST@|$host|g" \
      -e "s|@CTLD_PORT@|$AP_CTLD_PORT|g" -e "s|@PORT_H100@|$port_h100|g" \
      -e "s|@PORT_H200@|$port_h200|g" -e "s|@PORT_910B@|$port_910b|g" \
      -e "s|@PORT_910C@|$port_910c|g" -e "s|@MODE@|$AP_MODE|g" \
      -e "s|@SCHEDULER_TYPE@|$sched_type|g" -e "s|@SCHEDULER_PARAMETERS@|$sched_params|g" \
      "$1" >"$2"
}

# Fractional accelerators (ACCELPACK_FRACTIONAL=1), edited into the rendered
# slurm.conf and gres.conf: device files stand in for MIG slices as /dev/nvidia*
# stand in for GPUs.
ap_fractional_conf() {
  local d="$AP_RUN_DIR" i
  for i in $(seq 0 17); do ln -sfn /dev/null "$d/dev/nvidia-mig$i"; done
  sed -i -e 's/^GresTypes=gpu,npu$/GresTypes=gpu,npu,shard/' \
      -e 's/ Gres=gpu:h200:8 / Gres=gpu:h200:8,shard:32 /' "$d/conf/slurm.conf"
  # h100-[1-2] -> h100-1 whole, h100-2 partitioned, each on its own port.
  awk '/^NodeName=h100-\[1-2\] / {
         match($0, /Port=\[[0-9]+-[0-9]+\]/)
         split(substr($0, RSTART + 6, RLENGTH - 7), port, "-")
         one = $0; sub(/^NodeName=h100-\[1-2\]/, "NodeName=h100-1", one)
         sub(/Port=\[[0-9]+-[0-9]+\]/, "Port=" port[1], one); print one
         two = $0; sub(/^NodeName=h100-\[1-2\]/, "NodeName=h100-2", two)
         sub(/Port=\[[0-9]+-[0-9]+\]/, "Port=" port[2], two)
         sub(/Gres=gpu:h100:8/, "Gres=gpu:1g.10gb:14,gpu:3g.40gb:4", two)
         sub(/Feature=nvidia,hopper,h100,cuda/, "Feature=nvidia,hopper,h100,cuda,mig", two)
         print two; next }
       { print }' "$d/conf/slurm.conf" >"$d/conf/slurm.conf.new"
  mv "$d/conf/slurm.conf.new" "$d/conf/slurm.conf"
  sed -i -e 's/^NodeName=h100-\[1-2\] Name=gpu Type=h100 /NodeName=h100-1 Name=gpu Type=h100 /' \
      "$d/conf/gres.conf"
  cat >>"$d/conf/gres.conf" <<EOF
# Fractional (ACCELPACK_FRACTIONAL=1): MIG slices typed by profile (one stand-in
# file per slice; a real node lists the GPU and the slice's nvidia-caps files with
# MultipleFiles=, as accelpack-probe --mig-layout writes them), and 4 shards
# per H200 (shard counts follow File=, spread evenly over the GPUs).
NodeName=h100-2 Name=gpu Type=1g.10gb File=$d/dev/nvidia-mig[0-13]
NodeName=h100-2 Name=gpu Type=3g.40gb File=$d/dev/nvidia-mig[14-17]
NodeName=h200-[1-2] Name=shard Count=32 File=$d/dev/nvidia[0-7]
EOF
}

# GPU sockets on the H200 nodes (ACCELPACK_GPU_CORES=1, with ACCELPACK_FRACTIONAL=1):
# cons_tres then tries the GPUs (and shards) local to the cores it gave a job first.
ap_gpu_cores_conf() {
  local d="$AP_RUN_DIR"
  sed -i -e "s|^\(NodeName=h200-\[1-2\] Name=gpu Type=h200\) File=$d/dev/nvidia\[0-7\] \(.*\)\$|\1 File=$d/dev/nvidia[0-3] Cores=0-31 \2\n\1 File=$d/dev/nvidia[4-7] Cores=32-63 \2|" \
      -e "s|^\(NodeName=h200-\[1-2\] Name=shard\) Count=32 File=$d/dev/nvidia\[0-7\]\$|\1 Count=16 File=$d/dev/nvidia[0-3] Cores=0-31\n\1 Count=16 File=$d/dev/nvidia[4-7] Cores=32-63|" \
      "$d/conf/gres.conf"
  [ "$(grep -c "^NodeName=h200-\[1-2\] .*Cores=" "$d/conf/gres.conf")" -eq 4 ] ||
    ap_die "ACCELPACK_GPU_CORES: gres.conf has no h200 gpu and shard lines to give sockets (needs ACCELPACK_FRACTIONAL=1; template changed?)"
}

# Ascend NPUs as device files (ACCELPACK_NPU_FILES=1): stand-ins for /dev/davinci0..7.
# Slurm has no npu GRES plugin, so it sets no visibility variable, but with File= it
# keeps a bitmap of the node's NPUs and picks a job's (the lowest free, as for GPUs).
ap_npu_files_conf() {
  local d="$AP_RUN_DIR" i
  for i in 0 1 2 3 4 5 6 7; do ln -sfn /dev/null "$d/dev/davinci$i"; done
  sed -i -e "s|^\(NodeName=a910[bc]-\[1-2\] Name=npu Type=910[bc]\) Count=8\$|\1 File=$d/dev/davinci[0-7]|" \
      "$d/conf/gres.conf"
  [ "$(grep -c "File=$d/dev/davinci" "$d/conf/gres.conf")" -eq 2 ] ||
    ap_die "ACCELPACK_NPU_FILES: gres.conf has no npu Count=8 lines to turn into File= (template changed?)"
  if [ "${ACCELPACK_NPU_CORES:-}" = 1 ]; then
    # As the probe writes a real node: dies 0-3 local to socket 0, 4-7 to socket 1.
    sed -i -e "s|^\(NodeName=a910[bc]-\[1-2\] Name=npu Type=910[bc]\) File=$d/dev/davinci\[0-7\]\$|\1 File=$d/dev/davinci[0-3] Cores=0-31\n\1 File=$d/dev/davinci[4-7] Cores=32-63|" \
      "$d/conf/gres.conf"
  fi
}

ap_write_config() {
  local d="$AP_RUN_DIR" i
  install -d -m 0755 "$d" "$d/conf" "$d/state" "$d/spool" "$d/log" "$d/pid" "$d/run" "$d/dev" "$d/jobs"
  chmod 1777 "$d/jobs"   # job output of every user
  for i in 0 1 2 3 4 5 6 7; do ln -sfn /dev/null "$d/dev/nvidia$i"; done
  for n in "${AP_NODES[@]}"; do install -d -m 0755 "$d/spool/$n"; done
  ap_render "$(ap_template slurm.conf)" "$d/conf/slurm.conf"
  ap_render "$(ap_template gres.conf)" "$d/conf/gres.conf"
  ap_render "$(ap_template cgroup.conf)" "$d/conf/cgroup.conf"
  ap_render "$(ap_template accelpack.conf)" "$d/conf/accelpack.conf"
  if [ -n "${ACCELPACK_PLUGIN_CONF_EXTRA:-}" ]; then
    printf '%s\n' "$ACCELPACK_PLUGIN_CONF_EXTRA" >>"$d/conf/accelpack.conf"
  fi
  if [ -n "${ACCELPACK_SLURM_CONF_EXTRA:-}" ]; then
    printf '%s\n' "$ACCELPACK_SLURM_CONF_EXTRA" >>"$d/conf/slurm.conf"
  fi
  if [ -n "${ACCELPACK_CRED_EXPIRE:-}" ]; then
    [[ "$ACCELPACK_CRED_EXPIRE" =~ ^[0-9]+$ ]] && [ "$ACCELPACK_CRED_EXPIRE" -ge 5 ] ||
      ap_die "ACCELPACK_CRED_EXPIRE must be a number of seconds >= 5, not '$ACCELPACK_CRED_EXPIRE'"
    # One AuthInfo line (a second one would replace the munge socket).
    sed -i -e "s|^AuthInfo=.*|&,cred_expire=$ACCELPACK_CRED_EXPIRE|" "$d/conf/slurm.conf"
  fi
  if [ -n "${ACCELPACK_TOPOLOGY_CONF:-}" ]; then
    cp "$ACCELPACK_TOPOLOGY_CONF" "$d/conf/topology.conf"
  fi
  if [ "${ACCELPACK_FRACTIONAL:-}" = 1 ]; then ap_fractional_conf; fi
  if [ "${ACCELPACK_GPU_CORES:-}" = 1 ]; then ap_gpu_cores_conf; fi
  if [ "${ACCELPACK_NPU_FILES:-}" = 1 ]; then ap_npu_files_conf; fi
  cp "$AP_POLICY" "$d/conf/policy.yaml"
  chmod 0644 "$d"/conf/*
  # What a shell needs to talk to this cluster.
  cat >"$d/env.sh" <<EOF
export SLURM_CONF=$d/conf/slurm.conf
export ACCELPACK_RUN_DIR=$d
EOF
  if [ -n "$AP_SLURM_PREFIX" ]; then
    printf 'export ACCELPACK_SLURM_PREFIX=%s\nexport PATH=%s/bin:%s/sbin:$PATH\n' \
      "$AP_SLURM_PREFIX" "$AP_SLURM_PREFIX" "$AP_SLURM_PREFIX" >>"$d/env.sh"
  fi
}

# --- daemons -------------------------------------------------------------------

ap_start_munge() {
  local d="$AP_RUN_DIR/munge" i pid
  if [ ! -s /etc/munge/munge.key ]; then
    ap_log "creating /etc/munge/munge.key"
    install -d -o munge -g munge -m 0700 /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 0755 "$d"
  runuser -u munge -- munged --socket="$d/munge.socket" --pid-file="$d/munged.pid" \
    --log-file="$d/munged.log" --seed-file="$d/munged.seed" --key-file=/etc/munge/munge.key \
    || ap_die "munged did not start (see $d/munged.log)"
  for ((i = 0; i < 50; i++)); do
    pid=$(ap_pidfile_pid "$d/munged.pid")
    [ -n "$pid" ] && [ -S "$d/munge.socket" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] || ap_die "munged wrote no pid file"
  echo "$pid" >"$AP_RUN_DIR/pid/munged.pid"
  munge -n --socket="$d/munge.socket" | unmunge --socket="$d/munge.socket" >/dev/null \
    || ap_die "munge credential round trip failed"
}

ap_start_accelpackd() {
  local bin i
  bin=$(ap_accelpackd_bin)
  [ -n "$bin" ] || ap_die "accelpackd not found (build it: cmake --build $AP_BUILD_DIR --target accelpackd)"
  rm -f "$AP_RUN_DIR/accelpack.sock"
  # ACCELPACK_ACCELPACKD_ARGS: extra options (e.g. --metrics-listen), split on spaces.
  # shellcheck disable=SC2086
  ap_spawn accelpackd "$bin" --socket "$AP_RUN_DIR/accelpack.sock" --policy "$AP_RUN_DIR/conf/policy.yaml" \
    ${ACCELPACK_ACCELPACKD_ARGS:-}
  for ((i = 0; i < 100; i++)); do
    [ -S "$AP_RUN_DIR/accelpack.sock" ] && return 0
    ap_pid_alive "$(ap_pidfile_pid "$AP_RUN_DIR/pid/accelpackd.pid")" \
      || ap_die "accelpackd exited at start: $(tail -5 "$AP_RUN_DIR/log/accelpackd.out")"
    sleep 0.1
  done
  ap_die "accelpackd did not create its socket in 10 s"
}

ap_stop_accelpackd() { ap_stop_recorded accelpackd 10; }

ap_start_slurmctld() {
  local i
  ap_spawn slurmctld slurmctld -D
  for ((i = 0; i < 150; i++)); do
    scontrol ping 2>/dev/null | grep -q 'is UP' && return 0
    ap_pid_alive "$(ap_pidfile_pid "$AP_RUN_DIR/pid/slurmctld.pid")" \
      || ap_die "slurmctld exited at start: $(tail -5 "$AP_RUN_DIR/log/slurmctld.log" 2>/dev/null; tail -5 "$AP_RUN_DIR/log/slurmctld.out")"
    sleep 0.1
  done
  ap_die "slurmctld did not answer in 15 s"
}

ap_stop_slurmctld() { ap_stop_recorded slurmctld 20; }

ap_start_slurmds() {
  local n
  for n in "${AP_NODES[@]}"; do ap_spawn "slurmd-$n" slurmd -D -N "$n"; done
}

ap_stop_slurmds() {  # all at once: SIGTERM to every slurmd, then wait
  local n pid pids=()
  for n in "${AP_NODES[@]}"; do
    pid=$(ap_pidfile_pid "$AP_RUN_DIR/pid/slurmd-$n.pid")
    if ap_pid_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
  done
  for pid in "${pids[@]}"; do ap_stop_pid "$pid" 10 slurmd; done
  for n in "${AP_NODES[@]}"; do rm -f "$AP_RUN_DIR/pid/slurmd-$n.pid"; done
}

# Waits until every node is usable (idle/mixed/allocated), up to $1 seconds.
ap_wait_nodes() {
  local limit=${1:-60} i bad
  for ((i = 0; i < limit * 5; i++)); do
    bad=$(sinfo -h -N -o '%N %t' 2>/dev/null | awk '$2 !~ /^(idle|mix|alloc)$/' | sort -u)
    if [ -n "$(sinfo -h -N -o '%N' 2>/dev/null)" ] && [ -z "$bad" ]; then return 0; fi
    sleep 0.2
  done
  ap_log "nodes not ready after ${limit}s:"; sinfo -N -o '%N %t %E' >&2 || true
  return 1
}

# Waits until the queue is empty (all jobs finished), up to $1 seconds.
ap_wait_queue_empty() {
  local limit=${1:-60} i queue
  for ((i = 0; i < limit * 5; i++)); do
    queue=$(squeue -h -o %i 2>/dev/null) && [ -z "$queue" ] && return 0
    sleep 0.2
  done
  return 1
}

# Callers that stop "what they started" on failure call this before arming that:
# a cluster already running in the run dir is someone's, not theirs to stop.
ap_refuse_running() {
  if [ -s "$AP_RUN_DIR/pid/slurmctld.pid" ] && ap_pid_alive "$(ap_pidfile_pid "$AP_RUN_DIR/pid/slurmctld.pid")"; then
    ap_die "a cluster is already running in $AP_RUN_DIR (stop it: ACCELPACK_RUN_DIR=$AP_RUN_DIR bash $AP_CLUSTER_DIR/down.sh)"
  fi
}

ap_cluster_up() {
  [ "$(id -u)" -eq 0 ] || ap_die "run as root (slurmd and munged need it)"
  ap_refuse_running
  # What an interrupted earlier run left behind it (slurmds, accelpackd, munged with
  # slurmctld gone) is stopped by its recorded PIDs before pid/ is wiped below, which
  # would lose them (a munged left so holds its socket: every later start fails).
  if [ -d "$AP_RUN_DIR/pid" ]; then ap_cluster_down >/dev/null 2>&1 || true; fi
  if [ "$AP_MODE" = accelpack ] && ! ap_plugin_installed; then
    ap_die "sched/accelpack is not installed in $AP_PLUGIN_DIR (build and install the plugin, or use ACCELPACK_MODE=backfill)"
  fi
  # Free ports are only known to be ours once our daemons listen on them: two clusters
  # starting at once (tests beside a developer's cluster) would otherwise pick the same
  # block and one slurmctld dies with "Address already in use". So picking and binding
  # happen under one machine-wide lock; the daemons must not inherit its descriptor.
  local lock_fd
  exec {lock_fd}>>"${TMPDIR:-/tmp}/accelpack-cluster-ports.lock"
  flock -w 300 "$lock_fd" || ap_die "another local cluster held the port lock for 5 minutes"
  ap_pick_ports
  rm -rf "$AP_RUN_DIR/state" "$AP_RUN_DIR/spool" "$AP_RUN_DIR/log" "$AP_RUN_DIR/pid" "$AP_RUN_DIR/run" "$AP_RUN_DIR/jobs"
  ap_write_config
  ap_log "run dir $AP_RUN_DIR, mode $AP_MODE, Slurm $(ap_slurm_version) ($(command -v slurmctld)), slurmctld port $AP_CTLD_PORT"
  ap_start_munge {lock_fd}>&-
  if [ "$AP_MODE" = accelpack ]; then ap_start_accelpackd {lock_fd}>&-; fi
  ap_start_slurmctld {lock_fd}>&-
  ap_start_slurmds {lock_fd}>&-
  ap_wait_nodes 60 {lock_fd}>&- || ap_die "nodes did not come up (logs in $AP_RUN_DIR/log)"
  exec {lock_fd}>&-
  ap_log "cluster up: ${#AP_NODES[@]} nodes, SLURM_CONF=$SLURM_CONF"
}

ap_cluster_down() {
  local pid
  [ -d "$AP_RUN_DIR/pid" ] || return 0
  # Cancel jobs first: slurmstepd outlives slurmd.
  if ap_pid_alive "$(ap_pidfile_pid "$AP_RUN_DIR/pid/slurmctld.pid")"; then
    if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
      # shellcheck disable=SC2046
      scancel --quiet $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
      ap_wait_queue_empty 20 || true
    fi
  fi
  ap_stop_slurmds
  ap_stop_slurmctld
  ap_stop_accelpackd
  # Leftovers this cluster started (slurmstepd, job steps): found by PID, with their children.
  for pid in $(ap_marked_pids); do
    for p in $(ap_tree "$pid"); do kill -KILL "$p" 2>/dev/null || true; done
  done
  ap_stop_recorded munged 10
  ap_log "cluster in $AP_RUN_DIR stopped"
}

# Waits until every job in JOBLIST (first column: job id) has left the queue,
# with a progress line on stderr. Returns 1 after $2 seconds, or 2 when the
# queue is stuck: jobs pending, none running, nothing changed for $4 seconds
# (default 60); it then lists the stuck jobs with squeue's reason.
ap_wait_jobs() {
  local joblist=$1 limit=${2:-600} label=${3:-workload} stall=${4:-60}
  local start now total line queue pend run last=-10 state_before="" since
  start=$(date +%s); total=$(wc -l <"$joblist"); since=$start
  while :; do
    now=$(date +%s)
    # A failed squeue (slurmctld busy or restarting) says nothing: it is not "all done".
    if ! queue=$(squeue -h -r -o '%i %t' 2>/dev/null); then
      [ $((now - start)) -lt "$limit" ] || return 1
      sleep 1
      continue
    fi
    line=$(awk 'NR == FNR { want[$1] = 1; next }
      ($1 in want) { if ($2 == "PD") p++; else r++ } END { print p + 0, r + 0 }' "$joblist" - <<<"$queue")
    read -r pend run <<<"$line"
    if [ -t 2 ]; then
      printf '\r[%s] %3d s: %3d/%d done, %3d running, %3d pending ' "$label" $((now - start)) \
        $((total - pend - run)) "$total" "$run" "$pend" >&2
    elif [ $((now - last)) -ge 10 ] || [ $((pend + run)) -eq 0 ]; then
      last=$now
      printf '[%s] %3d s: %3d/%d done, %3d running, %3d pending\n' "$label" $((now - start)) \
        $((total - pend - run)) "$total" "$run" "$pend" >&2
    fi
    if [ $((pend + run)) -eq 0 ]; then [ -t 2 ] && echo >&2; return 0; fi
    if [ "$line" != "$state_before" ] || [ "$run" -gt 0 ]; then state_before=$line; since=$now; fi
    if [ $((now - since)) -ge "$stall" ]; then
      [ -t 2 ] && echo >&2
      ap_log "stuck: $pend job(s) pending, none running, no change for ${stall}s:"
      squeue -h -t PD -o '   %i %j: %r' 2>/dev/null | awk 'NR == FNR { want[$1] = 1; next } ($1 in want)' \
        <(awk '{ print $1 }' "$joblist") - >&2 || true
      return 2
    fi
    if [ $((now - start)) -ge "$limit" ]; then [ -t 2 ] && echo >&2; return 1; fi
    sleep 1
  done
}
