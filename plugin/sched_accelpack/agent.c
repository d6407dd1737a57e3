/*****************************************************************************\
 *  agent.c - the sched/accelpack thread. One cycle:
 *    1. under slurmctld's locks, copy a snapshot (snapshot.c);
 *    2. without locks, ask the core for a plan, with a deadline; when the core
 *       is down, late or answers garbage, ask the built-in policy instead;
 *    3. under the locks again, apply the plan (apply.c), yielding the locks
 *       when that takes longer than MaxLockMs.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <inttypes.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "slurm/slurm.h"
#include "slurm/slurm_errno.h"
#include "src/common/log.h"
#include "src/common/macros.h"
#include "src/common/read_config.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"
#include "src/slurmctld/locks.h"
#include "src/slurmctld/slurmctld.h"

#include "accelpack_bridge.h"
#include "agent.h"
#include "ap_config.h"
#include "apply.h"
#include "futile.h"
#include "job_request.h"
#include "lifecycle.h"
#include "lock_clock.h"
#include "refusals.h"
#include "snapshot.h"

/* Owned by the agent thread only. */
static accelpack_conf_t conf;
static ap_client_t *client = NULL;
static char *client_address = NULL;
static bool core_down = false;
static struct timespec outage_start, next_core_try;
static uint64_t cycle_no = 0;
/* Figures only the controller has, sent with the next snapshot (the core
 * exports them: accelpack stats, /metrics). */
static uint64_t fallback_cycles = 0, dropped_total = 0;
static double last_apply_hold_ms = 0;

/* Read accelpack.conf if asked to; keep the previous settings on error. */
static void _maybe_load_config(void)
{
	slurmctld_lock_t conf_read = { .conf = READ_LOCK };
	char *path, *errmsg = NULL, caller[300];

	if (!agent_take_reconfig())
		return;

	lock_slurmctld(conf_read);
	path = accelpack_conf_path(slurm_conf.slurm_conf);
	/* 22.05 re-reads slurm.conf in place and frees these strings: copy
	 * them while the lock is held. */
	snprintf(caller, sizeof(caller), "slurmctld@%s",
		 (slurm_conf.control_machine && slurm_conf.control_machine[0]) ?
		 slurm_conf.control_machine[0] : "?");
	unlock_slurmctld(conf_read);
	if (accelpack_conf_read(path, &conf, &errmsg) != SLURM_SUCCESS) {
		error("accelpack: %s; keeping the previous settings", errmsg);
		xfree(errmsg);
	} else {
		info("accelpack: config %s: CoreAddress=%s UseCore=%s IntervalMs=%u IdleReplanMs=%u DeadlineMs=%u RetryMs=%u MaxLockMs=%u MaxPendingJobs=%u AcceleratorGres=%s",
		     path, conf.core_address, conf.use_core ? "yes" : "no",
		     conf.interval_ms, conf.idle_replan_ms, conf.deadline_ms,
		     conf.retry_ms, conf.max_lock_ms, conf.max_pending,
		     conf.accel_gres);
	}
	xfree(path);

	if (client && xstrcmp(client_address, conf.core_address)) {
		ap_client_destroy(client);
		client = NULL;
	}
	if (!client && conf.use_core) {
		char err[256] = "";

		if (!(client = ap_client_create(conf.core_address, caller,
						err, sizeof(err))))
			error("accelpack: cannot create a client for %s: %s; using the built-in policy",
			      conf.core_address, err);
		xfree(client_address);
		client_address = xstrdup(conf.core_address);
	}
	/* Settings or nodes may have changed: the core gets the whole
	 * snapshot next (a new process since 23.11 has a new client anyway). */
	ap_client_resync(client);
	ap_client_set_idle_replan(client, conf.idle_replan_ms);
}

/* Use the built-in policy until RetryMs from now. IN what, why - for the log */
static void _core_failed(const char *what, const char *why)
{
	struct timespec now;

	clock_now(&now);
	if (!core_down) {
		info("accelpack: core unavailable (%s: %s), using built-in policy",
		     what, why);
		core_down = true;
		outage_start = now;
	} else {
		debug("accelpack: core still unavailable (%s: %s)", what, why);
	}
	next_core_try = now;
	clock_add_ms(&next_core_try, conf.retry_ms);
}

/* Fall back when the core's plans start nothing, cycle after cycle. */
static void _count_futile(const char *source, const apply_stats_t *stats)
{
	static futile_count_t futile = { 0 };
	const futile_cycle_t cycle = {
		.from_core = !xstrcmp(source, "core"),
		.aborted = stats->aborted,
		.started = stats->started,
		.dropped = stats->dropped,
	};
	char why[128];

	if (!futile_count_cycle(&futile, &cycle))
		return;
	snprintf(why, sizeof(why),
		 "every start of its last %u plans failed Slurm's checks",
		 FUTILE_CORE_CYCLES);
	_core_failed("futile plans", why);
}

