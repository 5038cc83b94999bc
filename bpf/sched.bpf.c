// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sched.bpf.c: run-queue delay per cgroup, and cgroup creation/removal.
 *
 * What it measures. For every task that becomes runnable (sched_wakeup, sched_wakeup_new, or
 * switched out while still runnable) the time until it runs again (sched_switch), attributed to
 * the task's cgroup in ONE watched hierarchy: the cgroup v2 default hierarchy
 * (task->cgroups->dfl_cgrp) or the cgroup v1 cpu controller's
 * (task->cgroups->subsys[cpu_cgrp_id]->cgroup). Per cgroup: a log2 histogram, count, sum, max,
 * involuntary switches and preemptions, how often the delay overlapped a lower-tier task
 * running on the CPU, and how often it crossed the tier's threshold; a threshold crossing also
 * pushes a rate-limited record on `latency_events` so the agent reacts within milliseconds.
 * cgroup_mkdir/cgroup_rmdir in the watched hierarchy push records on `cgroup_events`, keep the
 * `cgroups` map (id -> path) current and free the stats/tier entries of removed cgroups.
 *
 * Why: the agent's latency guard squeezes BE work when LS tasks wait; the waiting is only
 * visible here, per wakeup, at a cost of a few hundred ns per scheduler event.
 *
 * Delay sources (one per load, the rodata `sched_info_delays`):
 * - sched_info (default): no wakeup program. At sched_switch, next->sched_info.last_queued (the
 *   kernel's enqueue stamp, cleared only after the tracepoint) against the rq clock of this CPU;
 *   waits on other run queues before a migration come from sched_info.run_delay. After a
 *   preempting wakeup the rq clock is stale at the switch (rq_clock_now()); at the switches
 *   where that can happen (prev idle or still runnable) clock_fix() reads CLOCK_MONOTONIC and
 *   maps it to the rq clock through a recent offset sample.
 * - wakeup (fallback): sched_wakeup/sched_wakeup_new stamp bpf_ktime_get_ns() in the task
 *   context, sched_switch reads it again.
 *
 * Invariants.
 * - Each program exists twice: *_btf (tp_btf, trusted task pointers, task storage, direct CO-RE
 *   loads) and *_raw (raw_tp, CO-RE probe reads, a pid-keyed LRU hash because raw_tp arguments
 *   are not BTF pointers and cannot index task storage). The loader autoloads one set.
 * - "Waited behind a lower tier": each CPU remembers, per tier, when a task of that tier last
 *   left the CPU (cpu_ctx.last_run_ns), and which tier runs now (cpu_ctx.cur_tier, set at
 *   switch-in). When a waiter starts running, every task that ran on this CPU during its wait
 *   has left the CPU by now, so a lower tier ran during [enq_ns, now] iff its last_run_ns >
 *   enq_ns. Exact for tasks that stay on one CPU (pinned, or not migrated while waiting); a
 *   task migrated while waiting is judged by the CPU it finally runs on.
 * - A task's cgroup id and tier are cached in its context: the id until any task migrates
 *   between cgroups (cgroup_attach_task bumps cgroup_migrations), the tier until the agent
 *   changes `tiers` (it bumps config.tier_gen). So the cache never goes stale, and the common
 *   path reads neither the task's cgroup pointers nor the tiers hash.
 * - Per-cgroup stats live in the `stats` array at the cgroup's slot (`slots` hash: cgroup ->
 *   slot; `free_slots` queue: the rest). The task context caches the slot with the tier, so the
 *   common path does an inlined array lookup, no hash lookup. A slot is freed only after the
 *   caches that may hold it are invalidated (rmdir bumps cgroup_migrations, forget() bumps
 *   tier_gen) and is zeroed when taken again; a CPU already past its cache check when that
 *   happens may still add one event to the slot's next owner (ns-wide window, at cgroup removal).
 * - Every lookup is NULL-checked, every index masked; every failure bumps a `counters` slot.
 * - Latency events pass a per-CPU token bucket of max(1, events_per_sec / nr_cpus) tokens/s
 *   holding at most one second of tokens: over any T seconds at most about
 *   events_per_sec * (T + 1) records (plus nr_cpus rounding) leave BPF.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "abi/sched.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader between open and load. */
