/* sim_sweep.c — crash-at-effect, swept (reliability.md §4.1 first item, §6.2).
 *
 * One fixed scenario that goes through every phase of the protocol (election,
 * discovery, DIFF/TRUNC/SNAP sync, broadcast with a lagging follower, leader
 * failover, an old leader with uncommitted proposals returning) is run once
 * per (node, cause, k): the node crashes right after the k-th effect whose
 * cause is a given message type (or proposing, ticking, or the k-th step of
 * its disk). After the scenario every node is restarted through recovery; the
 * cluster must settle, take a write, and satisfy every invariant. Each run is
 * deterministic; a failure prints the triple that reproduces it. */
#include "sim.h"

#include <inttypes.h>
#include <string.h>

#include "../../src/base.h"
#include "../../src/mem.h"

static const int32_t sweep_causes[] = {
    ZMSG_PROPOSAL,  ZMSG_COMMIT,     ZMSG_ACK,          ZMSG_INFORM,    ZMSG_FOLLOWERINFO,
    ZMSG_LEADERINFO, ZMSG_ACKEPOCH,  ZMSG_DIFF,         ZMSG_TRUNC,     ZMSG_SNAP,
    ZMSG_NEWLEADER, ZMSG_UPTODATE,   ZMSG_PING,         ZAB_CAUSE_PROPOSE, ZAB_CAUSE_VOTE,
    SIM_CAUSE_DISK,
};

#define SWEEP_K_MAX 8
#define SWEEP_TARGETS 3 /* n1 (a follower), n3 (the first leader), n4 (the observer) */

static int sweep_leader(const struct sim *s) {
    for (uint32_t i = 0; i < s->node_count; i++) {
        if (s->nodes[i].up && s->nodes[i].role == ZAB_LEADING && s->nodes[i].established)
            return (int)i;
    }
    return -1;
}

static void sweep_writes(struct sim *s, int count) {
    for (int k = 0; k < count && !s->violated; k++) {
        int l = sweep_leader(s);
        if (l < 0) {
            sim_run_until_stable(s, 3000);
            l = sweep_leader(s);
            if (l < 0)
                return;
        }
        int op = s->clients[0].session_open ? SIM_OP_CREATE : SIM_OP_SESSION;
        sim_client_op_wait(s, 0, op, l, 2000);
    }
}

static void sweep_restart_all(struct sim *s) {
    for (uint32_t i = 0; i < s->node_count; i++) {
        s->nodes[i].crash_armed = false;
        if (!s->nodes[i].up)
            sim_start_node(s, (int)i);
    }
}

/* The scenario; returns 0 or 1 (violation). */
static int sweep_one(int target, int32_t cause, uint32_t k, bool verbose) {
    struct sim_params p;
    sim_default_params(&p);
    p.voters = 3;
    p.observers = 1;
    p.clients = 1;
    p.window = 4;
    p.net_delay_min = 2;
    p.net_delay_max = 6;
    p.disk_delay_min = 1;
    p.disk_delay_max = 6;
    p.resend_max = 4;
    struct sim *s = zk_xcalloc(1, sizeof(*s));
    sim_init(s, 0x5eeb0000u + (uint64_t)target * 1000 + (uint64_t)cause * 10 + k, &p);
    s->verbose = verbose;
    for (uint32_t i = 0; i < s->node_count; i++)
        sim_start_node(s, (int)i);
    sim_run_until_stable(s, 5000);
    static const int targets[SWEEP_TARGETS] = {0, 2, 3};
    struct sim_node *t = &s->nodes[targets[target]];
    t->crash_armed = true;
    t->crash_cause = cause;
    t->crash_k = k;
    t->crash_seen = 0;
    sweep_writes(s, 3); /* broadcast */
    int lag[1] = {0};
    sim_partition(s, lag, 1); /* n1 falls behind the window */
    sweep_writes(s, 6);
    sim_heal(s);
    sim_run_for(s, 1500); /* n1 syncs by SNAP */
    int l = sweep_leader(s);
    if (l >= 0)
        sim_crash_node(s, l, "sweep: leader failover");
    sim_run_until_stable(s, 5000);
    sweep_writes(s, 2);
    for (uint32_t i = 0; i < s->node_count; i++) {
        if (!s->nodes[i].up)
            sim_start_node(s, (int)i); /* the armed crash stays armed */
    }
    sim_run_until_stable(s, 5000);
    l = sweep_leader(s);
    if (l >= 0) { /* an old leader with uncommitted txns returns: TRUNC */
        sim_partition(s, &l, 1);
        for (int n = 0; n < 2 && s->nodes[l].up; n++) {
            char path[32];
            snprintf(path, sizeof(path), "/old%d", n);
            sim_node_propose_raw(s, &s->nodes[l], path);
        }
        sim_run_for(s, 1500);
        sweep_writes(s, 2);
        sim_heal(s);
        sim_run_for(s, 1500);
    }
    sweep_restart_all(s);
    if (!sim_run_until_stable(s, 30000) && !s->violated)
        sim_violation(s, "liveness: no stable cluster 30 s after the sweep scenario");
    sweep_writes(s, 1);
    if (!s->violated && !sim_run_until_stable(s, 30000))
        sim_violation(s, "liveness: the final write did not settle");
    if (!s->violated) {
        sim_check_converged(s);
        sim_check_all(s);
    }
    int rc = s->violated ? 1 : 0;
    if (rc != 0)
        fprintf(stderr, "sweep n%d cause %d k %u: VIOLATION: %s\n", targets[target] + 1, cause, k,
                s->violation);
    sim_deinit(s);
    zk_free(s);
    return rc;
}

int sim_run_sweep(bool verbose, int only_target, int32_t only_cause, uint32_t only_k) {
    uint32_t runs = 0, failed = 0;
    for (int t = 0; t < SWEEP_TARGETS; t++) {
        if (only_target >= 0 && t != only_target)
            continue;
        for (uint32_t c = 0; c < ZK_ARRAY_LEN(sweep_causes); c++) {
            if (only_cause != 0 && sweep_causes[c] != only_cause)
                continue;
            for (uint32_t k = 1; k <= SWEEP_K_MAX; k++) {
                if (only_k != 0 && k != only_k)
                    continue;
                runs++;
                if (sweep_one(t, sweep_causes[c], k, verbose) != 0) {
                    failed++;
                    fprintf(stderr, "reproduce: sim --sweep %d %d %u -v\n", t, sweep_causes[c],
                            k);
                }
            }
        }
    }
    printf("sim sweep: %u crash points, %u failed\n", runs, failed);
    return failed ? 1 : 0;
}
