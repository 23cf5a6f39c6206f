/*
 * kern_exec.c - loading a static ELF64 program into a new address space.
 *
 * exec builds the whole new image before it touches the process (xv6's
 * order): a new vmspace, its segments, its stack.  Any error before that
 * point leaves the caller exactly as it was -- a malformed file is
 * ENOEXEC, never a fault.  Only then is the old address space replaced.
 *
 * The file is checked against the System V gABI and the x86-64 psABI:
 *   - ELF magic, 64-bit, little-endian, version 1, x86-64 (EM_X86_64 62);
 *   - ET_EXEC, or ET_DYN without an interpreter (a static PIE, loaded at
 *     PIE_BASE);
 *   - program headers of 56 bytes, at most EXEC_MAX_PHDRS, inside the file;
 *   - every PT_LOAD: memsz >= filesz, file bytes inside the file, vaddr
 *     and offset congruent modulo the page size, the memory inside user
 *     space without overflow, no two segments on one page;
 *   - no PT_INTERP: there is no dynamic loader.
 *
 * Each PT_LOAD becomes a private anonymous map entry with the segment's
 * rights (PF_R/W/X); its file bytes are copied in (vm_map_fill) and the
 * rest -- .bss, and the tail of the last file page -- is zero.  The
 * stack is an 8 MiB entry below VM_MAX_USER_ADDRESS whose pages come on
 * demand; nothing is mapped under it, so running off its end is SIGSEGV.
 *
 * The initial stack (psABI 3.4.1, "Initial Stack and Register State"),
 * RSP 16-byte aligned at entry:
 *
 *   high  | 16 random bytes (AT_RANDOM), the path (AT_EXECFN),  |
 *         | the argument and environment strings               |
 *         | padding to 16 bytes                                 |
 *         | auxv pairs (a_type, a_val) ... AT_NULL              |
 *         | envp[0] ... NULL                                    |
 *         | argv[0] ... NULL                                    |
 *   RSP ->| argc                                                |
 *
 * The stack is built in a kernel buffer (struct stack_builder) laid out
 * exactly as it will sit below USER_STACK_TOP, and copied into the new
 * address space in one vm_map_fill; the pointers in it are the user
 * addresses the strings will have there.
 *
 * Context: thread context, may block (the VFS, page allocation).  The
 * new vmspace is private to the building thread until exec_image or
 * exec_replace installs it, so building needs no lock; installing takes
 * proc_token, which the OOM killer holds to read p_vmspace.  argv, envp
 * and path are kernel copies: execve copied them in already.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <machine/cpufunc.h>
#include <machine/gdt.h>
#include <fs/vfs.h>
#include <vm/vm_map.h>
#include <vm/vm_page.h>

MALLOC_DEFINE(M_EXEC, "exec", "program loading buffers");

/* ELF constants (System V gABI, "ELF Header" and "Program Header"). */
#define EI_NIDENT	16
#define ELFCLASS64	2
#define ELFDATA2LSB	1
#define EV_CURRENT	1
#define ET_EXEC		2
#define ET_DYN		3
#define EM_X86_64	62
#define PT_LOAD		1
#define PT_INTERP	3
#define PT_PHDR		6
#define PF_X		1
#define PF_W		2
#define PF_R		4

#define EXEC_MAX_PHDRS	64		/* ld makes fewer than a dozen */
#define EXEC_ARG_MAX	(128 * 1024)	/* bytes of strings and pointers */
#define EXEC_MAX_ARGS	4096		/* strings in argv, and in envp */
#define USER_STACK_TOP	VM_MAX_USER_ADDRESS
#define USER_STACK_SIZE (8UL << 20)	/* RLIMIT_STACK's 8 MiB */
#define PIE_BASE	0x555555554000UL /* where Linux puts a static PIE */
#define MMAP_BASE	0x00007f0000000000UL /* mmap's first address */
#define RANDOM_BYTES	16		/* AT_RANDOM: the C library's canary */

/* The FPU state of a new program (FXSAVE area, SDM vol. 1, 10.5.1): the
 * control words FNINIT and a reset leave, every exception masked. */
