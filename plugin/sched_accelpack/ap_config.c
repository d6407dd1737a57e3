/*****************************************************************************\
 *  ap_config.c - parse accelpack.conf (Key=Value lines, '#' comments).
 *  SPDX-License-Identifier: GPL-2.0-or-later
 *
 *  A tiny parser of our own instead of Slurm's s_p_* tables: the format is
 *  flat, and an unknown key or a bad value must name the line and leave the
 *  previous good settings in force, which is easier to guarantee here.
\*****************************************************************************/

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slurm/slurm_errno.h"
#include "src/common/macros.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"

#include "ap_config.h"

extern void accelpack_conf_defaults(accelpack_conf_t *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->core_address = xstrdup("unix:/run/accelpack/accelpack.sock");
	conf->interval_ms = 100;
	conf->deadline_ms = 500;
	conf->retry_ms = 1000;
	conf->max_lock_ms = 5;
	conf->yield_ms = 2;
	conf->max_pending = 10000;
	conf->stats_cycles = 100;
	conf->idle_replan_ms = 5000;
	conf->accel_gres = xstrdup("gpu,npu");
	conf->use_core = true;
}

extern void accelpack_conf_free(accelpack_conf_t *conf)
{
	xfree(conf->core_address);
	xfree(conf->accel_gres);
}

extern char *accelpack_conf_path(const char *slurm_conf_path)
{
	const char *env = getenv("ACCELPACK_CONF");
	char *copy, *dir, *path;

	if (env && env[0])
		return xstrdup(env);
	copy = xstrdup(slurm_conf_path ? slurm_conf_path :
		       "/etc/slurm/slurm.conf");
	dir = dirname(copy);
	path = xstrdup_printf("%s/accelpack.conf", dir);
	xfree(copy);
	return path;
}

/* Trim blanks at both ends, in place. RET the trimmed start */
static char *_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* RET true if value is an integer in [min, max]; OUT out */
static bool _parse_u32(const char *value, uint32_t min, uint32_t max,
		       uint32_t *out)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || !end || end == value || *end || v < min || v > max)
		return false;
	*out = (uint32_t) v;
	return true;
}

static bool _parse_bool(const char *value, bool *out)
{
	if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") ||
	    !strcmp(value, "1")) {
		*out = true;
		return true;
	}
	if (!strcasecmp(value, "no") || !strcasecmp(value, "false") ||
	    !strcmp(value, "0")) {
		*out = false;
		return true;
	}
	return false;
}

typedef struct {
	const char *key;
	uint32_t min, max;
	size_t offset;
} u32_key_t;

static const u32_key_t u32_keys[] = {
	{ "IntervalMs", 10, 60000, offsetof(accelpack_conf_t, interval_ms) },
	{ "DeadlineMs", 10, 60000, offsetof(accelpack_conf_t, deadline_ms) },
	{ "RetryMs", 0, 600000, offsetof(accelpack_conf_t, retry_ms) },
	{ "MaxLockMs", 1, 10000, offsetof(accelpack_conf_t, max_lock_ms) },
	{ "YieldMs", 0, 1000, offsetof(accelpack_conf_t, yield_ms) },
	{ "MaxPendingJobs", 1, 1000000,
	  offsetof(accelpack_conf_t, max_pending) },
	{ "StatsEveryCycles", 1, 1000000,
	  offsetof(accelpack_conf_t, stats_cycles) },
	{ "IdleReplanMs", 100, 600000,
	  offsetof(accelpack_conf_t, idle_replan_ms) },
};

/* accelpack.conf is a few lines; the CLI reads it with the same bound. */
#define ACCELPACK_CONF_MAX_BYTES (1 << 20)

/*
 * The file at path, opened for reading; NULL with *errmsg unset when there is
 * none. The agent reads it while slurmctld runs: a FIFO at the path must not
 * block it (the open never waits and only a regular file is read), nor
 * /dev/zero feed it forever (a bound on the size).
 */
