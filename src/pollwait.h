/* pollwait.h — the event loop's wait: poll a while before sleeping, adaptively.
 *
 * On a VM a thread that sleeps in epoll_wait lets its vCPU halt, and waking a
 * halted vCPU costs tens of microseconds (the host must run it again): for a
 * client with one request in flight that wake-up is most of a round trip. The
 * guest kernel can poll before halting (cpuidle-haltpoll), but often runs with
 * it off (guest_halt_poll_ns = 0). So the loop can do it itself: a wait first
 * polls (epoll_wait with a zero timeout) for up to a budget, then sleeps. The
 * budget follows haltpoll's rule: a sleep that ended later than the budget but
 * within the ceiling grows it (from POLL_GROW_START_NS, doubling, up to the
 * ceiling); a sleep past the ceiling halves it, and under the start it is 0, so
 * a server whose clients are quiet does not poll at all. When to poll at all is
 * the caller's choice (server.c: only for a lone client in a request-reply loop).
 * The sleep after a poll keeps the whole timeout: timers may fire up to a
 * ceiling late. */
#ifndef ZK_POLLWAIT_H
#define ZK_POLLWAIT_H

#include <stdint.h>
#include <sys/epoll.h>

struct poll_wait {
    int64_t max_ns;    /* the budget's ceiling; 0 turns polling off */
    int64_t budget_ns; /* how long the next wait polls before it sleeps */
    uint64_t polled_hits;  /* waits answered while polling */
    uint64_t sleeps;       /* waits that slept */
};

#define POLL_GROW_START_NS 50000

void poll_wait_init(struct poll_wait *p, int64_t max_ns);
/* epoll_wait(epfd, ev, max, timeout_ms), polling first as above. */
int poll_wait(struct poll_wait *p, int epfd, struct epoll_event *ev, int max, int timeout_ms);
/* The budget update after a sleep of slept_ns (exposed for tests). */
void poll_wait_learn(struct poll_wait *p, int64_t slept_ns);

#endif
