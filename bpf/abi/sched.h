/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ABI of bpf/sched.bpf.c: the map keys, map values and ring-buffer records shared with
 * userspace (userspace/bpf/sched_probe.cc). The only header the two sides share.
 *
 * Rules: __u8/__u32/__u64/__s64 only, explicit padding, a size assert per struct, constants as
 * enums. Bump COLO_SCHED_ABI_VERSION whenever a layout, a map or a meaning changes: a loader
 * that finds pinned maps of another version replaces them.
 */
#ifndef COLO_BPF_ABI_SCHED_H
#define COLO_BPF_ABI_SCHED_H

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
	/* Version of everything in this file; stored in colo_sched_config.abi_version. */
	COLO_SCHED_ABI_VERSION = 3,
	/* Default size of the per-cgroup maps (stats, slots, free_slots, tiers, cgroups); the
	 * loader may resize. */
	COLO_MAX_CGROUPS = 8192,
	/* log2 buckets: bucket i counts delays d (ns) with 2^i <= d < 2^(i+1); bucket 0 takes
	 * d = 0 and the last bucket takes everything above. */
	COLO_HIST_BUCKETS = 36,
	/* Cgroup path bytes kept (NUL included); longer paths are truncated. */
	COLO_CGROUP_PATH_MAX = 256,
	/* Ring buffer sizes (bytes, power of two, multiple of the page size). */
	COLO_LATENCY_RINGBUF_BYTES = 256 * 1024,
	COLO_CGROUP_RINGBUF_BYTES = 256 * 1024,
	/* Maximum latency events per second the rate limit lets through unless configured. */
	COLO_DEFAULT_EVENTS_PER_SEC = 1000,
};

/* Which hierarchy a cgroup id belongs to (values match colo::bpf::Hierarchy). */
enum colo_hierarchy {
	COLO_HIER_V1_CPU = 1, /* cgroup v1, the cpu controller's hierarchy */
	COLO_HIER_V2 = 2,     /* cgroup v2, the default hierarchy */
};

/* QoS tiers (values match colo::bpf::Tier). Numeric order is priority order. */
enum colo_tier {
	COLO_TIER_NONE = 0, /* not classified by the agent */
	COLO_TIER_BE = 1,
	COLO_TIER_LS = 2,
	COLO_TIER_LSR = 3,
	COLO_TIER_LSX = 4,
	COLO_NR_TIERS = 5,
	/* Arrays indexed by tier are this long, so `tier & COLO_TIER_MASK` is always in bounds. */
	COLO_TIER_SLOTS = 8,
	COLO_TIER_MASK = 7,
};

/* Key of the per-cgroup hashes (slots, tiers, cgroups). */
struct colo_cgroup_key {
	__u64 id;	 /* kernfs id of the cgroup directory == its inode number */
	__u32 hierarchy; /* enum colo_hierarchy */
	__u32 pad;	 /* zero */
};
COLO_STATIC_ASSERT(sizeof(struct colo_cgroup_key) == 16, "colo_cgroup_key layout");

/* Value of the `stats` array at a cgroup's slot (the `slots` hash maps colo_cgroup_key -> slot,
 * a __u32 index; free slots wait in the `free_slots` queue): cumulative run-queue figures of one
 * cgroup since its slot was taken (at the cgroup's first measured event after load). Zeroed when
 * taken, updated with atomic adds. */
struct colo_cgroup_stats {
	__u64 count;		    /* wakeup-to-run delays measured (events) */
	__u64 sum_ns;		    /* sum of those delays (ns) */
	__u64 max_ns;		    /* largest delay (ns) */
	__u64 preemptions;	    /* switched out while runnable, for a task of another cgroup */
	__u64 involuntary_switches; /* switched out while runnable (the kernel's nivcsw) */
	__u64 waited_behind_lower;  /* delays during which a lower-tier task ran on the CPU */
	__u64 over_threshold;	    /* delays longer than the tier's threshold (events) */
	__u64 hist[COLO_HIST_BUCKETS]; /* delays per log2 bucket (events) */
	__u64 pad[5];		       /* zero; 384 bytes, a multiple of the 64-byte cache line */
};
COLO_STATIC_ASSERT(sizeof(struct colo_cgroup_stats) == 8 * (7 + COLO_HIST_BUCKETS + 5),
		   "colo_cgroup_stats layout");

/* Value of the `tiers` hash, written by the agent. */
struct colo_tier_value {
	__u32 tier; /* enum colo_tier */
	__u32 pad;  /* zero */
};
COLO_STATIC_ASSERT(sizeof(struct colo_tier_value) == 8, "colo_tier_value layout");

/* Value of the `cgroups` hash: a cgroup created after load, filled at mkdir, deleted at rmdir. */
struct colo_cgroup_info {
	__u64 created_ns;		 /* bpf_ktime_get_ns() at mkdir (CLOCK_MONOTONIC ns) */
	__u32 path_len;			 /* bytes in path, NUL excluded */
	__u32 truncated;		 /* 1 when the kernel's path was longer than path[] */
	char path[COLO_CGROUP_PATH_MAX]; /* relative to the hierarchy root ("/a/b"), NUL-ended */
};
COLO_STATIC_ASSERT(sizeof(struct colo_cgroup_info) == 16 + COLO_CGROUP_PATH_MAX,
		   "colo_cgroup_info layout");

/* Value of the one-entry `sched_config` array: runtime knobs written by the agent. */
struct colo_sched_config {
	__u32 abi_version;		     /* COLO_SCHED_ABI_VERSION of the loader */
	__u32 events_per_sec;		     /* latency events let through per second (events/s) */
	__u64 tier_gen;			     /* bumped by the agent after each tiers change */
	__u64 threshold_ns[COLO_TIER_SLOTS]; /* latency event threshold per tier (ns); 0 = none */
};
COLO_STATIC_ASSERT(sizeof(struct colo_sched_config) == 16 + 8 * COLO_TIER_SLOTS,
		   "colo_sched_config layout");

