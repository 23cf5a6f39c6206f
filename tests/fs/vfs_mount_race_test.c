/*
 * vfs_mount_race_test.c - suite `vfs`: mounts, unmounts and walks of the
 * mount table that overlap.
 *
 * vfs_mount and vfs_unmount block in the middle (the filesystem starts,
 * syncs, stops), so each takes its decision and marks it in one hold of
 * vfs_token (fs/vfs_mount.c, mnt_state in fs/vfs.h); what a second call
 * sees meanwhile is the contract checked here.  To hold a call in its
 * middle on purpose, the tests mount "ktest-gate": tmpfs with a gate in
 * its mount and its sync.  Armed, the gate stops the next caller, which
 * sets `waiting` and sleeps until the test opens it; so while a thread
 * is stopped there, its mount is claimed but not up, or its unmount
 * claimed but not done, and the test looks around.
 *
 * Then the same without a gate: threads on every CPU mount and unmount
 * one directory as fast as they can, and a walk whose fn sleeps while
 * another thread unmounts the mount it stands on.
 */
#include "vfs_cases.h"
#include <kern/clock.h>
#include <kern/malloc.h>
#include <kern/synch.h>
#include "../../fs/vfs_private.h"

extern const struct vfsops tmpfs_vfsops;
MALLOC_DECLARE(M_TMPFS);

/* ---- the gate --------------------------------------------------------- */

static struct {
	volatile bool armed;		/* the next mount or sync stops */
	volatile bool waiting;		/* one has stopped */
	volatile bool open;		/* ... and may go on */
} gate;

/* Stop the first caller after gate_arm until gate_open; pass others. */
static void gate_pass(void)
{
	if (!__atomic_exchange_n(&gate.armed, false, __ATOMIC_ACQ_REL))
		return;
	gate.waiting = true;
	while (!gate.open)
		tsleep(&gate, 0, "ktgate", 1);
}

/*
 * The gate's filesystem is tmpfs (fs/tmpfs.c) with a stop at two places:
 * in its mount, which vfs_mount calls after it has claimed the directory
 * and before the mount is up; and in its sync, which vfs_unmount calls
 * after it has claimed the mount and before its last step.  Everything
 * else is tmpfs's own, so an unmount frees what the mount made.
 */
static int gate_mount(struct mount *mp, const char *source, unsigned flags)
{
	gate_pass();
	return tmpfs_vfsops.vfs_mount(mp, source, flags);
}

static int gate_sync(struct mount *mp)
{
	gate_pass();
	return tmpfs_vfsops.vfs_sync(mp);
}

static int gate_unmount(struct mount *mp)
{
	return tmpfs_vfsops.vfs_unmount(mp);
}

static int gate_root(struct mount *mp, struct vnode **vpp)
{
	return tmpfs_vfsops.vfs_root(mp, vpp);
}

static int gate_statfs(struct mount *mp, struct vstatfs *st)
{
	return tmpfs_vfsops.vfs_statfs(mp, st);
}

static const struct vfsops gate_vfsops = {
	.name = "ktest-gate", .vfs_mount = gate_mount,
	.vfs_unmount = gate_unmount, .vfs_root = gate_root,
	.vfs_statfs = gate_statfs, .vfs_sync = gate_sync,
};

/* Stop the next mount or sync of a "ktest-gate" filesystem. */
static void gate_arm(void)
{
	gate.open = gate.waiting = false;
	__atomic_store_n(&gate.armed, true, __ATOMIC_RELEASE);
}

/* Until a thread has stopped at the gate. */
static void gate_wait(void)
{
	while (!gate.waiting)
		tsleep(&gate.waiting, 0, "ktgwait", 1);
}

/* Let the stopped thread go on (it polls each tick; the wakeup only
 * saves it the wait). */
static void gate_open(void)
{
	gate.open = true;
	wakeup(&gate);
}

#define GATE_DIR "/ktest-gate"

