/*
 * Swap page I/O (swap.h): the kernel's swap_writepage()/swap_read_folio()
 * over an O_DIRECT file. The caller hands slots and pages; runs of
 * consecutive slots become one pwritev()/preadv() (the kernel's bio
 * plugging: one request per run), so a stream's cluster goes out, and a
 * readahead window comes back, in one call. No lock is held.
 */
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmm/swap_internal.h"

void swap_inject_errors(struct swap_device *sd, enum swap_dir dir, unsigned every_nth, int err)
{
	atomic_store(&sd->inject_err[dir], err > 0 ? err : EIO);
	atomic_store(&sd->inject_calls[dir], 0);
	atomic_store(&sd->inject_every[dir], every_nth);
}

/* 0, or the -errno this call is to fail with. */
static int injected_error(struct swap_device *sd, enum swap_dir dir)
{
	unsigned every = atomic_load_explicit(&sd->inject_every[dir], memory_order_relaxed);

	if (!every || (atomic_fetch_add(&sd->inject_calls[dir], 1) + 1) % every)
		return 0;
	swap_count_event(sd, SWAP_INJECTED_ERRORS, 1);
	return -atomic_load(&sd->inject_err[dir]);
}

/* One call's worth: n pages to the consecutive slots from slot. Returns
 * the pages done; *err is the -errno of the first page not done. A short
 * transfer is continued; one that moves less than a page is an error. */
static unsigned run_io(struct swap_device *sd, enum swap_dir dir, uint64_t slot, void *const *pages,
		       unsigned n, int *err)
{
	struct iovec iov[SWAP_CLUSTER_SLOTS];
	unsigned done = 0;

	*err = 0;
	for (unsigned i = 0; i < n; i++)
		iov[i] = (struct iovec){ pages[i], SWAP_PAGE_BYTES };
	while (done < n) {
		off_t off = (off_t)((slot + done) * SWAP_PAGE_BYTES);
		int inj = injected_error(sd, dir);
		ssize_t r;

		swap_count_event(sd, dir == SWAP_WRITE ? SWAP_WRITE_CALLS : SWAP_READ_CALLS, 1);
		if (inj) {
			*err = inj;
			break;
		}
		r = dir == SWAP_WRITE ? pwritev(sd->fd, iov + done, (int)(n - done), off) :
			preadv(sd->fd, iov + done, (int)(n - done), off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = -errno;
			break;
		}
		if ((size_t)r < SWAP_PAGE_BYTES) {   /* EOF, or no progress */
			*err = -EIO;
			break;
		}
		done += (unsigned)((size_t)r / SWAP_PAGE_BYTES);
	}
	return done;
}

/* A page I/O may take: an allocated slot and a 4 KiB-aligned buffer. */
static bool page_ok(const struct swap_device *sd, uint64_t slot, const void *page)
{
	return swap_slot_in_use(sd, slot) && page && !((uintptr_t)page % SWAP_PAGE_BYTES);
}

/* Account one run: done pages moved, the rest failed with err. */
static void run_account(struct swap_device *sd, enum swap_dir dir, unsigned len, unsigned done, int err,
			int *status)
{
	bool w = dir == SWAP_WRITE;

	swap_count_event(sd, w ? SWAP_WRITES : SWAP_READS, done);
	swap_count_event(sd, w ? SWAP_BYTES_WRITTEN : SWAP_BYTES_READ, done * SWAP_PAGE_BYTES);
	swap_count_event(sd, w ? SWAP_WRITE_ERRORS : SWAP_READ_ERRORS, len - done);
	if (status)
		for (unsigned j = 0; j < len; j++)
			status[j] = j < done ? 0 : err;
}

static unsigned swap_io(struct swap_device *sd, enum swap_dir dir, const uint64_t *slots, void *const *pages,
			unsigned n, int *status)
{
	unsigned moved = 0, i = 0;

	while (i < n) {
		unsigned len = 1, done;
		int err;

		if (!page_ok(sd, slots[i], pages[i])) {
			if (!swap_slot_in_use(sd, slots[i]))
				swap_count_event(sd, SWAP_BAD_SLOTS, 1);
			run_account(sd, dir, 1, 0, -EINVAL, status ? status + i : NULL);
			i++;
			continue;
		}
		while (i + len < n && len < SWAP_CLUSTER_SLOTS && slots[i + len] == slots[i] + len &&
		       page_ok(sd, slots[i + len], pages[i + len]))
			len++;
		done = run_io(sd, dir, slots[i], pages + i, len, &err);
		run_account(sd, dir, len, done, err, status ? status + i : NULL);
		moved += done;
		i += len;
	}
	return moved;
}

unsigned swap_write_pages(struct swap_device *sd, const uint64_t *slots, void *const *pages, unsigned n,
			  int *status)
{
	return swap_io(sd, SWAP_WRITE, slots, pages, n, status);
}

unsigned swap_read_pages(struct swap_device *sd, const uint64_t *slots, void *const *pages, unsigned n,
			 int *status)
{
	return swap_io(sd, SWAP_READ, slots, pages, n, status);
}

int swap_read_page(struct swap_device *sd, uint64_t slot, void *page)
{
	int status;

	return swap_read_pages(sd, &slot, &page, 1, &status) ? 0 : status;
}