/* Indexes of the per-CPU `counters` array (each u64, events). Every error path bumps one. */
enum colo_sched_stat {
	COLO_STAT_EVENTS_DROPPED_RATELIMIT = 0, /* latency events suppressed by the rate limit */
	COLO_STAT_EVENTS_DROPPED_FULL,		/* latency ring buffer reservations that failed */
	COLO_STAT_STATS_MAP_FULL,		/* cgroups that found no free stats slot */
	COLO_STAT_STORAGE_ERRORS,		/* task storage get/create failures */
	COLO_STAT_CGROUP_EVENTS_DROPPED,	/* cgroup ring buffer reservations that failed */
	COLO_STAT_CGROUPS_MAP_FULL,		/* `cgroups` entries that could not be created */
	COLO_STAT_READ_ERRORS,			/* kernel reads that failed (cgroup id, path) */
	COLO_STAT_LATENCY_EVENTS,		/* latency events pushed */
	COLO_STAT_CGROUP_EVENTS,		/* mkdir/rmdir events pushed */
	COLO_STAT_NO_ENQUEUE_TIME,		/* sched_info mode: a task switched in without a
						   sane sched_info.last_queued (should stay 0) */
	COLO_SCHED_NR_STATS,
};

/* Ring-buffer record types (first field of every record). */
enum colo_event_type {
	COLO_EVENT_LATENCY = 1,
	COLO_EVENT_MKDIR = 2,
	COLO_EVENT_RMDIR = 3,
};

/* `latency_events` record: a task of a classified tier waited longer than its threshold. */
struct colo_latency_event {
	__u32 type;	 /* COLO_EVENT_LATENCY */
	__u32 hierarchy; /* enum colo_hierarchy */
	__u64 cgroup_id; /* kernfs id (inode) of the task's cgroup */
	__u64 delay_ns;	 /* runnable-to-run delay (ns) */
	__u64 ts_ns;	 /* bpf_ktime_get_ns() when it started running (CLOCK_MONOTONIC ns) */
	__u32 pid;	 /* thread id */
	__u32 cpu;	 /* CPU it started running on */
	__u32 tier;	 /* enum colo_tier */
	__u32 pad;	 /* zero */
};
COLO_STATIC_ASSERT(sizeof(struct colo_latency_event) == 48, "colo_latency_event layout");

/* `cgroup_events` record: a cgroup was created or removed in the watched hierarchy. */
struct colo_cgroup_event {
	__u32 type;		      /* COLO_EVENT_MKDIR or COLO_EVENT_RMDIR */
	__u32 hierarchy;	      /* enum colo_hierarchy */
	__u64 cgroup_id;	      /* kernfs id (inode) of the cgroup */
	struct colo_cgroup_info info; /* created_ns is the event time (ns) for rmdir too */
};
COLO_STATIC_ASSERT(sizeof(struct colo_cgroup_event) == 16 + sizeof(struct colo_cgroup_info),
		   "colo_cgroup_event layout");

/* Per-task state (task storage; pid-keyed hash in the raw_tp fallback). BPF-private. */
struct colo_task_ctx {
	__u64 enq_ns;	  /* wakeup mode: when the task became runnable (CLOCK_MONOTONIC ns), 0 when
			     not waiting. sched_info mode: the task's sched_info.run_delay (ns) just
			     after its last switch-in, 0 when not seen yet */
	__u64 cgroup_id;  /* cached cgroup id of the task, 0 when not read yet */
	__u64 tier_gen;	  /* config.tier_gen the cached tier was read at */
	__u32 tier;	  /* cached enum colo_tier */
	__u32 mig_gen;	  /* cgroup_migrations (low 32 bits) the cached cgroup id was read at */
	__u32 slot;	  /* cached stats slot + 1 of cgroup_id, 0 when not looked up yet; valid
			     as long as the cached tier is (same mig_gen and tier_gen) */
	__u32 pad;	  /* zero */
	__u64 queued_at;  /* sched_info mode: the rq clock (ns) the kernel stamped as last_queued
			     when the task was preempted at a stale clock */
	__u64 queued_fix; /* ... and how far (ns) that clock lagged; 0 when none */
};
COLO_STATIC_ASSERT(sizeof(struct colo_task_ctx) == 56, "colo_task_ctx layout");

/* Per-CPU state (one-entry per-CPU array). BPF-private. */
struct colo_cpu_ctx {
	__u64 last_run_ns[COLO_TIER_SLOTS]; /* when a task of each tier last left this CPU (ns,
					       the delay clock: CLOCK_MONOTONIC in wakeup mode,
					       this CPU's rq clock in sched_info mode) */
	__u64 tokens;			    /* rate-limit tokens, in 1e-9 events */
	__u64 refill_ns;		    /* last token refill (ns) */
	__u32 cur_tier;			    /* tier of the task running now */
	__u32 pad;			    /* zero */
	/* sched_info mode: CLOCK_MONOTONIC minus rq clock (ns), the smallest of the samples of
	 * the current and the previous window (a stale rq clock makes a sample larger). */
	__s64 clk_off;
	__s64 clk_prev_off;
	__u64 clk_win_ns;    /* CLOCK_MONOTONIC start of the current window (ns), 0 before any */
	__u64 clk_sample_rq; /* rq clock of the last sample (ns) */
};
COLO_STATIC_ASSERT(sizeof(struct colo_cpu_ctx) == 8 * (COLO_TIER_SLOTS + 7), "colo_cpu_ctx layout");

#endif /* COLO_BPF_ABI_SCHED_H */