/* A mount or unmount of GATE_DIR on a thread of its own. */
struct gate_call {
	struct thread *td;
	int error;
};

/* A thread: mount a "ktest-gate" on GATE_DIR; the error in c->error. */
static void gate_mounter(void *arg)
{
	struct gate_call *c = arg;

	c->error = vfs_mount("ktest-gate", NULL, GATE_DIR, 0);
}

/* A thread: unmount GATE_DIR; the error in c->error. */
static void gate_unmounter(void *arg)
{
	struct gate_call *c = arg;

	c->error = vfs_unmount(GATE_DIR);
}

/* Run fn(c) on another CPU (the same one at 1 CPU). */
static int gate_call_start(struct gate_call *c, void (*fn)(void *))
{
	*c = (struct gate_call){ .error = -1 };
	return lwkt_create(fn, c, &c->td, 0, (mycpuid + 1) % ncpus,
			   "ktest-gate-call");
}

/* ---- counting mounts with a walk -------------------------------------- */

/* What count_mounts_at counts: the mounts a walk meets at path. */
struct mounts_at_count {
	const char *path;
	int n;
};

/* vfs_foreach_mount's fn: one more if mp is mounted at c->path. */
static void count_mounts_at(struct mount *mp, void *arg)
{
	struct mounts_at_count *c = arg;

	if (strcmp(mp->mnt_path, c->path) == 0)
		c->n++;
}

/* How many mounts a walk meets at path (mounts in service only). */
static int mounts_at(const char *path)
{
	struct mounts_at_count c = { .path = path };

	vfs_foreach_mount(count_mounts_at, &c);
	return c.n;
}

/*
 * While a mount of a directory is inside its filesystem (claimed, not up
 * yet), a second mount there is EBUSY, so is an unmount of it, a lookup
 * sees the directory under it (it never meets a half-made mount) and a
 * walk does not list it.  Once it is up, everything sees it.
 */
KTEST(vfs, a_directory_being_mounted_takes_no_second_mount)
{
	struct vattr under, va;
	struct gate_call a;

	vfs_register(&gate_vfsops);
	KT_ASSERT_EQ(vfs_mkdir(GATE_DIR, 0755), 0);
	KT_ASSERT_EQ(vfs_stat(GATE_DIR, &under), 0);
	gate_arm();
	KT_ASSERT_EQ(gate_call_start(&a, gate_mounter), 0);
	gate_wait();
	/* a is inside the filesystem's mount: GATE_DIR is claimed. */
	KT_EXPECT_EQ(vfs_mount("tmpfs", NULL, GATE_DIR, 0), EBUSY);
	KT_EXPECT_EQ(vfs_unmount(GATE_DIR), EBUSY);
	KT_EXPECT_EQ(vfs_rmdir(GATE_DIR), EBUSY);	/* it keeps its name */
	KT_EXPECT_EQ(vfs_stat(GATE_DIR, &va), 0);
	KT_EXPECT_EQ(va.va_ino, under.va_ino);
	KT_EXPECT_EQ(mounts_at(GATE_DIR), 0);
	gate_open();
	lwkt_thread_join(a.td);
	/* Up now: listed, and a lookup crosses into its root. */
	KT_EXPECT_EQ(a.error, 0);
	KT_EXPECT_EQ(mounts_at(GATE_DIR), 1);
	KT_EXPECT_EQ(vfs_stat(GATE_DIR, &va), 0);
	KT_EXPECT_NE(va.va_ino, under.va_ino);	/* the new root */
	KT_EXPECT_EQ(vfs_unmount(GATE_DIR), 0);
	KT_EXPECT_EQ(vfs_rmdir(GATE_DIR), 0);
}

/*
 * While an unmount is in its sync (claimed, not done), a second unmount
 * of the same mount is EBUSY, a mount on one of its directories is
 * EBUSY, a walk skips it, and lookups still enter it.  Then the first
 * unmount finishes, and it is gone.
 */
