#include "pollwait.h"

#include <time.h>

static int64_t poll_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void poll_wait_init(struct poll_wait *p, int64_t max_ns) {
    p->max_ns = max_ns > 0 ? max_ns : 0;
    p->budget_ns = 0;
    p->polled_hits = 0;
    p->sleeps = 0;
}

void poll_wait_learn(struct poll_wait *p, int64_t slept_ns) {
    if (p->max_ns == 0)
        return;
    if (slept_ns <= p->max_ns) {
        if (slept_ns > p->budget_ns) { /* a longer poll would have caught it */
            p->budget_ns = p->budget_ns == 0 ? POLL_GROW_START_NS : 2 * p->budget_ns;
            if (p->budget_ns > p->max_ns)
                p->budget_ns = p->max_ns;
        }
    } else {
        p->budget_ns /= 2;
        if (p->budget_ns < POLL_GROW_START_NS)
            p->budget_ns = 0;
    }
}

int poll_wait(struct poll_wait *p, int epfd, struct epoll_event *ev, int max, int timeout_ms) {
    if (timeout_ms == 0 || p->max_ns == 0)
        return epoll_wait(epfd, ev, max, timeout_ms);
    int64_t t0 = poll_now_ns();
    if (p->budget_ns > 0) {
        int64_t until = t0 + p->budget_ns;
        if (timeout_ms > 0 && until > t0 + (int64_t)timeout_ms * 1000000)
            until = t0 + (int64_t)timeout_ms * 1000000;
        do {
            int n = epoll_wait(epfd, ev, max, 0);
            if (n != 0) {
                if (n > 0)
                    p->polled_hits++;
                return n;
            }
        } while (poll_now_ns() < until);
    }
    int n = epoll_wait(epfd, ev, max, timeout_ms);
    if (n >= 0) {
        p->sleeps++;
        poll_wait_learn(p, poll_now_ns() - t0);
    }
    return n;
}