#define FXSAVE_FCW	0		/* byte offset of the x87 control word */
#define FXSAVE_MXCSR	24		/* byte offset of MXCSR */
#define FCW_DEFAULT	0x037f		/* x87: exceptions masked, 64-bit */
#define MXCSR_DEFAULT	0x1f80		/* SSE: exceptions masked */
#define MSR_FS_BASE	0xc0000100	/* IA32_FS_BASE: the TLS pointer */
#define RFLAGS_IF	0x200		/* interrupts on in user mode */
#define RFLAGS_RSVD1	0x002		/* bit 1 always reads 1 */

/* Auxiliary vector types (psABI; Linux's <elf.h> values). */
#define AT_NULL	  0
#define AT_PHDR	  3
#define AT_PHENT  4
#define AT_PHNUM  5
#define AT_PAGESZ 6
#define AT_BASE	  7
#define AT_ENTRY  9
#define AT_UID	  11
#define AT_EUID	  12
#define AT_GID	  13
#define AT_EGID	  14
#define AT_HWCAP  16
#define AT_CLKTCK 17
#define AT_SECURE 23
#define AT_RANDOM 25
#define AT_EXECFN 31
#define NAUXV	  17		/* pairs we write, AT_NULL included */

/* The ELF header, at offset 0 of the file (64 bytes). */
struct elf64_ehdr {
	uint8_t e_ident[EI_NIDENT];
	uint16_t e_type, e_machine;
	uint32_t e_version;
	uint64_t e_entry, e_phoff, e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize, e_phentsize, e_phnum;
	uint16_t e_shentsize, e_shnum, e_shstrndx;
};

/* One program header (56 bytes): a segment and how to load it. */
struct elf64_phdr {
	uint32_t p_type, p_flags;
	uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};

/* What a built image needs to be entered. */
struct exec_result {
	struct vmspace *vm;		/* the new address space */
	uint64_t entry, sp;		/* first RIP and RSP */
};

/* ----------------------------------------------------------------------- */
/* Checking the file.                                                      */

/* e_ident: the magic, then class, byte order and version (gABI bytes
 * EI_CLASS 4, EI_DATA 5, EI_VERSION 6); the OS ABI byte is not checked,
 * as Linux does not check it. */
static bool ident_ok(const struct elf64_ehdr *eh)
{
	static const uint8_t magic[4] = { 0x7f, 'E', 'L', 'F' };

	return memcmp(eh->e_ident, magic, 4) == 0 &&
	       eh->e_ident[4] == ELFCLASS64 && eh->e_ident[5] == ELFDATA2LSB &&
	       eh->e_ident[6] == EV_CURRENT;
}

/* Is eh the header of an x86-64 ELF64 program whose program headers
 * lie inside a file of fsize bytes?  e_phoff < fsize first, so that the
 * sum after it cannot wrap (e_phnum * 56 is small). */
static bool ehdr_ok(const struct elf64_ehdr *eh, uint64_t fsize)
{
	return ident_ok(eh) &&
	       (eh->e_type == ET_EXEC || eh->e_type == ET_DYN) &&
	       eh->e_machine == EM_X86_64 &&
	       eh->e_phentsize == sizeof(struct elf64_phdr) &&
	       eh->e_phnum > 0 && eh->e_phnum <= EXEC_MAX_PHDRS &&
	       eh->e_phoff < fsize &&
	       eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr) <=
		       fsize;
}

/* One PT_LOAD, against the file size and user space (bias added).
 * Each sum is checked for wrapping before it is trusted; the segment
 * must end below the stack's reserved 8 MiB.  Overlap with another
 * segment is found later, when vm_map_insert refuses the range. */
static bool segment_ok(const struct elf64_phdr *ph, uint64_t fsize,
		       uint64_t bias)
{
	uint64_t start = ph->p_vaddr + bias, end = start + ph->p_memsz;

	return ph->p_memsz >= ph->p_filesz && ph->p_memsz > 0 &&
	       ph->p_offset + ph->p_filesz >= ph->p_offset &&
	       ph->p_offset + ph->p_filesz <= fsize &&
	       (ph->p_vaddr & PAGE_MASK) == (ph->p_offset & PAGE_MASK) &&
	       end > start && start >= VM_MIN_USER_ADDRESS &&
	       end <= USER_STACK_TOP - USER_STACK_SIZE;
}

