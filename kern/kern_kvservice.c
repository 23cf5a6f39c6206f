/*
 * kern_kvservice.c - a key/value store served by one thread through a
 * message port.
 *
 * The life of one kv_get(), end to end:
 *
 *   client thread                          service thread
 *   -------------                          --------------
 *   struct kv_msg m on its stack
 *   lwkt_initmsg(&m, &reply_port)
 *   lwkt_domsg(&kv->port, &m) --put-->     lwkt_waitport returns &m
 *     (blocks in lwkt_waitmsg)             kv_dispatch: probe the table,
 *                                            store the value in m
 *     <--------------- lwkt_replymsg(&m, error) by the server loop
 *   domsg returns error; m.value holds the answer
 *
 * If the client runs on another CPU, the put and the reply each cross by
 * one IPIQ message; nothing else changes.  The table uses open
 * addressing with linear probing and tombstones for deleted keys:
 *
 *   slot       0         1        2        3        4
 *   kv_table [ empty ][  k1  ][ tomb ][  k2  ][ empty ] ...
 *                        ^ home slot of k1 and of k2: k2 went in when
 *                          slot 2 still held a key, so its walk is 1, 2, 3
 *
 * A lookup walks from the key's home slot (kv_hash) until the key or an
 * empty slot; a tombstone does not end the walk, so deleting k1's
 * neighbour never hides k2.  One slot always stays empty (at most
 * KV_SLOTS - 1 keys), so every walk ends.
 *
 * Locking: none.  The table and kv_count belong to the service thread;
 * the port serialises the requests, and the message hand-off (the put,
 * the reply) orders the client's writes to its message before the
 * server's reads and the server's writes before the client's.  Clients
 * block in lwkt_domsg, so every client call may block.  A call from the
 * service thread itself does not wait for itself: the server's port
 * dispatches its own domsg in place (msgserver_putport, lwkt_msgport.c).
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kvservice.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <kern/globaldata.h>

enum kv_op { KV_PUT, KV_GET, KV_DEL };

/* One request, on the client's stack.  The client fills it before the
 * put; the server owns it from kv_dispatch until the reply. */
struct kv_msg {
	struct lwkt_msg base;	/* first: the server gets a lwkt_msg_t */
	enum kv_op op;
	uint64_t key;
	uint64_t value;		/* in for PUT, out for GET */
};

/* A multiplicative hash (Knuth's golden ratio constant) to a slot. */
static unsigned kv_hash(uint64_t key)
{
	return (unsigned)((key * 0x9e3779b97f4a7c15ULL) >> 56) % KV_SLOTS;
}

/* The slot holding key, or NULL.  Service thread only. */
static struct kv_entry *kv_find(struct kv_service *kv, uint64_t key)
{
	unsigned slot = kv_hash(key);

	for (int probes = 0; probes < KV_SLOTS; probes++) {
		struct kv_entry *e = &kv->kv_table[slot];

		if (!e->used && !e->deleted)
			return NULL;	/* end of the probe chain */
		if (e->used && e->key == key)
			return e;
		slot = (slot + 1) % KV_SLOTS;
	}
	return NULL;
}

/* A free slot for a new key (a tombstone may be reused), or NULL. */
static struct kv_entry *kv_free_slot(struct kv_service *kv, uint64_t key)
{
	unsigned slot = kv_hash(key);

	if (kv->kv_count >= KV_SLOTS - 1)
		return NULL;	/* keep one empty slot to end probes */
	for (int probes = 0; probes < KV_SLOTS; probes++) {
		struct kv_entry *e = &kv->kv_table[slot];

		if (!e->used)
			return e;
		slot = (slot + 1) % KV_SLOTS;
	}
	return NULL;
}

/* Overwrite in place if the key exists, else take a free slot; ENOSPC
 * when none is left.  Service thread only. */
static int kv_do_put(struct kv_service *kv, struct kv_msg *m)
{
	struct kv_entry *e = kv_find(kv, m->key);

	if (e == NULL) {
		e = kv_free_slot(kv, m->key);
		if (e == NULL)
			return ENOSPC;
		*e = (struct kv_entry){ .key = m->key, .used = true };
		kv->kv_count++;
	}
	e->value = m->value;
	return 0;
}

/* Leave a tombstone, not an empty slot: an empty slot would cut the
 * probe chain of every key that was placed after this one. */
static int kv_do_del(struct kv_service *kv, struct kv_msg *m)
{
	struct kv_entry *e = kv_find(kv, m->key);

	if (e == NULL)
		return ENOENT;
	e->used = false;
	e->deleted = true;
	kv->kv_count--;
	return 0;
}

/* The server's dispatch function: runs in the service thread, one
 * message at a time, so the table needs no lock. */
static int kv_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct kv_service *kv = srv->ms_arg;
	struct kv_msg *m = (struct kv_msg *)msg;
	struct kv_entry *e;

	KASSERT(curthread == srv->ms_td, "kv_dispatch outside the service "
		"thread: the table has no lock but that thread");
	switch (m->op) {
	case KV_PUT:
		return kv_do_put(kv, m);
	case KV_GET:
		e = kv_find(kv, m->key);
		if (e == NULL)
			return ENOENT;
		m->value = e->value;
		return 0;
	case KV_DEL:
		return kv_do_del(kv, m);
	}
	return EINVAL;
}

/* The table starts empty; the server thread is the only one to touch it
 * from now on.  Returns 0 or msgserver_start's error (ENOMEM).  Thread
 * context, before any client call; may block. */
int kv_start(struct kv_service *kv, int cpu)
{
	memset(kv->kv_table, 0, sizeof(kv->kv_table));
	kv->kv_count = 0;
	return msgserver_start(&kv->kv_server, "kvservice", cpu, kv_dispatch,
			       kv);
}

/* Stop the service after the requests already queued; blocks until its
 * thread is gone, after which kv may be freed.  Another thread than the
 * service's; no client call may be made after it. */
void kv_stop(struct kv_service *kv)
{
	msgserver_stop(&kv->kv_server);
}

/* Send one request and wait for its answer.  The reply port lives on the
 * caller's stack for the duration of the call.  Any thread, any CPU,
 * after kv_start and before kv_stop; blocks until the reply. */
static int kv_call(struct kv_service *kv, struct kv_msg *m)
{
	struct lwkt_port rport;
	int error;

	lwkt_initport_thread(&rport, curthread);
	lwkt_initmsg(&m->base, &rport, 0);
	error = lwkt_domsg(&kv->kv_server.ms_port, &m->base, 0);
	lwkt_destroyport(&rport);
	return error;
}

/* The three client calls: build a request, kv_call it, read the answer. */
int kv_put(struct kv_service *kv, uint64_t key, uint64_t value)
{
	struct kv_msg m = { .op = KV_PUT, .key = key, .value = value };

	return kv_call(kv, &m);
}

int kv_get(struct kv_service *kv, uint64_t key, uint64_t *value)
{
	struct kv_msg m = { .op = KV_GET, .key = key };
	int error = kv_call(kv, &m);

	if (error == 0)
		*value = m.value;
	return error;
}

int kv_del(struct kv_service *kv, uint64_t key)
{
	struct kv_msg m = { .op = KV_DEL, .key = key };

	return kv_call(kv, &m);
}
