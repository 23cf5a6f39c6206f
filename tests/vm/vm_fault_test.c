/*
 * vm_fault_test.c - which faults take the object token (vm/vm_fault.c,
 * "Locking"; docs/vm.md section 2), in suite `user` (group `user`, which
 * boots at 1 and 2 CPUs; this test needs two).
 *
 * An anonymous object that only its map entry references is faulted
 * under the map's token alone; an object another entry shares needs
 * vm_object_token too.  The test holds vm_object_token on CPU 0, in a
 * critical section so that nothing switches it out (which would let the
 * token go), while a helper thread on CPU 1 faults:
 *
 *   a private page   the helper must finish with no collision on the
 *                    token (it never asked for it);
 *   a shared page    the helper must collide -- wait for the token --
 *                    and not finish until CPU 0 lets it go.
 *
 * Each wait ends on one of the two events (the helper done, or the
 * token's collision count moving), so nothing here is timed.
 */
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/thread.h>
#include <machine/cpufunc.h>
#include <vm/vm_map.h>

#define PRIV_VA	 0x50000000UL
#define SHARE_VA 0x50100000UL
#define NPAGES	 4

struct faulter {
	struct vmspace *vm;
	volatile vm_offset_t va;	/* test: fault here (0: leave) */
	volatile int done;		/* helper: faults finished */
	volatile int result;		/* helper: the last vm_fault's */
};

/* The helper on CPU 1: write-fault at each va it is given. */
static void faulter_thread(void *arg)
{
	struct faulter *f = arg;

	for (int n = 1;; n++) {
		vm_offset_t va;

		while ((va = f->va) == (vm_offset_t)-1 || f->done >= n)
			cpu_pause();
		if (va == 0)
			return;
		f->result = vm_fault(&f->vm->vm_map, va, VM_PROT_WRITE);
		f->va = (vm_offset_t)-1;
		f->done = n;
	}
}

/* Ask the helper to fault at va while CPU 0 holds vm_object_token; spin
 * until it finishes or collides on the token.  Returns whether it
 * collided; *done says whether it had finished at that moment. */
static bool fault_under_object_token(struct faulter *f, vm_offset_t va,
				     int n, bool *done)
{
	uint64_t c0;
	bool collided;

	lwkt_gettoken(&vm_object_token);
	crit_enter();
	c0 = vm_object_token.t_collisions;
	f->va = va;
	while (f->done < n && vm_object_token.t_collisions == c0)
		cpu_pause();
	collided = vm_object_token.t_collisions != c0;
	*done = f->done >= n;
	crit_exit();
	lwkt_reltoken(&vm_object_token);
	while (f->done < n)
		lwkt_yield();
	return collided;
}

KTEST(user, a_shared_object_faults_under_the_object_token_a_private_one_without)
{
	struct faulter *f;
	struct thread *td;
	vm_object_t shared;
	bool done;

	if (ncpus < 2)
		KT_SKIP("needs a second CPU (group user at 2 CPUs)");
	f = kmalloc(sizeof(*f), M_TEMP, M_WAITOK | M_ZERO);
	f->vm = vmspace_alloc();
	f->va = (vm_offset_t)-1;
	KT_ASSERT_EQ(vm_map_insert(&f->vm->vm_map, NULL, 0, PRIV_VA,
				   NPAGES * PAGE_SIZE, VM_PROT_READ |
				   VM_PROT_WRITE, VM_PROT_ALL,
				   VM_INHERIT_COPY, 0), 0);
	/* A second reference, as a MAP_SHARED sharer's entry would hold. */
	shared = vm_object_allocate(NPAGES);
	vm_object_reference(shared);
	KT_ASSERT_EQ(vm_map_insert(&f->vm->vm_map, shared, 0, SHARE_VA,
				   NPAGES * PAGE_SIZE, VM_PROT_READ |
				   VM_PROT_WRITE, VM_PROT_ALL,
				   VM_INHERIT_SHARE, 0), 0);
	KT_ASSERT_EQ(lwkt_create(faulter_thread, f, &td, 0, 1, "vmfaulter"),
		     0);
	/* The private entry's first fault makes its object (and counts it
	 * under the token); the second finds it private. */
	f->va = PRIV_VA;
	while (f->done < 1)
		lwkt_yield();
	KT_EXPECT_FALSE(fault_under_object_token(f, PRIV_VA + PAGE_SIZE, 2,
						 &done));
	KT_EXPECT_TRUE(done);
	KT_EXPECT_EQ(f->result, KERN_SUCCESS);
	KT_EXPECT_TRUE(fault_under_object_token(f, SHARE_VA, 3, &done));
	KT_EXPECT_FALSE(done);		/* it waited for the token */
	KT_EXPECT_EQ(f->result, KERN_SUCCESS);
	f->va = 0;
	lwkt_thread_join(td);
	vmspace_free(f->vm);
	vm_object_deallocate(shared);
	kfree(f, M_TEMP);
}
