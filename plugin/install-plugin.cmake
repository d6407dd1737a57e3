# Installs sched_accelpack.so and libaccelpack_bridge.so into Slurm's plugin dir,
# refusing when the installed slurmctld is not the Slurm they were compiled against.
# SPDX-License-Identifier: GPL-2.0-or-later
#   cmake -DPLUGIN=... -DBRIDGE=... -DDEST=... -DBUILT_VERSION=... -DBUILT_PACKAGE=...
#         [-DSLURM_PREFIX=<prefix of a Slurm installed from source>] -P this
foreach(v PLUGIN BRIDGE DEST BUILT_VERSION BUILT_PACKAGE)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "install-plugin: ${v} not set")
  endif()
endforeach()

# The slurmctld that will load the plugin: the prefix's, or Debian's on PATH.
if(SLURM_PREFIX)
  set(_slurmctld "${SLURM_PREFIX}/sbin/slurmctld")
  set(_rebuild "cmake -DACCELPACK_SLURM_SRC=<that Slurm's configured tree>")
else()
  set(_slurmctld slurmctld)
  set(_rebuild "contrib/slurm-source.sh, then cmake --build")
endif()
# slurmctld -V prints "slurm-wlm 22.05.8" (Debian) or "slurm 26.05.3": the version the
# loader compares, micro release included.
execute_process(COMMAND ${_slurmctld} -V OUTPUT_VARIABLE _v OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _rc ERROR_QUIET)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "install-plugin: cannot run '${_slurmctld} -V'; is slurmctld installed?")
endif()
string(REGEX REPLACE "^[^ ]+ " "" _running "${_v}")
if(NOT _running STREQUAL BUILT_VERSION)
  message(FATAL_ERROR "install-plugin: REFUSED: sched/accelpack was compiled against Slurm"
    " ${BUILT_VERSION} but ${_slurmctld} is ${_running}. slurmctld would refuse to"
    " start with it. Rebuild: ${_rebuild}.")
endif()
# The Debian revision matters too (security patches may touch structs); a Slurm under
# a prefix is not Debian's package, whatever dpkg knows.
execute_process(COMMAND dpkg-query -W -f=\${Version} slurmctld
  OUTPUT_VARIABLE _pkg RESULT_VARIABLE _rc ERROR_QUIET)
if(NOT SLURM_PREFIX AND _rc EQUAL 0 AND NOT BUILT_PACKAGE STREQUAL "unknown"
   AND NOT _pkg STREQUAL BUILT_PACKAGE)
  message(FATAL_ERROR "install-plugin: REFUSED: compiled against slurmctld package"
    " ${BUILT_PACKAGE}, installed is ${_pkg}. Rebuild: contrib/slurm-source.sh, then"
    " reconfigure and rebuild.")
endif()

# install(1) writes a new inode: a running slurmctld keeps its mapped copy intact
# (copying over a mapped library corrupts it in place).
file(MAKE_DIRECTORY "${DEST}")
foreach(f ${BRIDGE} ${PLUGIN})
  execute_process(COMMAND install -m 0755 "${f}" "${DEST}/" RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "install-plugin: install ${f} -> ${DEST} failed")
  endif()
  get_filename_component(_name "${f}" NAME)
  message(STATUS "install-plugin: ${DEST}/${_name} (Slurm ${BUILT_VERSION}, ${BUILT_PACKAGE})")
endforeach()
