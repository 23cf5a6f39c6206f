/*
 * kern/kvservice.h - an in-kernel key/value service: the message-server
 * pattern in its smallest complete form (kern/kern_kvservice.c).
 *
 * A kv_service is a message server (kern/msgport.h) that owns a small
 * hash table.  Clients on any CPU call kv_put/kv_get/kv_del, which build a
 * message on their stack and lwkt_domsg() it to the service's port.  Only
 * the service thread ever touches the table, so the table has no lock: the
 * port is the lock.
 */
#ifndef KERN_KVSERVICE_H
#define KERN_KVSERVICE_H

#include <kern/types.h>
#include <kern/msgport.h>

#define KV_SLOTS	256	/* table size; at most KV_SLOTS - 1 keys */

struct kv_entry {
	uint64_t key;
	uint64_t value;
	bool used;
	bool deleted;		/* a tombstone keeps probe chains intact */
};

struct kv_service {
	struct msg_server kv_server;
	struct kv_entry kv_table[KV_SLOTS];	/* service thread only */
	int kv_count;				/* keys stored */
};

/* Start the service thread on CPU cpu (-1: this one).  0 or ENOMEM. */
int kv_start(struct kv_service *kv, int cpu);
/* Stop it (queued requests are served first).  Blocks. */
void kv_stop(struct kv_service *kv);

/* Store value under key: 0, or ENOSPC when the table is full.  Blocks. */
int kv_put(struct kv_service *kv, uint64_t key, uint64_t value);
/* Fetch key's value into *value: 0, or ENOENT.  Blocks. */
int kv_get(struct kv_service *kv, uint64_t key, uint64_t *value);
/* Remove key: 0, or ENOENT.  Blocks. */
int kv_del(struct kv_service *kv, uint64_t key);

#endif /* KERN_KVSERVICE_H */