const volatile __u32 hierarchy = COLO_HIER_V1_CPU; /* enum colo_hierarchy attributed to */
const volatile __s32 watch_hierarchy_id = -1;	   /* cgroup_root.hierarchy_id (v2: 0) */
const volatile __u32 nr_cpus = 1;		   /* possible CPUs, for the rate limit */
/* false: tasks of cgroups without a tier are not measured (no clock read, no stats update). */
const volatile bool track_unclassified = true;
/* Delay source. true ("sched_info" mode): the kernel's own enqueue stamp,
 * next->sched_info.last_queued, against this CPU's rq clock at sched_switch; no wakeup program
 * runs. false ("wakeup" mode): sched_wakeup stamps bpf_ktime_get_ns() in the task context. */
const volatile bool sched_info_delays = false;

enum {
	NSEC_PER_SEC = 1000000000,
	TASK_RUNNING_STATE = 0,
	/* sched_info mode: clock offset samples at least this often (rq clock ns) */
	CLOCK_SAMPLE_NS = 2000000,
	/* ... kept per window of this length (CLOCK_MONOTONIC ns); estimates use samples at most
	 * two windows old, so the drift between the two clocks (NTP slews CLOCK_MONOTONIC by
	 * <= 500 ppm, typically a few ppm) stays under 10 us, typically 0.1 us. */
	CLOCK_WINDOW_NS = 10000000,
};

/* Per-cgroup statistics live in an array indexed by a slot, so the hot path, which caches the
 * slot in the task context, does an inlined array lookup instead of a hash lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COLO_MAX_CGROUPS);
	__type(key, __u32);
	__type(value, struct colo_cgroup_stats);
} stats SEC(".maps");

/* cgroup -> its slot in `stats`. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COLO_MAX_CGROUPS);
	__type(key, struct colo_cgroup_key);
	__type(value, __u32);
} slots SEC(".maps");

/* Slots not in `slots`; the loader fills it with every slot when it creates the maps. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, COLO_MAX_CGROUPS);
	__type(value, __u32);
} free_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COLO_MAX_CGROUPS);
	__type(key, struct colo_cgroup_key);
	__type(value, struct colo_tier_value);
} tiers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COLO_MAX_CGROUPS);
	__type(key, struct colo_cgroup_key);
	__type(value, struct colo_cgroup_info);
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct colo_sched_config);
} sched_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COLO_SCHED_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct colo_cpu_ctx);
} cpu_ctx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct colo_task_ctx);
} task_ctx SEC(".maps");

/* raw_tp fallback only; the loader shrinks it when tp_btf is used. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct colo_task_ctx);
} task_ctx_by_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, COLO_LATENCY_RINGBUF_BYTES);
} latency_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, COLO_CGROUP_RINGBUF_BYTES);
} cgroup_events SEC(".maps");

/* Kernels before 5.14 named task_struct::__state `state`. */
struct task_struct___pre514 {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline void bump(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += 1;
}

/* Kernfs id of `t`'s cgroup in the watched hierarchy, 0 when it cannot be read. `btf`: `t` is a
 * trusted BTF pointer (tp_btf) and is read with direct CO-RE loads; otherwise probe reads. */
static __always_inline __u64 task_cgroup_id(struct task_struct *t, bool btf)
{
	if (hierarchy == COLO_HIER_V2) {
		if (btf)
			return t->cgroups->dfl_cgrp->kn->id;
		return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	}
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, cpu_cgrp_id))
		return 0;
	int idx = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
	if (idx < 0 || idx >= bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT))
		return 0;
	if (btf)
		return t->cgroups->subsys[idx]->cgroup->kn->id;
	return BPF_CORE_READ(t, cgroups, subsys[idx], cgroup, kn, id);
}

static __always_inline __u32 task_pid(struct task_struct *t, bool btf)
{
	if (btf)
		return t->pid;
	return BPF_CORE_READ(t, pid);
}

