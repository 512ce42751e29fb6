/* A guest's fault thread, prefault, and the stage-2 checks; see stage2.h. */
#include "vmm/stage2.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guestmm/pool.h"
#include "vmm/clock.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/log.h"
#include "vmm/stage2_internal.h"

#define FAULT_BATCH 32

static void latency_record(struct stage2 *s2, uint64_t ns)
{
	uint64_t us = ns / 1000;
	int b = 0;

	while (us && b < STAGE2_LAT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	atomic_fetch_add_explicit(&s2->lat_hist[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s2->lat_sum_ns, ns, memory_order_relaxed);
}

double stage2_latency_quantile_us(struct stage2 *s2, double q)
{
	uint64_t total = 0, seen = 0, h[STAGE2_LAT_BUCKETS];

	for (int b = 0; b < STAGE2_LAT_BUCKETS; b++)
		total += h[b] = atomic_load_explicit(&s2->lat_hist[b], memory_order_relaxed);
	if (!total)
		return 0;
	for (int b = 0; b < STAGE2_LAT_BUCKETS; b++) {
		seen += h[b];
		if (seen >= q * (double)total)
			return (double)(1ULL << b); /* bucket b holds [2^(b-1), 2^b) us */
	}
	return (double)(1ULL << (STAGE2_LAT_BUCKETS - 1));
}

/* One read() of up to FAULT_BATCH messages; each page fault served in
 * turn. Other events (fork, remap, ...) are not requested. */
static void serve_faults(struct stage2 *s2)
{
	struct uffd_msg msgs[FAULT_BATCH];
	ssize_t n = read(s2->uffd, msgs, sizeof(msgs));

	for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
		struct uffd_msg *m = &msgs[i];
		uint64_t t0 = mono_ns(), gpa;

		if (m->event != UFFD_EVENT_PAGEFAULT)
			continue;
		gpa = m->arg.pagefault.address - (uint64_t)s2->mem->window;
		/* whose fault (UFFD_FEATURE_THREAD_ID): a vCPU's is local to its node */
		s2->fault_local = s2->hp->mm->nr_nodes > 1 ? stage2_tid_node(s2, (int)m->arg.pagefault.feat.ptid) : 0;
		if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR) {
			stage2_hint_fault(s2, gpa, m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE);
			continue;
		}
		stage2_fault(s2, gpa, m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE);
		latency_record(s2, mono_ns() - t0);
	}
}

/* Faults other threads handed over (stage2_sigbus()): gpas, 8 bytes each;
 * the same page may come several times (each retry sends it again), and
 * a fault on a page mapped meanwhile only wakes. */
static void serve_forwarded(struct stage2 *s2)
{
	uint64_t gpas[FAULT_BATCH];
	ssize_t n = read(s2->fwd_fd[0], gpas, sizeof(gpas));

	for (ssize_t i = 0; i < n / (ssize_t)sizeof(gpas[0]); i++) {
		uint64_t t0 = mono_ns();

		s2->fault_local = 0;
		stage2_hint_fault(s2, gpas[i], true);
		latency_record(s2, mono_ns() - t0);
	}
}

/* How long a thread whose fault was forwarded waits before its access is
 * retried (a served fault takes 20-100 us; a retry that comes too early
 * only forwards again). */
#define FORWARD_WAIT_NS 20000

bool stage2_sigbus(uint64_t hva, bool is_write, const struct guest_mem *own)
{
	struct guest_mem *mem = guest_mem_lookup_hva(hva);
	struct stage2 *s2 = mem ? mem->s2 : NULL;
	uint64_t gpa, t0;

	if (!s2 || !s2->self_served || hva - (uint64_t)mem->window >= mem->span_bytes)
		return false;
	gpa = (hva - (uint64_t)mem->window) & ~(uint64_t)(GMM_FRAME_SIZE - 1);
	if (!guest_mem_is_ram(mem, gpa))
		return false;
	if (own != mem) {
		struct timespec ts = { 0, FORWARD_WAIT_NS };

		s2_count(s2, S2_FAULT_FORWARDED, 1);
		/* a full pipe holds requests enough: the retry sends again */
		if (write(s2->fwd_fd[1], &gpa, sizeof(gpa)) < 0 && errno != EAGAIN)
			return false;
		nanosleep(&ts, NULL);
		return true;
	}
	t0 = mono_ns();
	s2->fault_local = 0;
	s2_count(s2, S2_FAULT_SELF, 1);
	/* a missing page or a hinting (minor) fault: the hint fault sorts
	 * them by the EPT, as the fault thread does */
	stage2_hint_fault(s2, gpa, is_write);
	latency_record(s2, mono_ns() - t0);
	return true;
}