/* The VM protection of a segment's PF_* flags. */
static int prot_of(uint32_t flags)
{
	return ((flags & PF_R) ? VM_PROT_READ : 0) |
	       ((flags & PF_W) ? VM_PROT_WRITE : 0) |
	       ((flags & PF_X) ? VM_PROT_EXECUTE : 0);
}

/* ----------------------------------------------------------------------- */
/* Loading segments.                                                       */

/* Copy n file bytes at off into map at va, a page at a time, through
 * buf (a page).  vm_map_fill faults the pages in and writes them even
 * when the segment is read-only: the kernel fills what the program may
 * only read. */
static int copy_file_bytes(struct file *fp, struct vm_map *map,
			   vm_offset_t va, uint64_t off, uint64_t n,
			   char *buf)
{
	while (n > 0) {
		size_t chunk = MIN(n, PAGE_SIZE), done = 0;
		int error = vfs_pread(fp, buf, chunk, off, &done);

		if (error)
			return error;
		if (done != chunk)
			return ENOEXEC;		/* the file shrank under us */
		error = vm_map_fill(map, va, buf, chunk);
		if (error)
			return error;
		va += chunk;
		off += chunk;
		n -= chunk;
	}
	return 0;
}

/* Map one PT_LOAD and fill it.  ENOEXEC when it overlaps another.  The
 * entry covers whole pages, from the page of p_vaddr to the page after
 * p_vaddr + p_memsz; what the file does not fill is zero (anonymous
 * memory), which gives .bss.  vm_brk_base ends up past the highest
 * segment: the heap starts there. */
static int load_segment(struct file *fp, struct vmspace *vm,
			const struct elf64_phdr *ph, uint64_t bias, char *buf)
{
	vm_offset_t va = ph->p_vaddr + bias;
	vm_offset_t start = rounddown2(va, PAGE_SIZE);
	vm_offset_t end = roundup2(va + ph->p_memsz, PAGE_SIZE);
	int prot = prot_of(ph->p_flags);
	int error;

	error = vm_map_insert(&vm->vm_map, NULL, 0, start, end - start, prot,
			      VM_PROT_ALL, VM_INHERIT_COPY, 0);
	if (error)
		return error == ENOMEM ? ENOEXEC : error;
	vm->vm_brk_base = MAX(vm->vm_brk_base, end);
	return copy_file_bytes(fp, &vm->vm_map, va, ph->p_offset,
			       ph->p_filesz, buf);
}

/* Does the program ask for a dynamic loader (PT_INTERP)?  There is none
 * here, so it could not run. */
static bool has_interp(const struct elf64_ehdr *eh,
		       const struct elf64_phdr *ph)
{
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_INTERP)
			return true;
	return false;
}

/* Read and check the headers: the ELF header into eh and its program
 * headers into ph (room for EXEC_MAX_PHDRS).  ENOEXEC for anything
 * malformed, a short file, or a dynamically linked program; EIO. */
static int read_headers(struct file *fp, uint64_t fsize,
			struct elf64_ehdr *eh, struct elf64_phdr *ph)
{
	size_t done = 0;
	int error = vfs_pread(fp, eh, sizeof(*eh), 0, &done);

	if (error)
		return error;
	if (done != sizeof(*eh) || !ehdr_ok(eh, fsize))
		return ENOEXEC;
	error = vfs_pread(fp, ph, eh->e_phnum * sizeof(*ph), eh->e_phoff,
			  &done);
	if (error)
		return error;
	if (done != eh->e_phnum * sizeof(*ph))
		return ENOEXEC;
	return has_interp(eh, ph) ? ENOEXEC : 0;
}

/* Where the program headers are in memory (AT_PHDR): PT_PHDR if given,
 * else inside the PT_LOAD that maps file offset e_phoff; 0 when no
 * segment maps them (the C library then finds no TLS segment). */