/* Plan from the core if it is there (and not skipped during an outage),
 * else from the built-in policy. RET the plan's source, for the log */
static const char *_plan(const snapshot_t *snap, ap_plan_t *plan,
			 double *core_ms)
{
	struct timespec t0, t1;
	char err[512] = "";
	ap_status_t status;

	*core_ms = 0;
	clock_now(&t0);
	if (client && conf.use_core &&
	    (!core_down || clock_ms_between(&next_core_try, &t0) >= 0)) {
		status = ap_client_schedule(client, &snap->snap,
					    conf.deadline_ms, plan, err,
					    sizeof(err));
		clock_now(&t1);
		*core_ms = clock_ms_between(&t0, &t1);
		if (status == AP_OK) {
			if (core_down) {
				info("accelpack: core answering again after %.1f s, using it (%s)",
				     clock_ms_between(&outage_start, &t1) / 1e3,
				     plan->policy_name ? plan->policy_name : "");
				core_down = false;
			}
			return "core";
		}
		_core_failed(ap_status_str(status), err);
	}
	/* In slurmctld's process, on the thread fini() joins: bounded as a
	 * core answer is, and stopped when slurmctld stops. */
	ap_fallback_bounds_t bounds = {
		.max_ms = conf.deadline_ms,
		.stop = agent_stopping,
	};
	if (agent_stopping())
		return NULL;
	if (ap_fallback_schedule(&snap->snap, &bounds, plan, err,
				 sizeof(err)) != AP_OK) {
		error("accelpack: built-in policy failed: %s", err);
		return NULL;
	}
	return "built-in";
}

