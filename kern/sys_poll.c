/*
 * sys_poll.c - poll and ppoll: wait until one of several descriptors is
 * ready, a timeout passes or a signal comes.
 *
 * Each kind of file says what holds for it right now (ufileops.poll,
 * never blocking; no poll operation: a file on disk, always ready).  A
 * poll looks at every descriptor; if none is ready it sleeps on one
 * channel shared by all pollers, and looks again when woken:
 *
 *   poll -> look at each fd --ready?--> return the count
 *               ^                |no
 *               |   tsleep(&poll_chan, PCATCH, 1 tick at most)
 *               +--- ufile_poll_wakeup() (a pipe changed), the tick, or
 *                    a signal (EINTR)
 *
 * The sleep is at most a tick, so a change that calls no wakeup -- a
 * byte arriving at the console, whose UART is read by polling too -- or
 * a wakeup that slipped in between the look and the sleep is seen a tick
 * later at worst.  Pipes call ufile_poll_wakeup on every change, so a
 * pipeline does not wait for the tick.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/kernel.h>
#include <kern/malloc.h>
#include <kern/proc.h>
#include <kern/signal.h>
#include <kern/synch.h>
#include <kern/syscall.h>

MALLOC_DEFINE(M_POLL, "poll", "poll descriptor arrays");

#define POLL_MAX	1024		/* descriptors in one call */
#define NS_PER_SEC	1000000000UL
#define POLL_FOREVER	(~0ULL)

struct l_pollfd {			/* Linux struct pollfd */
	int32_t fd;
	int16_t events;
	int16_t revents;
};

/* One channel for every poller: a change anywhere wakes them all, and
 * each looks at its own descriptors again.  Few programs poll at once
 * here, so the simple broadcast costs less than per-file wait lists. */
static int poll_chan;			/* pollers sleep here */
static int pollers;			/* threads inside poll: atomic */

void ufile_poll_wakeup(void)
{
	if (__atomic_load_n(&pollers, __ATOMIC_SEQ_CST) != 0)
		wakeup(&poll_chan);
}

/* What of pfd->events (plus the errors, always reported) holds now.  A
 * negative fd is skipped (0); one that is not open is POLLNVAL. */
static int16_t poll_one(const struct l_pollfd *pfd)
{
	struct ufile *f;
	int ev;

	if (pfd->fd < 0)
		return 0;
	f = fd_get(pfd->fd);
	if (f == NULL)
		return POLLNVAL;
	ev = f->f_ops->poll != NULL
		     ? f->f_ops->poll(f)
		     : POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
	return (int16_t)(ev & (pfd->events | POLLERR | POLLHUP));
}

/* Fill in every revents; the number of descriptors with one. */
static int poll_scan(struct l_pollfd *fds, size_t nfds)
{
	int ready = 0;

	for (size_t i = 0; i < nfds; i++) {
		fds[i].revents = poll_one(&fds[i]);
		if (fds[i].revents != 0)
			ready++;
	}
	return ready;
}

/* Look until something is ready, timeout_ns passes (POLL_FOREVER: no
 * limit) or a signal comes (-EINTR).  Returns the ready count. */
static int poll_wait(struct l_pollfd *fds, size_t nfds, uint64_t timeout_ns)
{
	uint64_t start = clock_monotonic_ns();
	int ready;

	__atomic_add_fetch(&pollers, 1, __ATOMIC_SEQ_CST);
	while ((ready = poll_scan(fds, nfds)) == 0) {
		uint64_t waited = clock_monotonic_ns() - start;

		if (timeout_ns != POLL_FOREVER && waited >= timeout_ns)
			break;
		if (tsleep(&poll_chan, PCATCH, "poll", 1) == EINTR) {
			ready = -EINTR;
			break;
		}
	}
	__atomic_sub_fetch(&pollers, 1, __ATOMIC_SEQ_CST);
	return ready;
}

/* The common part: copy in, wait, copy the revents out.  EINVAL for
 * more than POLL_MAX descriptors, EFAULT for a bad array; nothing is
 * written back when a signal ended the wait. */
static int64_t do_poll(void *ufds, uint64_t nfds, uint64_t timeout_ns)
{
	struct l_pollfd *fds;
	size_t size = nfds * sizeof(*fds);
	int64_t ready;
	int error;

	if (nfds > POLL_MAX)
		return -EINVAL;
	fds = kmalloc(MAX(size, 1), M_POLL, M_WAITOK);
	error = copyin(ufds, fds, size);
	if (error) {
		kfree(fds, M_POLL);
		return -error;
	}
	ready = poll_wait(fds, nfds, timeout_ns);
	if (ready >= 0)
		error = copyout(fds, ufds, size);
	kfree(fds, M_POLL);
	return error ? -error : ready;
}

/* poll(fds, nfds, timeout_ms): a negative timeout waits for ever. */
int64_t sys_poll(struct trapframe *tf, const uint64_t *a)
{
	int ms = (int)a[2];

	return do_poll((void *)a[0], a[1],
		       ms < 0 ? POLL_FOREVER : (uint64_t)ms * 1000000UL);
}

/*
 * ppoll(fds, nfds, timeout, sigmask, sigsetsize): a timespec timeout
 * (NULL: for ever), and a signal mask in force while it waits.
 */
int64_t sys_ppoll(struct trapframe *tf, const uint64_t *a)
{
	uint64_t ts[2], timeout = POLL_FOREVER, mask;
	int64_t rv;
	int error;

	if (a[2] != 0) {
		error = copyin((void *)a[2], ts, sizeof(ts));
		if (error)
			return -error;
		if ((int64_t)ts[0] < 0 || ts[1] >= NS_PER_SEC)
			return -EINVAL;
		timeout = MIN(ts[0], 1UL << 33) * NS_PER_SEC + ts[1];
	}
	if (a[3] != 0) {
		if (a[4] != sizeof(mask))
			return -EINVAL;
		error = copyin((void *)a[3], &mask, sizeof(mask));
		if (error)
			return -error;
		sig_mask_during(mask);
	}
	rv = do_poll((void *)a[0], a[1], timeout);
	if (rv != -EINTR)
		sig_mask_restore();	/* else the signal's delivery does */
	return rv;
}