static uint64_t phdr_address(const struct elf64_ehdr *eh,
			     const struct elf64_phdr *ph, uint64_t bias)
{
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_PHDR)
			return ph[i].p_vaddr + bias;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset <= eh->e_phoff &&
		    eh->e_phoff < ph[i].p_offset + ph[i].p_filesz)
			return ph[i].p_vaddr + bias + eh->e_phoff -
			       ph[i].p_offset;
	return 0;
}

/* ----------------------------------------------------------------------- */
/* The initial stack.                                                      */

/* Bytes the strings of a NULL-ended vector take, with their NULs, or
 * SIZE_MAX when there are too many; *count gets the number. */
static size_t vector_bytes(char *const v[], int *count)
{
	size_t bytes = 0;
	int n = 0;

	for (; v != NULL && v[n] != NULL; n++) {
		if (n >= EXEC_MAX_ARGS)
			return SIZE_MAX;
		bytes += strlen(v[n]) + 1;
	}
	*count = n;
	return bytes;
}

/* How big the initial stack will be, counted before it is built. */
struct stack_plan {
	int argc, envc;			/* strings in argv and envp */
	size_t strbytes;		/* their bytes, NULs included */
	size_t nwords;			/* argc, the vectors, the auxv */
	size_t size;			/* the kernel buffer: whole pages */
};

/*
 *   buf                          buf + start           buf + strpos  buf + size
 *   | zero ...                  | argc argv envp auxv | strings ... | <- top
 *
 * The buffer is the top of the user stack: byte i of buf will be at user
 * address top - size + i.
 */
struct stack_builder {
	char *buf;			/* kernel copy of the stack's top */
	size_t size;			/* its length */
	uint64_t top;			/* user address of buf + size */
	size_t strpos;			/* strings grow down from the end */
};

/* Put a string (or bytes) in the string area, below those put before;
 * its user address.  plan_stack made the room. */
static uint64_t push_bytes(struct stack_builder *sb, const void *p,
			   size_t n)
{
	sb->strpos -= n;
	memcpy(sb->buf + sb->strpos, p, n);
	return sb->top - sb->size + sb->strpos;
}

/* Write the pointer block: argc, argv, envp (each string pushed as its
 * pointer is written), at its final place; returns the block's start,
 * where RSP will point.  The auxv words after envp's NULL are left for
 * put_auxv. */
static uint64_t *push_vectors(struct stack_builder *sb, int argc,
			      char *const argv[], int envc,
			      char *const envp[], size_t nwords,
			      size_t strbytes)
{
	/* Below the strings still to come, aligned so RSP % 16 == 0. */
	size_t start = rounddown2(sb->strpos - strbytes - nwords * 8, 16);
	uint64_t *w = (uint64_t *)(sb->buf + start);
	uint64_t *out = w;

	*w++ = (uint64_t)argc;
	for (int i = 0; i < argc; i++)
		*w++ = push_bytes(sb, argv[i], strlen(argv[i]) + 1);
	*w++ = 0;
	for (int i = 0; i < envc; i++)
		*w++ = push_bytes(sb, envp[i], strlen(envp[i]) + 1);
	*w++ = 0;
	return out;
}

/* AT_HWCAP: CPUID.1 EDX, the feature bits, as Linux gives them. */
static uint64_t cpu_hwcap(void)
{
	uint32_t r[4];

	cpuid_count(1, 0, r);
	return r[3];
}

/* The auxiliary vector after the envp NULL: what the C library's start
 * code reads (musl takes AT_PHDR for its TLS, AT_RANDOM for the stack
 * protector's canary, AT_PAGESZ).  Everyone is root, so the ids are 0
 * and AT_SECURE is off. */
static void put_auxv(uint64_t *a, const struct elf64_ehdr *eh,
		     uint64_t phdr, uint64_t entry, uint64_t random,
		     uint64_t execfn)
{
	uint64_t pairs[NAUXV][2] = {
		{ AT_PHDR, phdr },     { AT_PHENT, sizeof(struct elf64_phdr) },
		{ AT_PHNUM, eh->e_phnum }, { AT_PAGESZ, PAGE_SIZE },
		{ AT_BASE, 0 },	       { AT_ENTRY, entry },
		{ AT_UID, 0 },	       { AT_EUID, 0 },
		{ AT_GID, 0 },	       { AT_EGID, 0 },
		{ AT_HWCAP, cpu_hwcap() }, { AT_CLKTCK, 100 },
		{ AT_SECURE, 0 },      { AT_RANDOM, random },
		{ AT_EXECFN, execfn }, { AT_NULL, 0 },
		{ AT_NULL, 0 },
	};

	memcpy(a, pairs, sizeof(pairs));
}

