/*
 * kern/queue.h - intrusive doubly-linked tail queues (the BSD TAILQ idea).
 *
 * An element embeds a TAILQ_ENTRY; a list is a TAILQ_HEAD.  Insertion and
 * removal are O(1) and never allocate, which is what a scheduler, a sleep
 * queue or a callout wheel needs inside a critical section.
 *
 *     head: tqh_first ---> [elem] <-> [elem] <-> [elem]
 *           tqh_last  ----------------------------^ (address of the last
 *                                                    element's tqe_next)
 *
 * tqe_prev points at the previous element's tqe_next (or at tqh_first), so
 * removal needs no special case for the first element.  Nothing here is
 * locked: the owner of the list provides that.
 */
#ifndef KERN_QUEUE_H
#define KERN_QUEUE_H

#define TAILQ_HEAD(name, type)                                               \
	struct name {                                                        \
		struct type *tqh_first;                                      \
		struct type **tqh_last;                                      \
	}

#define TAILQ_ENTRY(type)                                                    \
	struct {                                                             \
		struct type *tqe_next;                                       \
		struct type **tqe_prev;                                      \
	}

#define TAILQ_HEAD_INITIALIZER(head) { NULL, &(head).tqh_first }
#define TAILQ_FIRST(head)	((head)->tqh_first)
#define TAILQ_EMPTY(head)	((head)->tqh_first == NULL)
#define TAILQ_NEXT(elm, field)	((elm)->field.tqe_next)

#define TAILQ_INIT(head)                                                     \
	do {                                                                 \
		(head)->tqh_first = NULL;                                    \
		(head)->tqh_last = &(head)->tqh_first;                       \
	} while (0)

#define TAILQ_FOREACH(var, head, field)                                      \
	for ((var) = TAILQ_FIRST(head); (var) != NULL;                       \
	     (var) = TAILQ_NEXT(var, field))

/* Safe against removal of var inside the loop body. */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                           \
	for ((var) = TAILQ_FIRST(head);                                      \
	     (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);          \
	     (var) = (tvar))

#define TAILQ_INSERT_TAIL(head, elm, field)                                  \
	do {                                                                 \
		(elm)->field.tqe_next = NULL;                                \
		(elm)->field.tqe_prev = (head)->tqh_last;                    \
		*(head)->tqh_last = (elm);                                   \
		(head)->tqh_last = &(elm)->field.tqe_next;                   \
	} while (0)

#define TAILQ_INSERT_HEAD(head, elm, field)                                  \
	do {                                                                 \
		if (((elm)->field.tqe_next = (head)->tqh_first) != NULL)     \
			(head)->tqh_first->field.tqe_prev =                  \
				&(elm)->field.tqe_next;                      \
		else                                                         \
			(head)->tqh_last = &(elm)->field.tqe_next;           \
		(head)->tqh_first = (elm);                                   \
		(elm)->field.tqe_prev = &(head)->tqh_first;                  \
	} while (0)

/* Insert elm before listelm. */
#define TAILQ_INSERT_BEFORE(listelm, elm, field)                             \
	do {                                                                 \
		(elm)->field.tqe_prev = (listelm)->field.tqe_prev;           \
		(elm)->field.tqe_next = (listelm);                           \
		*(listelm)->field.tqe_prev = (elm);                          \
		(listelm)->field.tqe_prev = &(elm)->field.tqe_next;          \
	} while (0)

#define TAILQ_REMOVE(head, elm, field)                                       \
	do {                                                                 \
		if ((elm)->field.tqe_next != NULL)                           \
			(elm)->field.tqe_next->field.tqe_prev =              \
				(elm)->field.tqe_prev;                       \
		else                                                         \
			(head)->tqh_last = (elm)->field.tqe_prev;            \
		*(elm)->field.tqe_prev = (elm)->field.tqe_next;              \
	} while (0)

#endif /* KERN_QUEUE_H */