KTEST(vfs, an_unmount_in_progress_refuses_a_second_and_mounts_inside)
{
	struct gate_call a;
	struct vattr va;

	vfs_register(&gate_vfsops);
	KT_ASSERT_EQ(vfs_mkdir(GATE_DIR, 0755), 0);
	KT_ASSERT_EQ(vfs_mount("ktest-gate", NULL, GATE_DIR, 0), 0);
	KT_ASSERT_EQ(vfs_mkdir(GATE_DIR "/sub", 0755), 0);
	gate_arm();
	KT_ASSERT_EQ(gate_call_start(&a, gate_unmounter), 0);
	gate_wait();
	/* a is inside the filesystem's sync: the mount is claimed. */
	KT_EXPECT_EQ(vfs_unmount(GATE_DIR), EBUSY);
	KT_EXPECT_EQ(vfs_mount("tmpfs", NULL, GATE_DIR "/sub", 0), EBUSY);
	KT_EXPECT_EQ(mounts_at(GATE_DIR), 0);
	KT_EXPECT_EQ(vfs_stat(GATE_DIR "/sub", &va), 0);
	gate_open();
	lwkt_thread_join(a.td);
	/* Done: the refused calls above did not keep it, and it is gone. */
	KT_EXPECT_EQ(a.error, 0);
	KT_EXPECT_EQ(vfs_stat(GATE_DIR "/sub", &va), ENOENT);
	KT_EXPECT_EQ(vfs_unmount(GATE_DIR), EINVAL);
	KT_EXPECT_EQ(vfs_rmdir(GATE_DIR), 0);
}

/*
 * The other side of the rmdir rule: while an rmdir holds its claim on a
 * directory (between its check and the removal), a mount there is EBUSY,
 * so a mount never lands on a directory that then loses its name.  Once
 * the claim ends the mount goes through, and the mounted directory then
 * refuses rmdir's claim.
 */
KTEST(vfs, a_directory_being_removed_takes_no_mount)
{
	struct vnode *vp;

	KT_ASSERT_EQ(vfs_mkdir(GATE_DIR, 0755), 0);
	KT_ASSERT_EQ(vfs_namei(GATE_DIR, false, &vp), 0);
	KT_ASSERT_EQ(vfs_rmdir_claim(vp), 0);
	KT_EXPECT_EQ(vfs_rmdir_claim(vp), EBUSY);	/* one rmdir at once */
	KT_EXPECT_EQ(vfs_mount("tmpfs", NULL, GATE_DIR, 0), EBUSY);
	KT_EXPECT_EQ(mounts_at(GATE_DIR), 0);
	vfs_rmdir_claim_end(vp);
	KT_EXPECT_EQ(vfs_mount("tmpfs", NULL, GATE_DIR, 0), 0);
	KT_EXPECT_EQ(vfs_rmdir_claim(vp), EBUSY);	/* a mount is on it */
	KT_EXPECT_EQ(vfs_rmdir(GATE_DIR), EBUSY);
	vrele(vp);
	KT_EXPECT_EQ(vfs_unmount(GATE_DIR), 0);
	KT_EXPECT_EQ(vfs_rmdir(GATE_DIR), 0);
}

/* ---- mounts and unmounts from every CPU -------------------------------- */

#define RACE_DIR	"/ktest-race"
#define RACE_ROUNDS	100

struct racer {
	struct thread *td;
	int mounted, unmounted;		/* calls that returned 0 */
	int unexpected;			/* any other error than documented */
	int most_seen;			/* most mounts a walk met at RACE_DIR */
};