/* Count the strings and words of the initial stack into pl: 0, or
 * E2BIG past EXEC_MAX_ARGS strings or EXEC_ARG_MAX bytes (Linux's errno
 * for an argument list that is too long). */
static int plan_stack(const char *path, char *const argv[],
		      char *const envp[], struct stack_plan *pl)
{
	size_t abytes = vector_bytes(argv, &pl->argc);
	size_t ebytes = vector_bytes(envp, &pl->envc);
	size_t strings;

	if (abytes == SIZE_MAX || ebytes == SIZE_MAX)
		return E2BIG;
	pl->strbytes = abytes + ebytes;
	pl->nwords = 1 + pl->argc + 1 + pl->envc + 1 + 2 * NAUXV;
	strings = pl->strbytes + strlen(path) + 1 + RANDOM_BYTES;
	if (strings + pl->nwords * 8 > EXEC_ARG_MAX)
		return E2BIG;
	/* 64 spare bytes: the pointer block is aligned down to 16. */
	pl->size = roundup2(strings + pl->nwords * 8 + 64, PAGE_SIZE);
	return 0;
}

/*
 * Build the initial stack in a kernel buffer, then copy it into vm's
 * stack entry.  *sp gets the user RSP (16-byte aligned, at argc).  0,
 * E2BIG, or vm_map_fill's ENOMEM.
 */
static int build_stack(struct vmspace *vm, const char *path,
		       char *const argv[], char *const envp[],
		       const struct elf64_ehdr *eh, uint64_t phdr,
		       uint64_t entry, uint64_t *sp)
{
	struct stack_plan pl = { 0 };
	struct stack_builder sb;
	uint8_t random[RANDOM_BYTES];
	uint64_t *w, rnd, fn;
	int error = plan_stack(path, argv, envp, &pl);

	if (error)
		return error;
	sb = (struct stack_builder){ kmalloc(pl.size, M_EXEC, M_WAITOK | M_ZERO),
				     pl.size, USER_STACK_TOP, pl.size };
	user_random_bytes(random, sizeof(random));
	rnd = push_bytes(&sb, random, sizeof(random));
	fn = push_bytes(&sb, path, strlen(path) + 1);
	w = push_vectors(&sb, pl.argc, argv, pl.envc, envp, pl.nwords,
			 pl.strbytes);
	put_auxv(w + 1 + pl.argc + 1 + pl.envc + 1, eh, phdr, entry, rnd, fn);
	*sp = sb.top - sb.size + ((char *)w - sb.buf);
	/* Only from RSP up: the zeroes below it need not be written. */
	error = vm_map_fill(&vm->vm_map, *sp, w, sb.top - *sp);
	kfree(sb.buf, M_EXEC);
	return error;
}

/* ----------------------------------------------------------------------- */
/* Putting it together.                                                    */

/* The stack entry: USER_STACK_SIZE bytes ending at USER_STACK_TOP,
 * read and write, its pages faulted in on demand.  MAP_ENTRY_STACK
 * keeps the fault path from extending anything below it. */
static int map_stack(struct vmspace *vm)
{
	return vm_map_insert(&vm->vm_map, NULL, 0,
			     USER_STACK_TOP - USER_STACK_SIZE, USER_STACK_SIZE,
			     VM_PROT_READ | VM_PROT_WRITE,
			     VM_PROT_READ | VM_PROT_WRITE, VM_INHERIT_COPY,
			     MAP_ENTRY_STACK);
}

/* Every PT_LOAD of the file into vm, then the stack entry.  ENOEXEC for
 * a bad or overlapping segment, or a file with none. */
static int load_segments(struct file *fp, uint64_t fsize,
			 const struct elf64_ehdr *eh,
			 const struct elf64_phdr *ph, uint64_t bias,
			 struct vmspace *vm)
{
	char *buf = kmalloc(PAGE_SIZE, M_EXEC, M_WAITOK);
	int error = 0;

