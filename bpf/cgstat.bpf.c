// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgstat.bpf.c: CPU usage and CFS bandwidth figures of every cgroup below a root, in one read.
 *
 * What it reads. An iter/cgroup program, attached by the loader to one cgroup directory (the
 * kubelet root) with order BPF_CGROUP_ITER_DESCENDANTS_PRE, so each read() of an iterator
 * instance visits that cgroup and all its descendants, parents first. For each visited cgroup
 * it writes one struct colo_cgstat_record (bpf/abi/cgstat.h) with bpf_seq_write:
 * - id: cgrp->kn->id, the inode of the cgroup directory;
 * - from the cpu controller's css of the cgroup (cgrp->subsys[cpu_cgrp_id], which is the first
 *   member of struct task_group):
 *   - throttling: tg->cfs_bandwidth.{nr_periods, nr_throttled, throttled_time}, the figures
 *     cpu.stat prints (v1: nr_periods, nr_throttled, throttled_time; v2: throttled_usec * 1000);
 *   - the CPU limit: tg->cfs_bandwidth.{quota, period} as millicores (cpu.max; v1
 *     cfs_quota_us / cfs_period_us), 0 when the quota is RUNTIME_INF (no limit);
 *   - usage: the sum over possible CPUs of tg->se[cpu]->sum_exec_runtime, the runtime of the
 *     group's fair-class scheduling entities. It tracks cpuacct.usage (v1) for groups whose
 *     tasks are all SCHED_OTHER/BATCH/IDLE; RT and deadline time is not in it.
 *
 * Why: the agent read cpu.stat and cpuacct.usage of every container every tick with pread(2),
 * two syscalls per container and ~45 % of its CPU; this is one iterator read per tick.
 *
 * Invariants.
 * - One record per visited cgroup (per visited leaf with leaves_only), fixed size, so userspace
 *   parses whole records only.
 * - A cgroup whose cpu css is an ancestor's (v2, "cpu" not enabled by its parent) gets flags
 *   without COLO_CGSTAT_HAS_CPU_CSS and zero figures, never its ancestor's figures.
 * - The root task group has no per-CPU entities (tg->se[cpu] == NULL): usage 0, flagged.
 * - Per-CPU entity pointers are read with bpf_probe_read_kernel over at most nr_cpus entries
 *   (rodata, possible CPUs, capped at COLO_CGSTAT_MAX_CPUS): tg->se has nr_cpu_ids entries.
 * - The task_group (container_of on the css) and each sched_entity are read through
 *   bpf_rdonly_cast (Linux 6.2+): direct CO-RE loads, a fault reads 0. The verifier knows only
 *   the css type otherwise; probe reads for these cost ~2x the whole program (measured).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "abi/cgstat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader between open and load: libbpf_num_possible_cpus(). */
const volatile __u32 nr_cpus = 1;
/* Set by the loader: skip cgroups that have children (the agent wants containers, the leaves of
 * the kubelet tree; the pod and QoS levels cost as much to read as the containers). */
const volatile bool leaves_only = false;

/* Reinterprets a kernel pointer as `btf_id` for read-only direct loads (faults read as 0), which
 * cost a plain load each where bpf_probe_read_kernel costs a helper call. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Sum of tg->se[cpu]->sum_exec_runtime over the possible CPUs; sets READ_ERROR in *flags when
 * a pointer of the per-CPU array cannot be read. */
static __always_inline __u64 group_runtime(struct task_group *tg, __u8 *flags)
{
	struct sched_entity **ses = tg->se;
	__u64 sum = 0;

	if (!ses)
		return 0;
	for (__u32 cpu = 0; cpu < COLO_CGSTAT_MAX_CPUS; cpu++) {
		struct sched_entity *se = NULL;

		if (cpu >= nr_cpus)
			break;
		if (bpf_probe_read_kernel(&se, sizeof(se), &ses[cpu])) {
			*flags |= COLO_CGSTAT_READ_ERROR;
			break;
		}
		if (se) {
			se = bpf_rdonly_cast(se, bpf_core_type_id_kernel(struct sched_entity));
			sum += se->sum_exec_runtime;
		}
	}
	return sum;
}

SEC("iter/cgroup")
int cgstat_iter(struct bpf_iter__cgroup *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct cgroup *cgrp = ctx->cgroup;
	struct colo_cgstat_record rec = {};
	struct cgroup_subsys_state *css;
	struct task_group *tg;
	int idx;

	if (!cgrp) /* the call after the last cgroup */
		return 0;
	/* list_empty(&cgrp->self.children), without a record for a cgroup that has children. */
	if (leaves_only && (__u64)cgrp->self.children.next != (__u64)&cgrp->self.children)
		return 0;

	rec.id = cgrp->kn->id;
	rec.level = cgrp->level;
	rec.version = COLO_CGSTAT_ABI_VERSION;

	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, cpu_cgrp_id))
		goto out;
	idx = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
	if (idx < 0 || idx >= bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT))
		goto out;
	css = cgrp->subsys[idx];
	if (!css || css->cgroup != cgrp)
		goto out;
	rec.flags |= COLO_CGSTAT_HAS_CPU_CSS;

	/* container_of: the verifier knows only the css type, so cast to the task_group. */
	tg = bpf_rdonly_cast((void *)css - bpf_core_field_offset(struct task_group, css),
			     bpf_core_type_id_kernel(struct task_group));
	if (!tg->parent)
		rec.flags |= COLO_CGSTAT_ROOT_TG;
	else
		rec.usage_ns = group_runtime(tg, &rec.flags);
	if (bpf_core_field_exists(tg->cfs_bandwidth)) {
		rec.nr_periods = tg->cfs_bandwidth.nr_periods;
		rec.nr_throttled = tg->cfs_bandwidth.nr_throttled;
		rec.throttled_ns = tg->cfs_bandwidth.throttled_time;
		/* The group's own CPU limit; RUNTIME_INF (~0) when it has none. */
		__u64 quota = tg->cfs_bandwidth.quota;
		__s64 period = tg->cfs_bandwidth.period;
		if (quota != ~0ULL && period > 0) {
			__u64 m = quota * 1000 / (__u64)period;
			rec.limit_mcpu = m > 0xffffffffULL ? 0xffffffffU : (__u32)m;
		}
	}
out:
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}