static void *fault_thread(void *arg)
{
	struct stage2 *s2 = arg;
	struct pollfd pfd[3] = { { s2->uffd, POLLIN, 0 }, { s2->stop_fd, POLLIN, 0 }, { s2->fwd_fd[0], POLLIN, 0 } };

	for (;;) {
		if (poll(pfd, s2->fwd_fd[0] >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("%s: fault thread: poll: %s", s2->cfg.name, strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & POLLIN)
			serve_faults(s2);
		if (s2->fwd_fd[0] >= 0 && (pfd[2].revents & POLLIN))
			serve_forwarded(s2);
	}
	return NULL;
}

/* -mem-prealloc: map every RAM block now, in fault-around blocks (or 2 MiB
 * frames), through the fault path itself. */
static void prefault_all(struct stage2 *s2)
{
	uint64_t step = (uint64_t)s2->cfg.fault_around_pages << 12;

	if (s2->cfg.hugetlb) /* one fault maps a whole hugetlb page */
		step = 1ULL << (s2->cfg.hugetlb->order + GMM_FRAME_SHIFT);

	for (int i = 0; i < s2->mem->nr_slots && !s2->dead; i++) {
		const struct guest_mem_slot *sl = &s2->mem->slots[i];

		for (uint64_t off = 0; off < sl->bytes && !s2->dead; off += step) {
			uint64_t before = atomic_load(&s2->resident_frames);

			stage2_fault(s2, sl->gpa + off, true);
			atomic_fetch_add_explicit(&s2->stat[S2_PREFAULT_PAGES],
						  atomic_load(&s2->resident_frames) - before, memory_order_relaxed);
		}
	}
}

int stage2_start(struct stage2 *s2)
{
	char name[16];

	if (pthread_create(&s2->thread, NULL, fault_thread, s2))
		return -EAGAIN;
	snprintf(name, sizeof(name), "f-%.13s", s2->cfg.name);
	pthread_setname_np(s2->thread, name);
	s2->thread_started = true;
	if (s2->cfg.prefault)
		prefault_all(s2);
	host_pool_set_owner(s2->hp, s2->cfg.owner, s2); /* compaction may move its frames */
	return 0;
}

void stage2_stop(struct stage2 *s2)
{
	uint64_t one = 1;

	/* compaction no longer finds it (waits for a move in progress) */
	host_pool_set_owner(s2->hp, s2->cfg.owner, NULL);
	/* from here on nobody maps into the window: khugepaged and unmap
	 * callers see stopping under the lock (the window goes next) */
	pthread_mutex_lock(&s2->lock);
	s2->stopping = true;
	while (s2->arms_in_flight) /* zaps of the window, running unlocked */
		pthread_cond_wait(&s2->io_done, &s2->lock);
	pthread_mutex_unlock(&s2->lock);
	if (!s2->thread_started)
		return;
	if (write(s2->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_error("%s: stopping the fault thread: %s", s2->cfg.name, strerror(errno));
	pthread_join(s2->thread, NULL);
	s2->thread_started = false;
}

struct check_ctx {
	struct stage2 *s2;
	FILE *f;
	int problems;
	uint64_t frames;
	uint64_t hugetlb_frames;      /* never on an LRU list: hugetlb and unevictable */
	uint64_t kept;                /* resident pages with a kept swap slot */
};

static void problem(struct check_ctx *c, const char *fmt, unsigned long long a, unsigned long long b)
{
	c->problems++;
	if (c->f) {
		fprintf(c->f, "%s: stage2: ", c->s2->cfg.name);
		fprintf(c->f, fmt, a, b);
		fputc('\n', c->f);
	}
}

static int check_leaf(gfn_t gfn, uint64_t entry, unsigned order, void *arg)
{
	struct check_ctx *c = arg;
	struct host_pool *hp = c->s2->hp;
	pfn_t pfn = ept_entry_pfn(entry);
	struct hugetlb_region *r;
	struct gmm_frame *f;

	if (!ept_entry_present(entry))
		return 0;
	if (!host_pool_pfn_valid(hp, pfn)) {
		problem(c, "gfn %#llx maps pfn %#llx outside the pool", gfn, pfn);
		return 0;
	}
	/* a hugetlb guest maps its own region's pages only, everyone else
	 * never a hugetlb page */
	r = host_pool_hugetlb(hp, pfn);
	if (r != c->s2->cfg.hugetlb)
		problem(c, "gfn %#llx maps pfn %#llx: a hugetlb page in a guest without (or a normal frame in one with)",
			gfn, pfn);
	f = host_pool_frame(hp, pfn);
	c->frames += 1ULL << order;
	if (r || frame_test_unevictable(f))
		c->hugetlb_frames += 1ULL << order;
	else if (!frame_test_lru(f) && !frame_test_locked(f))
		problem(c, "gfn %#llx: frame %#llx is on no LRU list", gfn, pfn);
	if (f->owner != c->s2->cfg.owner || f->gfn != gfn)
		problem(c, "gfn %#llx: its frame's reverse map says gfn %#llx (or another owner)", gfn,
			f->gfn);
	if (frame_ref_count(f) < 1 || atomic_load(&f->mapcount) != 1)
		problem(c, "gfn %#llx: frame %#llx is not allocated and mapped once", gfn, pfn);
	if (order && f->order != order)
		problem(c, "gfn %#llx: 2 MiB leaf over a frame of order %llu", gfn, f->order);
	if (swap_kept(c->s2, gfn)) {
		c->kept++;
		if (swap_count(stage2_swap_device(c->s2->cfg.swap), swap_kept(c->s2, gfn)) <= 0)
			problem(c, "gfn %#llx kept swap slot %#llx, which is free", gfn, swap_kept(c->s2, gfn));
	}
	return 0;
}

int stage2_check(struct stage2 *s2, FILE *f)
{
	struct check_ctx c = { .s2 = s2, .f = f };
	uint64_t resident, tables, lru;

	pthread_mutex_lock(&s2->lock);
	if (!s2->ept) { /* released: nothing left to disagree */
		pthread_mutex_unlock(&s2->lock);
		return 0;
	}
	ept_walk(s2->ept, 0, EPT_GFN_LIMIT, check_leaf, &c);
	resident = atomic_load(&s2->resident_frames);
	tables = atomic_load(&s2->table_frames);
	if (c.frames != resident)
		problem(&c, "the EPT maps %llu frames, resident_frames says %llu", c.frames, resident);
	if (tables != ept_stat(s2->ept, EPT_TABLE_PAGES))
		problem(&c, "table frames %llu, the EPT counts %llu", tables, ept_stat(s2->ept, EPT_TABLE_PAGES));
	lru = gmm_lru_pages(&s2->lru, LRU_INACTIVE_ANON) + gmm_lru_pages(&s2->lru, LRU_ACTIVE_ANON);
	if (lru + c.hugetlb_frames != resident)
		problem(&c, "the LRU lists hold %llu pages, resident_frames says %llu (hugetlb and unevictable aside)",
			lru, resident - c.hugetlb_frames);
	if (c.kept != atomic_load(&s2->kept_pages))
		problem(&c, "%llu resident pages kept a swap slot, kept_pages says %llu", c.kept,
			atomic_load(&s2->kept_pages));
	c.problems += gmm_lru_check(s2->hp->mm, &s2->lru, f);
	c.problems += ept_check(s2->ept, f);
	pthread_mutex_unlock(&s2->lock);
	return c.problems;
}

int stage2_translate(struct stage2 *s2, uint64_t gpa, uint64_t *entry, unsigned *order)
{
	int ret;

	if (!guest_mem_is_ram(s2->mem, gpa))
		return -EINVAL;
	pthread_mutex_lock(&s2->lock);
	ret = s2->ept ? ept_lookup(s2->ept, gpa >> GMM_FRAME_SHIFT, entry, order) : -ENODEV;
	pthread_mutex_unlock(&s2->lock);
	return ret;
}