/* Mount, count, unmount, RACE_ROUNDS times; each call may lose. */
static void racer_main(void *arg)
{
	struct racer *r = arg;
	int error, n;

	for (int i = 0; i < RACE_ROUNDS; i++) {
		error = vfs_mount("tmpfs", NULL, RACE_DIR, 0);
		if (error == 0)
			r->mounted++;
		else if (error != EBUSY)
			r->unexpected++;
		if ((n = mounts_at(RACE_DIR)) > r->most_seen)
			r->most_seen = n;
		error = vfs_unmount(RACE_DIR);
		if (error == 0)
			r->unmounted++;
		else if (error != EBUSY && error != EINVAL)
			r->unexpected++;
	}
}

/* What a mount left behind would show up in, after a drain. */
struct race_sample {
	uint64_t mounts, vnodes;
	int64_t vfs_allocs, tmpfs_allocs;
};

/* Sample after giving every cache back (vfs_drain), so that only what
 * is still in use counts: a mount left behind, a vnode of it, its
 * filesystem's memory. */
static void race_sample(struct race_sample *s)
{
	struct vfs_stats st;

	vfs_drain();
	vfs_get_stats(&st);
	s->mounts = st.mounts;
	s->vnodes = st.vnodes;
	s->vfs_allocs = malloc_type_count(M_VFS);
	s->tmpfs_allocs = malloc_type_count(M_TMPFS);
}

/*
 * Two threads per CPU mount tmpfs on one directory and unmount it, over
 * and over.  A walk never meets two mounts there, every call returns 0
 * or a documented error (mount: EBUSY; unmount: EBUSY, EINVAL), each
 * successful mount is undone by exactly one successful unmount, and
 * nothing is left: no mount, no vnode, no VFS or tmpfs allocation.
 */
KTEST(vfs, mounts_and_unmounts_of_one_directory_from_every_cpu)
{
	static struct racer r[2 * MAXCPU];
	struct race_sample before, after;
	int n = 2 * ncpus, mounted = 0, unmounted = 0;

	KT_ASSERT_EQ(vfs_mkdir(RACE_DIR, 0755), 0);
	race_sample(&before);
	for (int i = 0; i < n; i++) {
		r[i] = (struct racer){ 0 };
		KT_ASSERT_EQ(lwkt_create(racer_main, &r[i], &r[i].td, 0,
					 i % ncpus, "ktest-racer %d", i), 0);
	}
	/* Each racer: only documented errors, and never two mounts seen. */
	for (int i = 0; i < n; i++) {
		lwkt_thread_join(r[i].td);
		KT_EXPECT_EQ(r[i].unexpected, 0);
		KT_EXPECT_LE(r[i].most_seen, 1);
		mounted += r[i].mounted;
		unmounted += r[i].unmounted;
	}
	/* The last round's mount may have stayed, if its unmount lost to
	 * another thread's mount: one unmount now, then nothing is left. */
	if (vfs_unmount(RACE_DIR) == 0)
		unmounted++;
	kprintf("# %d threads: %d mounts, %d unmounts\n", n, mounted,
		unmounted);
	KT_EXPECT_GT(mounted, 0);
	KT_EXPECT_EQ(unmounted, mounted);
	KT_EXPECT_EQ(vfs_unmount(RACE_DIR), EINVAL);
	/* Nothing left behind by any mount, won or lost. */
	race_sample(&after);
	KT_EXPECT_EQ(after.mounts, before.mounts);
	KT_EXPECT_EQ(after.vnodes, before.vnodes);
	KT_EXPECT_EQ(after.vfs_allocs, before.vfs_allocs);
	KT_EXPECT_EQ(after.tmpfs_allocs, before.tmpfs_allocs);
	KT_EXPECT_EQ(vfs_rmdir(RACE_DIR), 0);
}

/* ---- an unmount under a walk -------------------------------------------- */

#define WALK_DIR	"/ktest-walk"
#define WALK_NEXT	"/ktest-walk-next"
#define WALK_TICKS	20