static __always_inline __u32 task_state(struct task_struct *t, bool btf)
{
	if (bpf_core_field_exists(t->__state)) {
		if (btf)
			return t->__state;
		return BPF_CORE_READ(t, __state);
	}
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* Per-task context: task storage for tp_btf, the pid-keyed LRU hash for raw_tp. */
static __always_inline struct colo_task_ctx *task_ctx_get(struct task_struct *t, bool btf,
							  bool create)
{
	struct colo_task_ctx *tc;

	if (btf) {
		tc = bpf_task_storage_get(&task_ctx, t, 0,
					  create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
		if (!tc && create)
			bump(COLO_STAT_STORAGE_ERRORS);
		return tc;
	}
	__u32 pid = task_pid(t, false);
	tc = bpf_map_lookup_elem(&task_ctx_by_pid, &pid);
	if (tc || !create)
		return tc;
	struct colo_task_ctx zero = {};
	bpf_map_update_elem(&task_ctx_by_pid, &pid, &zero, BPF_NOEXIST);
	tc = bpf_map_lookup_elem(&task_ctx_by_pid, &pid);
	if (!tc)
		bump(COLO_STAT_STORAGE_ERRORS);
	return tc;
}

static __always_inline struct colo_sched_config *config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sched_config, &zero);
}

/* Cgroup migrations seen anywhere (cgroup_attach_task). A task's cached cgroup id is valid while
 * this has not moved since it was read: migrations are rare, and one bump invalidates the caches
 * of every thread of a migrated thread group (the tracepoint fires once per group). */
__u64 cgroup_migrations = 0;

/* Cgroup id (*cgid) and tier of `t`, through its context's cache: the id is re-read after any
 * migration, the tier after any change of the tiers map (config.tier_gen). */
static __always_inline __u32 task_ident(struct colo_task_ctx *tc, struct task_struct *t, bool btf,
					struct colo_sched_config *cfg, __u64 *cgid)
{
	__u32 mig = (__u32)cgroup_migrations; /* read before the id: a racing migration re-reads */
	__u64 gen = cfg->tier_gen;

	if (tc->cgroup_id && tc->mig_gen == mig) {
		*cgid = tc->cgroup_id;
		if (tc->tier_gen == gen)
			return tc->tier & COLO_TIER_MASK;
	} else {
		*cgid = task_cgroup_id(t, btf);
		tc->cgroup_id = *cgid;
		tc->mig_gen = mig;
	}

	struct colo_cgroup_key key = {.id = *cgid, .hierarchy = hierarchy};
	struct colo_tier_value *tv = bpf_map_lookup_elem(&tiers, &key);
	__u32 tier = tv ? (tv->tier & COLO_TIER_MASK) : COLO_TIER_NONE;

	tc->tier_gen = gen;
	tc->tier = tier;
	tc->slot = 0; /* looked up again at the next stats update */
	return tier;
}

/* The stats slot of `cgid`, taken from free_slots on first use; -1 when none is free. */
static __always_inline __s64 slot_get(__u64 cgid)
{
	struct colo_cgroup_key key = {.id = cgid, .hierarchy = hierarchy};
	__u32 *found = bpf_map_lookup_elem(&slots, &key);
	__u32 slot;

	if (found)
		return *found;
	if (bpf_map_pop_elem(&free_slots, &slot)) {
		bump(COLO_STAT_STATS_MAP_FULL);
		return -1;
	}
	struct colo_cgroup_stats *s = bpf_map_lookup_elem(&stats, &slot);
	if (s)
		__builtin_memset(s, 0,
				 sizeof(*s)); /* published below, so readers never see old data */
	if (!bpf_map_update_elem(&slots, &key, &slot, BPF_NOEXIST))
		return slot;
	/* Another CPU took a slot for it first (EEXIST), or the hash is full: give ours back. */
	bpf_map_push_elem(&free_slots, &slot, 0);
	found = bpf_map_lookup_elem(&slots, &key);
	if (found)
		return *found;
	bump(COLO_STAT_STATS_MAP_FULL);
	return -1;
}

/* The stats of `cgid` (the cached cgroup id of `tc` when tc is not NULL), through the slot cached
 * in `tc`. A slot is freed only with its cgroup (rmdir bumps cgroup_migrations, forget() bumps
 * tier_gen), which invalidates the cache before the slot can be taken again. */
