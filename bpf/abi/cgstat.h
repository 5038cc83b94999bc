/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ABI of bpf/cgstat.bpf.c: the record the cgroup iterator writes for every cgroup it visits,
 * read by userspace/bpf/cgstat_iter.cc. The only header the two sides share.
 *
 * Rules: __u8/__u32/__u64/__s64 only, explicit padding, a size assert per struct, constants as
 * enums. Bump COLO_CGSTAT_ABI_VERSION whenever the record's layout or a field's meaning changes.
 */
#ifndef COLO_BPF_ABI_CGSTAT_H
#define COLO_BPF_ABI_CGSTAT_H

#ifdef __cplusplus
#include <linux/types.h>
#define COLO_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#elif defined(__VMLINUX_H__)
#define COLO_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#else
#include <linux/types.h>
#define COLO_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

enum {
	/* Version of everything in this file; in every record's `version` byte. */
	COLO_CGSTAT_ABI_VERSION = 2,
	/* Most possible CPUs summed per cgroup; the loader refuses machines with more. */
	COLO_CGSTAT_MAX_CPUS = 4096,
};

/* colo_cgstat_record.flags */
enum colo_cgstat_flags {
	/* The cgroup has a cpu controller css of its own: the figures below are its own. Without
	 * it (a v2 cgroup whose parent does not enable "cpu") every figure is 0. */
	COLO_CGSTAT_HAS_CPU_CSS = 1 << 0,
	/* The cgroup is its hierarchy's root task group: no group scheduling entity, usage_ns 0. */
	COLO_CGSTAT_ROOT_TG = 1 << 1,
	/* A kernel read failed (bpf_probe_read_kernel of a per-CPU entity); usage_ns is partial. */
	COLO_CGSTAT_READ_ERROR = 1 << 2,
};

/* One record per visited cgroup, written with bpf_seq_write, in pre-order (a parent before its
 * children). 40 bytes: a read() of the iterator returns whole records only. */
struct colo_cgstat_record {
	__u64 id;	    /* kernfs id of the cgroup directory == its inode number */
	__u64 usage_ns;	    /* sum over possible CPUs of tg->se[cpu]->sum_exec_runtime (ns) */
	__u64 throttled_ns; /* tg->cfs_bandwidth.throttled_time (ns) */
	__u32 nr_periods;   /* tg->cfs_bandwidth.nr_periods (periods) */
	__u32 nr_throttled; /* tg->cfs_bandwidth.nr_throttled (periods) */
	__u8 version;	    /* COLO_CGSTAT_ABI_VERSION */
	__u8 flags;	    /* enum colo_cgstat_flags */
	__u16 level;	    /* cgrp->level: depth below the hierarchy root (root = 0) */
	__u32 limit_mcpu;   /* tg->cfs_bandwidth quota / period in millicores (cpu.max,
			       cfs_quota_us / cfs_period_us); 0: no limit */
};
COLO_STATIC_ASSERT(sizeof(struct colo_cgstat_record) == 40, "colo_cgstat_record layout");

#endif /* COLO_BPF_ABI_CGSTAT_H */