static struct {
	volatile bool standing;		/* fn is on WALK_DIR's mount */
	volatile bool unmounted;	/* the unmount has returned */
	int unmount_error;
	bool unmounted_under_fn;	/* ... before fn left the mount */
	bool mount_changed;		/* fn's mount was not itself after */
	int next_visits;		/* the walk met WALK_NEXT after */
} wk;

/* On WALK_DIR's mount: let the unmounter start, sleep a tick at a time
 * (WALK_TICKS, or until the unmount returns), then look at the mount. */
static void walk_fn(struct mount *mp, void *arg)
{
	if (strcmp(mp->mnt_path, WALK_NEXT) == 0)
		wk.next_visits++;
	if (strcmp(mp->mnt_path, WALK_DIR) != 0)
		return;
	wk.standing = true;
	for (int t = 0; t < WALK_TICKS && !wk.unmounted; t++)
		tsleep(&wk, 0, "ktwalk", 1);
	wk.unmounted_under_fn = wk.unmounted;
	wk.mount_changed = strcmp(mp->mnt_path, WALK_DIR) != 0 ||
			   mp->mnt_root == NULL || mp->mnt_root->v_mount != mp;
}

/* The walk: one pass of vfs_foreach_mount, on the test's own CPU. */
static void walker_main(void *arg)
{
	vfs_foreach_mount(walk_fn, NULL);
}

/* Once the walk stands on WALK_DIR's mount, unmount it; note when the
 * unmount has returned, for walk_fn to see. */
static void walk_unmounter_main(void *arg)
{
	while (!wk.standing)
		tsleep(&wk.standing, 0, "ktwait", 1);
	wk.unmount_error = vfs_unmount(WALK_DIR);
	wk.unmounted = true;
}

/*
 * A walk's fn sleeps on a mount while another thread unmounts it: the
 * unmount waits until fn has returned and the walk has moved on (the
 * contract of vfs_foreach_mount), then succeeds; fn finds its mount
 * whole after every sleep, and the walk goes on to the next mount.
 */
KTEST(vfs, an_unmount_waits_for_a_walk_standing_on_its_mount)
{
	struct thread *walker, *unmounter;
	struct vattr under, va;

	wk = (typeof(wk)){ 0 };
	KT_ASSERT_EQ(vfs_mkdir(WALK_DIR, 0755), 0);
	KT_ASSERT_EQ(vfs_mkdir(WALK_NEXT, 0755), 0);
	KT_ASSERT_EQ(vfs_stat(WALK_DIR, &under), 0);
	KT_ASSERT_EQ(vfs_mount("tmpfs", NULL, WALK_DIR, 0), 0);
	KT_ASSERT_EQ(vfs_mount("tmpfs", NULL, WALK_NEXT, 0), 0);
	KT_ASSERT_EQ(lwkt_create(walker_main, NULL, &walker, 0, mycpuid,
				 "ktest-walker"), 0);
	KT_ASSERT_EQ(lwkt_create(walk_unmounter_main, NULL, &unmounter, 0,
				 (mycpuid + 1) % ncpus, "ktest-unmounter"), 0);
	lwkt_thread_join(walker);
	lwkt_thread_join(unmounter);
	/* The unmount succeeded, but only after fn had left the mount. */
	KT_EXPECT_EQ(wk.unmount_error, 0);
	KT_EXPECT_FALSE(wk.unmounted_under_fn);
	KT_EXPECT_FALSE(wk.mount_changed);
	KT_EXPECT_EQ(wk.next_visits, 1);
	/* WALK_DIR is the bare directory again. */
	KT_EXPECT_EQ(vfs_stat(WALK_DIR, &va), 0);
	KT_EXPECT_EQ(va.va_ino, under.va_ino);
	KT_EXPECT_EQ(vfs_unmount(WALK_NEXT), 0);
	KT_EXPECT_EQ(vfs_rmdir(WALK_NEXT), 0);
	KT_EXPECT_EQ(vfs_rmdir(WALK_DIR), 0);
}