static FILE *_open_conf(const char *path, char **errmsg)
{
	struct stat info;
	FILE *fp;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		if (errno != ENOENT)
			*errmsg = xstrdup_printf("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &info)) {
		*errmsg = xstrdup_printf("%s: %s", path, strerror(errno));
	} else if (S_ISDIR(info.st_mode)) {
		*errmsg = xstrdup_printf("%s: a directory, not a regular file",
					 path);
	} else if (!S_ISREG(info.st_mode)) {
		*errmsg = xstrdup_printf("%s: not a regular file (a device, FIFO or socket)",
					 path);
	} else if (info.st_size > ACCELPACK_CONF_MAX_BYTES) {
		*errmsg = xstrdup_printf("%s: larger than %d MiB", path,
					 ACCELPACK_CONF_MAX_BYTES >> 20);
	} else if (!(fp = fdopen(fd, "r"))) {
		*errmsg = xstrdup_printf("%s: %s", path, strerror(errno));
	} else {
		return fp;
	}
	close(fd);
	return NULL;
}

extern int accelpack_conf_read(const char *path, accelpack_conf_t *conf,
			       char **errmsg)
{
	accelpack_conf_t next;
	FILE *fp;
	char line[1024];
	int line_no = 0, rc = SLURM_SUCCESS;

	*errmsg = NULL;
	accelpack_conf_defaults(&next);
	if (!(fp = _open_conf(path, errmsg))) {
		if (!*errmsg) {	/* no file: every default */
			accelpack_conf_free(conf);
			*conf = next;
			return SLURM_SUCCESS;
		}
		accelpack_conf_free(&next);
		return SLURM_ERROR;
	}
	while ((rc == SLURM_SUCCESS) && fgets(line, sizeof(line), fp)) {
		char *key, *value, *eq, *hash;
		bool known = false;

		line_no++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		key = _trim(line);
		if (!key[0])
			continue;
		if (!(eq = strchr(key, '='))) {
			*errmsg = xstrdup_printf("%s:%d: expected Key=Value",
						 path, line_no);
			rc = SLURM_ERROR;
			break;
		}
		*eq = '\0';
		key = _trim(key);
		value = _trim(eq + 1);

		for (size_t i = 0; i < ARRAY_SIZE(u32_keys); i++) {
			if (strcasecmp(key, u32_keys[i].key))
				continue;
			known = true;
			if (!_parse_u32(value, u32_keys[i].min,
					u32_keys[i].max,
					(uint32_t *) ((char *) &next +
						      u32_keys[i].offset))) {
				*errmsg = xstrdup_printf(
					"%s:%d: %s=%s: want an integer in [%u, %u]",
					path, line_no, u32_keys[i].key, value,
					u32_keys[i].min, u32_keys[i].max);
				rc = SLURM_ERROR;
			}
		}
		if (known)
			continue;
		if (!strcasecmp(key, "CoreAddress")) {
			if (!value[0]) {
				*errmsg = xstrdup_printf("%s:%d: empty CoreAddress",
							 path, line_no);
				rc = SLURM_ERROR;
			} else {
				xfree(next.core_address);
				next.core_address = xstrdup(value);
			}
		} else if (!strcasecmp(key, "AcceleratorGres")) {
			xfree(next.accel_gres);
			next.accel_gres = xstrdup(value);
		} else if (!strcasecmp(key, "QueueCheck")) {
			if (!_parse_bool(value, &next.queue_check)) {
				*errmsg = xstrdup_printf("%s:%d: QueueCheck=%s: want yes or no",
							 path, line_no, value);
				rc = SLURM_ERROR;
			}
		} else if (!strcasecmp(key, "UseCore")) {
			if (!_parse_bool(value, &next.use_core)) {
				*errmsg = xstrdup_printf("%s:%d: UseCore=%s: want yes or no",
							 path, line_no, value);
				rc = SLURM_ERROR;
			}
		} else {
			*errmsg = xstrdup_printf("%s:%d: unknown key '%s'",
						 path, line_no, key);
			rc = SLURM_ERROR;
		}
	}
	if ((rc == SLURM_SUCCESS) && ferror(fp)) {
		*errmsg = xstrdup_printf("%s: read error", path);
		rc = SLURM_ERROR;
	}
	fclose(fp);
	if (rc != SLURM_SUCCESS) {
		accelpack_conf_free(&next);
		return rc;
	}
	accelpack_conf_free(conf);
	*conf = next;
	return SLURM_SUCCESS;
}
