/* test_pollwait.c — the loop's wait (pollwait.h).
 * Goal: the polling budget follows haltpoll's rule (grow from the start value
 * while sleeps end within the ceiling, halve past it, drop to 0 under the start),
 * a ceiling of 0 never polls, an event that comes while polling is returned
 * without sleeping, and a wait that times out still returns 0 and shrinks the
 * budget. Method: poll_wait_learn on chosen sleep lengths, and poll_wait on an
 * epoll set holding an eventfd written by a second thread. */
#include "test.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pollwait.h"

TEST(poll, the_budget_grows_while_sleeps_are_short_and_shrinks_when_they_are_long)
{
    struct poll_wait p;
    poll_wait_init(&p, 200000);
    ASSERT_EQ_I64(p.budget_ns, 0);
    poll_wait_learn(&p, 120000); /* woken 120 us after sleeping: poll next time */
    ASSERT_EQ_I64(p.budget_ns, POLL_GROW_START_NS);
    poll_wait_learn(&p, 120000);
    ASSERT_EQ_I64(p.budget_ns, 2 * POLL_GROW_START_NS);
    poll_wait_learn(&p, 120000);
    ASSERT_EQ_I64(p.budget_ns, 200000); /* capped at the ceiling */
    poll_wait_learn(&p, 150000);        /* within the budget: no change */
    ASSERT_EQ_I64(p.budget_ns, 200000);
    poll_wait_learn(&p, 5000000); /* a long sleep: halve */
    ASSERT_EQ_I64(p.budget_ns, 100000);
    poll_wait_learn(&p, 5000000);
    ASSERT_EQ_I64(p.budget_ns, POLL_GROW_START_NS);
    poll_wait_learn(&p, 5000000); /* under the start: off */
    ASSERT_EQ_I64(p.budget_ns, 0);
    /* a ceiling of 0 never learns to poll */
    poll_wait_init(&p, 0);
    poll_wait_learn(&p, 1000);
    ASSERT_EQ_I64(p.budget_ns, 0);
}

struct late_write {
    int fd;
    int64_t after_ns;
};

static void *write_later(void *arg)
{
    struct late_write *w = arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = w->after_ns};
    nanosleep(&ts, NULL);
    uint64_t one = 1;
    ASSERT_EQ_I64(write(w->fd, &one, sizeof(one)), (int64_t)sizeof(one));
    return NULL;
}

TEST(poll, an_event_during_the_poll_is_returned_without_sleeping)
{
    int ep = epoll_create1(0), ev = eventfd(0, EFD_NONBLOCK);
    ASSERT_TRUE(ep >= 0 && ev >= 0);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = ev};
    ASSERT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e));
    struct poll_wait p;
    poll_wait_init(&p, 10000000); /* a 10 ms ceiling: the writer's delay fits easily */
    p.budget_ns = 10000000;
    struct late_write w = {.fd = ev, .after_ns = 1000000};
    pthread_t th;
    ASSERT_OK(pthread_create(&th, NULL, write_later, &w));
    struct epoll_event out[4];
    ASSERT_EQ_I64(poll_wait(&p, ep, out, 4, 5000), 1);
    ASSERT_OK(pthread_join(th, NULL));
    ASSERT_EQ_I64(out[0].data.fd, ev);
    ASSERT_EQ_I64(p.polled_hits, 1);
    ASSERT_EQ_I64(p.sleeps, 0);
    uint64_t v;
    ASSERT_EQ_I64(read(ev, &v, sizeof(v)), (int64_t)sizeof(v));
    /* nothing comes: the poll ends, the wait sleeps to its timeout, returns 0,
     * and a sleep past the ceiling halves the budget */
    p.max_ns = 200000;
    p.budget_ns = 200000;
    ASSERT_EQ_I64(poll_wait(&p, ep, out, 4, 20), 0);
    ASSERT_EQ_I64(p.sleeps, 1);
    ASSERT_EQ_I64(p.budget_ns, 100000);
    /* without a budget, the same wait does not poll at all */
    p.budget_ns = 0;
    ASSERT_EQ_I64(poll_wait(&p, ep, out, 4, 1), 0);
    ASSERT_EQ_I64(p.polled_hits, 1);
    close(ev);
    close(ep);
}