static __always_inline struct colo_cgroup_stats *stats_get(struct colo_task_ctx *tc, __u64 cgid)
{
	__u32 slot;

	if (tc && tc->slot) {
		slot = tc->slot - 1;
	} else {
		__s64 s = slot_get(cgid);
		if (s < 0)
			return NULL;
		slot = s;
		if (tc)
			tc->slot = slot + 1;
	}
	return bpf_map_lookup_elem(&stats, &slot);
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/* Per-CPU token bucket; true when one more latency event may go out now. */
static __always_inline bool ratelimit_allow(struct colo_cpu_ctx *cc, struct colo_sched_config *cfg,
					    __u64 now)
{
	__u64 eps = cfg->events_per_sec;

	if (!eps)
		return false;
	__u64 rate = eps / (nr_cpus ? nr_cpus : 1);
	if (!rate)
		rate = 1;
	__u64 elapsed = now - cc->refill_ns;
	if (elapsed > NSEC_PER_SEC)
		elapsed = NSEC_PER_SEC;
	__u64 cap = rate * NSEC_PER_SEC;
	__u64 tokens = cc->tokens + elapsed * rate;
	if (tokens > cap)
		tokens = cap;
	cc->refill_ns = now;
	if (tokens < NSEC_PER_SEC) {
		cc->tokens = tokens;
		return false;
	}
	cc->tokens = tokens - NSEC_PER_SEC;
	return true;
}

static __always_inline void emit_latency(struct task_struct *t, bool btf, __u64 cgid, __u32 tier,
					 __u64 delay, __u64 now)
{
	struct colo_latency_event *e;

	e = bpf_ringbuf_reserve(&latency_events, sizeof(*e), 0);
	if (!e) {
		bump(COLO_STAT_EVENTS_DROPPED_FULL);
		return;
	}
	e->type = COLO_EVENT_LATENCY;
	e->hierarchy = hierarchy;
	e->cgroup_id = cgid;
	e->delay_ns = delay;
	e->ts_ns = now;
	e->pid = task_pid(t, btf);
	e->cpu = bpf_get_smp_processor_id();
	e->tier = tier;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	bump(COLO_STAT_LATENCY_EVENTS);
}

/* The rq clock (ns) of the CPU `t` is switched in on: the clock sched_info.last_queued is
 * stamped with (rq_clock()). It was last updated in __schedule() just before sched_switch fires,
 * except after a wakeup that preempted the running task: the scheduler then skips that update
 * (rq_clock_skip_update()) and the clock still reads the time of its last update (the wakeup, or
 * a tick in between). Reached through t->se.cfs_rq, which __set_task_cpu() points at a cfs_rq of
 * task_cpu(t) for tasks of every class, idle included; not through the `runqueues` per-CPU
 * symbol, which needs CONFIG_KALLSYMS_ALL. 0 without CONFIG_FAIR_GROUP_SCHED (no se.cfs_rq):
 * every switch-in then counts as no_enqueue_time and the loader falls back to wakeup mode. */
static __always_inline __u64 rq_clock_now(struct task_struct *t, bool btf)
{
	if (!bpf_core_field_exists(t->se.cfs_rq))
		return 0;
	if (btf)
		return t->se.cfs_rq->rq->clock;
	return BPF_CORE_READ(t, se.cfs_rq, rq, clock);
}

/* The rq clock now (ns), for a switch where the clock may be stale (`stale_prone`: prev is the
 * idle task or still runnable, the switches a preempting wakeup causes): the rq clock that
 * bpf_ktime_get_ns() gives through the smallest offset (CLOCK_MONOTONIC - rq clock) of recent
 * samples, when that is later than the rq clock read. A sample is taken at every stale-prone
 * switch and at other switches every CLOCK_SAMPLE_NS, so the ping-pong's voluntary switches
 * pay one clock read per 2 ms. A fresh sample is larger than the true offset by the time from
 * __schedule()'s clock update to this program (~0.5 us), so estimates err low by about that;
 * a stale sample is larger still and loses the min. Without a sample younger than two windows
 * (a CPU idle for 20 ms) the stale clock is returned: the wait reads as the kernel's. */
static __always_inline __u64 clock_fix(struct colo_cpu_ctx *cc, __u64 rq_now, bool stale_prone)
{
	if (!stale_prone && rq_now - cc->clk_sample_rq < CLOCK_SAMPLE_NS)
		return rq_now;
	__u64 k = bpf_ktime_get_ns();
	__s64 off = (__s64)(k - rq_now);
	__u64 age = k - cc->clk_win_ns;

	cc->clk_sample_rq = rq_now;
	if (!cc->clk_win_ns || age > CLOCK_WINDOW_NS) {
		cc->clk_prev_off = cc->clk_win_ns && age <= 2 * CLOCK_WINDOW_NS ? cc->clk_off : off;
		cc->clk_off = off;
		cc->clk_win_ns = k;
	} else if (off < cc->clk_off) {
		cc->clk_off = off;
	}
	if (!stale_prone)
		return rq_now;
	__s64 best = cc->clk_off < cc->clk_prev_off ? cc->clk_off : cc->clk_prev_off;
	__u64 est = k - best;
	return est > rq_now ? est : rq_now;
}

/* next's enqueue stamp and cumulative wait (sched_info; rq clock ns). sched_info_arrive(), which
 * clears last_queued and adds the wait to run_delay, runs after trace_sched_switch. */
static __always_inline void task_sched_info(struct task_struct *t, bool btf, __u64 *queued,
					    __u64 *run_delay)
{
	if (btf) {
		*queued = t->sched_info.last_queued;
		*run_delay = t->sched_info.run_delay;
		return;
	}
	*queued = BPF_CORE_READ(t, sched_info.last_queued);
	*run_delay = BPF_CORE_READ(t, sched_info.run_delay);
}

/* Wakeup mode timestamps: bpf_ktime_get_ns() at sched_wakeup and at sched_switch. (The rq clock
 * read at both ends would measure a preempting wakeup as 0 ns, see rq_clock_now().) */
static __always_inline int on_wakeup(struct task_struct *t, bool btf)
{
	struct colo_task_ctx *tc = task_ctx_get(t, btf, true);

	if (!tc)
		return 0;
	if (!track_unclassified) {
		struct colo_sched_config *cfg = config_get();
		__u64 cgid;
		if (!cfg || task_ident(tc, t, btf, cfg, &cgid) == COLO_TIER_NONE) {
			tc->enq_ns = 0;
			return 0;
		}
	}
	tc->enq_ns = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev,
				     struct task_struct *next, bool btf)
{
	__u32 zero = 0;
	struct colo_cpu_ctx *cc = bpf_map_lookup_elem(&cpu_ctx, &zero);
	struct colo_sched_config *cfg = config_get();

	if (!cc || !cfg) {
		bump(COLO_STAT_READ_ERRORS);
		return 0;
	}

	/* sched_info mode has no wakeup program: next's context is created here. The idle task
	 * (pid 0) is never queued and gets none. */
	struct colo_task_ctx *nt = NULL;
	if (!sched_info_delays || task_pid(next, btf))
		nt = task_ctx_get(next, btf, sched_info_delays);
	__u64 next_cgid = 0;
	__u32 next_tier = COLO_TIER_NONE;
	if (nt)
		next_tier = task_ident(nt, next, btf, cfg, &next_cgid);
	__u32 prev_tier = cc->cur_tier & COLO_TIER_MASK;
	cc->cur_tier = next_tier;

	/* bpf_ktime_get_ns() is the dearest part (~80 ns in a VM): wakeup mode reads it only when
	 * something uses it; the rq clock is two loads. Slot COLO_TIER_NONE of last_run_ns is never
	 * read, so an unclassified prev needs no stamp. */
	bool prev_runnable = preempt || task_state(prev, btf) == TASK_RUNNING_STATE;
	__u64 now = 0, rq_now = 0;
	if (sched_info_delays) {
		rq_now = rq_clock_now(next, btf);
		/* untracked tasks on both sides (early exit) need no exact clock */
		bool stale_prone = prev_runnable || !task_pid(prev, btf);
		bool used = track_unclassified || next_tier != COLO_TIER_NONE ||
			    prev_tier != COLO_TIER_NONE;
		now = clock_fix(cc, rq_now, stale_prone && used);
	}
	if (prev_tier != COLO_TIER_NONE) {
		if (!now)
			now = bpf_ktime_get_ns();
		cc->last_run_ns[prev_tier] = now; /* the task leaving the CPU ran until now */
	}

	/* prev leaves while runnable: it waits again from now (involuntary switch). */
	if (prev_runnable) {
		struct colo_task_ctx *pt = task_ctx_get(prev, btf, true);
		__u64 prev_cgid = 0;
		__u32 prev_task_tier = COLO_TIER_NONE;
		if (pt)
			prev_task_tier = task_ident(pt, prev, btf, cfg, &prev_cgid);
		else
			prev_cgid = task_cgroup_id(prev, btf);
		/* sched_info_depart() stamps last_queued = rq_now, which lags by now - rq_now */
		if (pt && sched_info_delays) {
			pt->queued_at = rq_now;
			pt->queued_fix = now - rq_now;
		}
		bool track = track_unclassified || prev_task_tier != COLO_TIER_NONE;
		if (track) {
			/* sched_info mode: the kernel stamps last_queued itself (sched_info_depart)
			 */
			if (!sched_info_delays) {
				if (!now)
					now = bpf_ktime_get_ns();
				if (pt)
					pt->enq_ns = now;
			}
			if (!nt)
				next_cgid = task_cgroup_id(next, btf);
			if (prev_cgid) {
				struct colo_cgroup_stats *ps = stats_get(pt, prev_cgid);
				if (ps) {
					__sync_fetch_and_add(&ps->involuntary_switches, 1);
					if (prev_cgid != next_cgid)
						__sync_fetch_and_add(&ps->preemptions, 1);
				}
			} else {
				bump(COLO_STAT_READ_ERRORS);
			}
		} else if (pt && !sched_info_delays) {
			pt->enq_ns = 0;
		}
	}

	__u64 enq, delay;
	if (sched_info_delays) {
		if (!nt)
			return 0;
		__u64 run_delay;
		task_sched_info(next, btf, &enq, &run_delay);
		if (!enq || enq > rq_now) {
			bump(COLO_STAT_NO_ENQUEUE_TIME);
			nt->enq_ns = 0;
			return 0;
		}
		/* A migration while queued ends the wait on the old rq (sched_info_dequeue() adds
		 * it to run_delay) and restarts last_queued on the new one: the waits run_delay
		 * gained since this task's last switch-in belong to this delay too. Kept up to date
		 * for untracked tasks as well, so that a tier given later does not add their past.
		 */
		__u64 base = nt->enq_ns;
		nt->enq_ns = run_delay + (rq_now - enq); /* once sched_info_arrive() has run */
		__u64 fix = 0;
		if (nt->queued_fix) {
			if (nt->queued_at == enq)
				fix = nt->queued_fix; /* preempted at a stale clock: began later */
			nt->queued_fix = 0;
		}
		if (!track_unclassified && next_tier == COLO_TIER_NONE)
			return 0;
		delay = now - enq;
		delay = delay > fix ? delay - fix : 0;
		if (base && run_delay >= base)
			delay += run_delay - base;
	} else {
		if (!nt || !nt->enq_ns)
			return 0;
		enq = nt->enq_ns;
		nt->enq_ns = 0;
		if (!now)
			now = bpf_ktime_get_ns();
		if (now < enq)
			return 0;
		delay = now - enq;
	}
	if (!next_cgid) {
		bump(COLO_STAT_READ_ERRORS);
		return 0;
	}

	struct colo_cgroup_stats *s = stats_get(nt, next_cgid);
	if (!s)
		return 0;
	__sync_fetch_and_add(&s->count, 1);
	__sync_fetch_and_add(&s->sum_ns, delay);
	if (delay > s->max_ns)
		s->max_ns = delay; /* racy max: a concurrent larger write may be lost, rarely */
	__u32 bucket = log2_u64(delay);
	if (bucket >= COLO_HIST_BUCKETS)
		bucket = COLO_HIST_BUCKETS - 1;
	__sync_fetch_and_add(&s->hist[bucket], 1);

	if (next_tier == COLO_TIER_NONE)
		return 0;

	/* >=: in sched_info mode, when clock_fix() has no recent sample, a lower-tier task
	 * preempted by this task's wakeup leaves at the rq clock of the wakeup (the skipped
	 * update, see rq_clock_now()), equal to enq. */
	bool lower = false;
	for (__u32 t = COLO_TIER_BE; t < COLO_NR_TIERS; t++) {
		if (t < next_tier && cc->last_run_ns[t] >= enq)
			lower = true;
	}
	if (lower)
		__sync_fetch_and_add(&s->waited_behind_lower, 1);

	__u64 threshold = cfg->threshold_ns[next_tier & COLO_TIER_MASK];
	if (!threshold || delay <= threshold)
		return 0;
	__sync_fetch_and_add(&s->over_threshold, 1);
	if (!ratelimit_allow(cc, cfg, now)) {
		bump(COLO_STAT_EVENTS_DROPPED_RATELIMIT);
		return 0;
	}
	emit_latency(next, btf, next_cgid, next_tier, delay,
		     sched_info_delays ? bpf_ktime_get_ns() : now);
	return 0;
}

static __always_inline int on_cgroup(struct cgroup *cgrp, const char *path, __u32 type, bool btf)
{
	int hid = btf ? cgrp->root->hierarchy_id : BPF_CORE_READ(cgrp, root, hierarchy_id);

	if (hid != watch_hierarchy_id)
		return 0;

	struct colo_cgroup_event ev;
	__builtin_memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.hierarchy = hierarchy;
	ev.cgroup_id = btf ? cgrp->kn->id : BPF_CORE_READ(cgrp, kn, id);
	ev.info.created_ns = bpf_ktime_get_ns();
	long n = bpf_probe_read_kernel_str(ev.info.path, sizeof(ev.info.path), path);
	if (n > 0) {
		ev.info.path_len = n - 1;
		if (n == sizeof(ev.info.path)) {
			char more = 0;
			bpf_probe_read_kernel(&more, 1, path + sizeof(ev.info.path) - 1);
			ev.info.truncated = more != 0;
		}
	} else {
		bump(COLO_STAT_READ_ERRORS);
	}

	struct colo_cgroup_key key = {.id = ev.cgroup_id, .hierarchy = hierarchy};
	if (type == COLO_EVENT_MKDIR) {
		if (bpf_map_update_elem(&cgroups, &key, &ev.info, BPF_ANY))
			bump(COLO_STAT_CGROUPS_MAP_FULL);
	} else {
		/* ENOENT is normal: not every cgroup had stats, a tier or a path entry. */
		bpf_map_delete_elem(&cgroups, &key);
		bpf_map_delete_elem(&tiers, &key);
		__u32 *found = bpf_map_lookup_elem(&slots, &key);
		if (found) {
			__u32 slot = *found;
			/* Whoever deletes the entry (here or forget()) frees the slot, once. */
			if (!bpf_map_delete_elem(&slots, &key)) {
				/* Invalidate cached slots first (see stats_get()). */
				__sync_fetch_and_add(&cgroup_migrations, 1);
				bpf_map_push_elem(&free_slots, &slot, 0);
			}
		}
	}
	if (bpf_ringbuf_output(&cgroup_events, &ev, sizeof(ev), 0))
		bump(COLO_STAT_CGROUP_EVENTS_DROPPED);
	else
		bump(COLO_STAT_CGROUP_EVENTS);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup_btf, struct task_struct *p)
{
	return on_wakeup(p, true);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_btf, struct task_struct *p)
{
	return on_wakeup(p, true);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next, true);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(sched_cgroup_mkdir_btf, struct cgroup *cgrp, const char *path)
{
	return on_cgroup(cgrp, path, COLO_EVENT_MKDIR, true);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(sched_cgroup_rmdir_btf, struct cgroup *cgrp, const char *path)
{
	return on_cgroup(cgrp, path, COLO_EVENT_RMDIR, true);
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(sched_cgroup_attach_btf)
{
	__sync_fetch_and_add(&cgroup_migrations, 1);
	return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(sched_wakeup_raw, struct task_struct *p)
{
	return on_wakeup(p, false);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_raw, struct task_struct *p)
{
	return on_wakeup(p, false);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next, false);
}

SEC("raw_tp/cgroup_mkdir")
int BPF_PROG(sched_cgroup_mkdir_raw, struct cgroup *cgrp, const char *path)
{
	return on_cgroup(cgrp, path, COLO_EVENT_MKDIR, false);
}

SEC("raw_tp/cgroup_rmdir")
int BPF_PROG(sched_cgroup_rmdir_raw, struct cgroup *cgrp, const char *path)
{
	return on_cgroup(cgrp, path, COLO_EVENT_RMDIR, false);
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(sched_cgroup_attach_raw)
{
	__sync_fetch_and_add(&cgroup_migrations, 1);
	return 0;
}
