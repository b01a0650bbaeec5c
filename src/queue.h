/* queue.h — intrusive circular doubly-linked list (libuv/canonical style).
 * A struct queue is embedded in the object; the list head is a struct queue
 * whose next/prev point at itself when empty. No allocation to link. */
#ifndef ZK_QUEUE_H
#define ZK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct queue {
    struct queue *next;
    struct queue *prev;
};

static inline void queue_init(struct queue *q) { q->next = q->prev = q; }
static inline bool queue_empty(const struct queue *q) { return q->next == q; }
static inline void queue_insert_tail(struct queue *h, struct queue *q) {
    q->next = h;
    q->prev = h->prev;
    h->prev->next = q;
    h->prev = q;
}
static inline void queue_insert_head(struct queue *h, struct queue *q) {
    q->prev = h;
    q->next = h->next;
    h->next->prev = q;
    h->next = q;
}
static inline void queue_remove(struct queue *q) {
    q->prev->next = q->next;
    q->next->prev = q->prev;
    q->next = q->prev = q;
}
static inline struct queue *queue_head(const struct queue *h) { return h->next; }
#define QUEUE_DATA(ptr, type, field) ((type *)((char *)(ptr) - offsetof(type, field)))
#define QUEUE_FOREACH(q, h) for ((q) = (h)->next; (q) != (h); (q) = (q)->next)
/* Safe against removal of q inside the loop body. */
#define QUEUE_FOREACH_SAFE(q, n, h) \
    for ((q) = (h)->next, (n) = (q)->next; (q) != (h); (q) = (n), (n) = (q)->next)

#endif