/* One cycle. IN force - run even if nothing changed. RET jobs started */
static uint32_t _cycle(bool force)
{
	static time_t seen_job_update = 0, seen_node_update = 0, seen_at = 0;
	static time_t next_due = 0;	/* earliest planned start of the last plan */
	static struct timespec last_full = { 0, 0 };
	lock_clock_t snap_lc = { 0 }, apply_lc = { 0 };
	apply_stats_t stats = { 0 };
	snapshot_t snap;
	ap_plan_t plan = { 0 };
	const char *source;
	struct timespec now;
	double core_ms = 0;
	uint32_t pending;

	clock_now(&now);
	lock_clock_acquire(&snap_lc);
	/* Nothing changed since the last cycle, no planned start is due and
	 * it is recent: the answer would be the same. Re-plan at least every
	 * IdleReplanMs anyway (priorities and the policy's waiting bounds move
	 * with time alone). The update stamps have one-second resolution: a
	 * value seen during its own second may still change without changing,
	 * so it proves nothing. */
	if (!force && (last_job_update == seen_job_update) &&
	    (last_node_update == seen_node_update) &&
	    (seen_job_update < seen_at) && (seen_node_update < seen_at) &&
	    (!next_due || (time(NULL) < next_due)) &&
	    (clock_ms_between(&last_full, &now) < conf.idle_replan_ms)) {
		lock_clock_release(&snap_lc);
		return 0;
	}
	/* The stamps the next cycle compares with: as of the end of the copy,
	 * which itself may write reasons, when it held the locks throughout;
	 * as of its start when it yielded them (a job submitted meanwhile may
	 * be missing). What changes later (core call, apply) is seen next
	 * cycle. */
	seen_job_update = last_job_update;
	seen_node_update = last_node_update;
	seen_at = time(NULL);
	snapshot_build(&snap, conf.accel_gres, conf.max_pending, &snap_lc,
		       conf.yield_ms, conf.queue_check);
	if (!snap_lc.yields) {
		seen_job_update = last_job_update;
		seen_node_update = last_node_update;
		seen_at = time(NULL);
	}
	lock_clock_release(&snap_lc);
	last_full = now;
	cycle_no++;
	pending = snap.snap.pending_cnt;

	if (!pending) {
		snapshot_free(&snap);
		return 0;
	}

	snap.snap.has_stats = true;
	snap.snap.snapshot_us = (uint64_t) (snap_lc.held_ms * 1e3);
	snap.snap.lock_hold_us = (uint64_t) ((snap_lc.max_hold_ms >
					      last_apply_hold_ms ?
					      snap_lc.max_hold_ms :
					      last_apply_hold_ms) * 1e3);
	snap.snap.fallback_cycles_total = fallback_cycles;
	snap.snap.dropped_decisions_total = dropped_total;
	if (!(source = _plan(&snap, &plan, &core_ms))) {
		snapshot_free(&snap);
		return 0;
	}
	if (xstrcmp(source, "core"))
		fallback_cycles++;
	if (plan.resync_reason)
		info("accelpack: core asked for the whole snapshot (%s); sent it",
		     plan.resync_reason);
	if (plan.unchanged) {
		/* No record changed and nothing became due: the core was not
		 * asked and the last plan stands. */
		debug("accelpack: cycle %" PRIu64 ": snapshot %.2f ms, nothing changed (%u pending), core not asked",
		      cycle_no, snap_lc.held_ms, pending);
		ap_plan_free(&plan);
		snapshot_free(&snap);
		return 0;
	}
	/* A start already past (a core's clock ahead of ours, or garbage)
	 * never comes due: it must not keep idle cycles from resting. */
	next_due = 0;
	for (uint32_t r = 0; r < plan.reservation_cnt; r++)
		if ((plan.reservations[r].start_time > (int64_t) seen_at) &&
		    (!next_due ||
		     (plan.reservations[r].start_time < next_due)))
			next_due = (time_t) plan.reservations[r].start_time;

	lock_clock_acquire(&apply_lc);
	apply_plan(&snap, &plan, source, cycle_no, &conf, &apply_lc, &stats);
	lock_clock_release(&apply_lc);
	_count_futile(source, &stats);
	dropped_total += stats.dropped;
	last_apply_hold_ms = apply_lc.max_hold_ms;

	if ((cycle_no % conf.stats_cycles) == 0 ||
	    (apply_lc.max_hold_ms > conf.max_lock_ms * 2.0) ||
	    (snap_lc.max_hold_ms > conf.max_lock_ms * 2.0))
		info("accelpack: cycle %" PRIu64 ": snapshot %.2f ms, %s %.2f ms, apply %.2f ms (max hold %.2f ms, %.2f on CPU, %u yields), started %u, dropped %u, pending %u, nodes %u, running %u, sent %s %u records (copy: longest hold %.2f ms, %.2f on CPU, %u yields, queue %.2f ms in %u holds, last %.2f ms%s)",
		     cycle_no, snap_lc.held_ms, source, core_ms,
		     apply_lc.held_ms, apply_lc.max_hold_ms,
		     apply_lc.max_hold_cpu_ms, apply_lc.yields,
		     stats.started, stats.dropped, pending,
		     snap.snap.node_cnt, snap.snap.running_cnt,
		     xstrcmp(source, "core") ? "none" :
		     plan.sent_whole ? "whole" : "delta",
		     plan.sent_records, snap_lc.max_hold_ms,
		     snap_lc.max_hold_cpu_ms, snap_lc.yields,
		     snap.queue_ms, snap.queue_chunks, snap.queue_sort_ms,
		     snap.queue_slurm_built ? ", by Slurm in one" : "");
	else
		debug("accelpack: cycle %" PRIu64 ": snapshot %.2f ms, %s %.2f ms, apply %.2f ms (max hold %.2f ms, %u yields), started %u, dropped %u, pending %u",
		      cycle_no, snap_lc.held_ms, source, core_ms,
		      apply_lc.held_ms, apply_lc.max_hold_ms, apply_lc.yields,
		      stats.started, stats.dropped, pending);
	if (snap.skipped_het || snap.skipped_cap || snap.skipped_limits ||
	    snap.skipped_gone)
		debug("accelpack: cycle %" PRIu64 ": left out %u heterogeneous, %u over MaxPendingJobs, %u held by Slurm's limits or licenses, %u gone during a yield",
		      cycle_no, snap.skipped_het, snap.skipped_cap,
		      snap.skipped_limits, snap.skipped_gone);

	ap_plan_free(&plan);
	snapshot_free(&snap);
	return stats.started;
}

extern void *agent_main(void *arg)
{
	uint32_t started = 0;

	(void) arg;
	if (prctl(PR_SET_NAME, "accelpack", NULL, NULL, NULL) < 0)
		error("accelpack: cannot set thread name: %m");
	accelpack_conf_defaults(&conf);
	while (!agent_stopping()) {
		/* Jobs just started may free the way for more (e.g. the next
		 * tasks of an array): go again at once. */
		agent_sleep_ms(started ? 1 : conf.interval_ms);
		if (agent_stopping())
			break;
		_maybe_load_config();
		if (slurmctld_config.scheduling_disabled ||
		    controller_stopping()) {
			started = 0;
			continue;
		}
		started = _cycle(started > 0);
	}
	ap_client_destroy(client);
	client = NULL;
	xfree(client_address);
	accelpack_conf_free(&conf);
	job_request_fini();
	refusal_forget_all();
	return NULL;
}