	for (int i = 0; i < eh->e_phnum && error == 0; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (!segment_ok(&ph[i], fsize, bias))
			error = ENOEXEC;
		else
			error = load_segment(fp, vm, &ph[i], bias, buf);
	}
	kfree(buf, M_EXEC);
	if (error == 0 && vm->vm_brk_base == 0)
		error = ENOEXEC;		/* nothing was loaded */
	return error != 0 ? error : map_stack(vm);
}

/* Open path as a regular file readable by us: its VFS file and size. */
static int open_program(const char *path, struct file **fpp, uint64_t *size)
{
	struct vattr va;
	int error = vfs_open(path, O_RDONLY, 0, fpp);

	if (error)
		return error;
	error = vfs_fstat(*fpp, &va);
	if (error == 0 && !S_ISREG(va.va_mode))
		error = EACCES;
	if (error) {
		vfs_close(*fpp);
		return error;
	}
	*size = va.va_size;
	return 0;
}

/* The program open as fp (fsize bytes) in a new vmspace: res, or an
 * error with the vmspace freed again.  ph is scratch room for
 * EXEC_MAX_PHDRS program headers. */
static int exec_load(struct file *fp, uint64_t fsize, const char *path,
		     char *const argv[], char *const envp[],
		     struct elf64_phdr *ph, struct exec_result *res)
{
	struct elf64_ehdr eh;
	uint64_t bias;
	int error = read_headers(fp, fsize, &eh, ph);

	if (error)
		return error;
	bias = eh.e_type == ET_DYN ? PIE_BASE : 0;	/* a static PIE */
	res->vm = vmspace_alloc();
	error = load_segments(fp, fsize, &eh, ph, bias, res->vm);
	if (error == 0) {
		res->entry = eh.e_entry + bias;
		error = build_stack(res->vm, path, argv, envp, &eh,
				    phdr_address(&eh, ph, bias), res->entry,
				    &res->sp);
	}
	if (error) {
		vmspace_free(res->vm);
		return error;
	}
	res->vm->vm_brk = res->vm->vm_brk_base;	/* an empty heap */
	res->vm->vm_mmap_next = MMAP_BASE;
	return 0;
}

/* The whole image of path in a new vmspace (res), or an error with
 * nothing left behind.  ENOMEM at once when only the kernel's page
 * reserve is left: a program could not run anyway, and loading it
 * would eat the pages the kernel keeps for itself. */
static int exec_build(const char *path, char *const argv[],
		      char *const envp[], struct exec_result *res)
{
	struct elf64_phdr *ph;
	struct file *fp;
	uint64_t fsize;
	int error;

	if (!vm_page_user_room(VM_USER_CALL_PAGES))
		return ENOMEM;
	error = open_program(path, &fp, &fsize);
	if (error)
		return error;
	ph = kmalloc(EXEC_MAX_PHDRS * sizeof(*ph), M_EXEC, M_WAITOK);
	error = exec_load(fp, fsize, path, argv, envp, ph, res);
	kfree(ph, M_EXEC);
	vfs_close(fp);
	return error;
}

/* The user registers at a program's first instruction: all zero but
 * RIP, RSP and RFLAGS (IF set, and the reserved bit 1). */
static void initial_frame(struct trapframe *tf, uint64_t entry, uint64_t sp)
{
	memset(tf, 0, sizeof(*tf));
	tf->tf_rip = entry;
	tf->tf_rsp = sp;
	tf->tf_rflags = RFLAGS_IF | RFLAGS_RSVD1;
	tf->tf_cs = GSEL_UCODE | 3;		/* RPL 3: ring 3 */
	tf->tf_ss = GSEL_UDATA | 3;
}

/* Build path's image as the first program of p (contract in
 * kern/proc.h): p has no address space yet and is not running, so
 * installing one needs no lock. */
int exec_image(struct proc *p, const char *path, char *const argv[],
	       char *const envp[])
{
	struct exec_result res;
	int error;

	KASSERT(p->p_vmspace == NULL, "exec_image: process %d already has an "
		"address space; use exec_replace", p->p_pid);
	error = exec_build(path, argv, envp, &res);
	if (error)
		return error;
	p->p_vmspace = res.vm;
	initial_frame(&p->p_startframe, res.entry, res.sp);
	return 0;
}

/* Make vm the address space of p, the calling process, and load it on
 * this CPU.  The critical section keeps the thread on this CPU between
 * the store and the CR3 load (a switch in between would load the old
 * one); proc_token because kern_oom.c reads p_vmspace. */
static void switch_vmspace(struct proc *p, struct vmspace *vm)
{
	lwkt_gettoken(&proc_token);
	crit_enter();
	p->p_vmspace = vm;
	pmap_activate(&vm->vm_pmap);
	crit_exit();
	lwkt_reltoken(&proc_token);
}

/* A new program's thread state besides its registers: no TLS pointer
 * (the C library sets one up), and the FPU as after a reset, in the
 * saved area and in the CPU (this thread owns the FPU now). */
static void reset_thread_state(struct proc *p)
{
	p->p_md.fs_base = 0;
	wrmsr(MSR_FS_BASE, 0);
	memset(p->p_md.fxsave, 0, sizeof(p->p_md.fxsave));
	*(uint16_t *)&p->p_md.fxsave[FXSAVE_FCW] = FCW_DEFAULT;
	*(uint32_t *)&p->p_md.fxsave[FXSAVE_MXCSR] = MXCSR_DEFAULT;
	__asm__ volatile("fxrstor64 (%0)" : : "r"(p->p_md.fxsave));
}

/*
 * execve for the calling process: build the new image, and only if that
 * worked, switch to it, free the old one, reset the registers in tf, the
 * TLS base and the FPU, and close close-on-exec descriptors.  Caught
 * signals go back to their default action (sig_exec).  The process's
 * own thread, with tf its user frame; blocks.
 */
int exec_replace(struct trapframe *tf, const char *path, char *const argv[],
		 char *const envp[])
{
	struct proc *p = curproc;
	struct vmspace *old;
	struct exec_result res;
	int error;

	KASSERT(p != NULL && p->p_vmspace != NULL, "exec_replace: not "
		"called by a process with an address space; a first program "
		"is started with exec_image");
	old = p->p_vmspace;
	error = exec_build(path, argv, envp, &res);
	if (error)
		return error;		/* the caller is untouched */
	switch_vmspace(p, res.vm);
	vmspace_free(old);		/* no longer in CR3 anywhere */
	initial_frame(tf, res.entry, res.sp);
	reset_thread_state(p);
	strlcpy(p->p_comm, path_basename(path), sizeof(p->p_comm));
	sig_exec(p);
	fd_close_on_exec(p);
	return 0;
}

/* ----------------------------------------------------------------------- */
/* Randomness for user programs.                                           */

/* RDRAND (SDM vol. 2B): CF=1 when a value was delivered. */
static bool rdrand64(uint64_t *v)
{
	uint8_t ok;

	__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
	return ok;
}

/* Does the CPU have RDRAND?  CPUID.1 ECX bit 30. */
static bool have_rdrand(void)
{
	uint32_t r[4];

	cpuid_count(1, 0, r);
	return (r[2] >> 30) & 1;
}

/* splitmix64: a good mixer for the TSC fallback.  Unpredictable enough
 * for a stack canary in a teaching kernel; no cryptographic claim. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15UL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9UL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebUL;
	return x ^ (x >> 31);
}

/* n unpredictable bytes into buf (contract in kern/proc.h).  RDRAND may
 * fail when its entropy runs short (CF=0), so each word falls back on
 * the mixer alone.  Any thread; never blocks. */
void user_random_bytes(void *buf, size_t n)
{
	static uint64_t state;
	bool hw = have_rdrand();
	uint8_t *out = buf;

	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = 0;

		/* Each caller adds the TSC to the shared state, so two
		 * callers in one cycle still get different words. */
		if (!hw || !rdrand64(&v))
			v = mix64(__atomic_add_fetch(&state, rdtsc(),
						     __ATOMIC_RELAXED));
		memcpy(out + i, &v, MIN(8, n - i));
	}
}
