/* sim.h — the deterministic cluster simulator (reliability.md §6.2).
 *
 * One process, one thread, discrete events ordered by (time, sequence): N
 * voters and M observers each run the real ZAB core (src/quorum/zab.c) and the
 * real txn apply (src/apply.c) over a simulated network (FIFO connections,
 * delays, loss-and-reset, partitions of any shape, holds) and a simulated disk
 * per node (durable vs unsynced data, crash keeps an allowed prefix and tears
 * the last write, unsynced directory entries vanish). Simulated clients issue
 * writes and syncs and record what was acknowledged. Invariants are checked
 * as events happen (sim_check.c). Every random choice comes from one seeded
 * generator, so a seed (or a script) replays byte-for-byte; the trace hash
 * proves it.
 *
 * Files: sim_disk.c (file system model), sim_node.c (one server: recovery,
 * effects, apply), sim_world.c (events, network, clients, faults, runs),
 * sim_check.c (invariants), sim_script.c (scenario scripts), sim_main.c (CLI). */
#ifndef ZK_SIM_H
#define ZK_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../src/quorum/zab.h"
#include "../../src/session.h"
#include "../../src/tree.h"
#include "../../src/watch.h"

#define SIM_NODES_MAX 9
#define SIM_CLIENTS_MAX 8
#define SIM_CLIENT_NODES_MAX 12
#define SIM_NAME_MAX 48
#define SIM_TRACE_RING 400
/* crash-at-effect on the disk pipeline: after the k-th storage step executed */
#define SIM_CAUSE_DISK (-2)
/* scripted EIO (sim_node.eio_next) */
#define SIM_EIO_WRITE 1
#define SIM_EIO_SYNC 2

/* ---- PRNG: splitmix64 seeding xoshiro256** ---- */

struct sim_rng {
    uint64_t s[4];
};
void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n); /* uniform in [0, n) */
bool sim_rng_chance(struct sim_rng *r, double p);
uint64_t sim_hash_bytes(uint64_t h, const void *p, size_t n); /* FNV-1a 64 */
uint64_t sim_mix64(uint64_t x);

/* ---- disk ---- */

enum { SIM_FOP_WRITE = 1, SIM_FOP_TRUNC };
enum { SIM_DOP_CREATE = 1, SIM_DOP_RENAME, SIM_DOP_UNLINK };

struct sim_fop {
    int kind;
    uint64_t off; /* WRITE: offset; TRUNC: new size */
    uint8_t *data;
    uint32_t len;
};

struct sim_inode {
    bool used;
    uint8_t *vdata; /* what reads see */
    uint64_t vsize, vcap;
    uint8_t *ddata; /* what survives a crash for sure */
    uint64_t dsize, dcap;
    struct sim_fop *ops; /* unsynced, in order */
    uint32_t op_count, op_cap;
};

struct sim_dirent {
    char name[SIM_NAME_MAX];
    int ino;
};

struct sim_dop {
    int kind;
    char name[SIM_NAME_MAX];
    char name2[SIM_NAME_MAX];
    int ino;
};

struct sim_dir {
    struct sim_dirent *e;
    uint32_t count, cap;
};

struct sim_disk {
    struct sim_inode *ino;
    uint32_t ino_count;
    struct sim_dir vdir, ddir;
    struct sim_dop *dops;
    uint32_t dop_count, dop_cap;
};

void sim_disk_init(struct sim_disk *d);
void sim_disk_deinit(struct sim_disk *d);
int sim_disk_lookup(const struct sim_disk *d, const char *name);
int sim_disk_create(struct sim_disk *d, const char *name); /* new empty file (replaces) */
void sim_disk_write(struct sim_disk *d, int ino, uint64_t off, const void *p, uint32_t len);
void sim_disk_truncate(struct sim_disk *d, int ino, uint64_t size);
void sim_disk_fsync(struct sim_disk *d, int ino);
void sim_disk_rename(struct sim_disk *d, const char *from, const char *to);
void sim_disk_unlink(struct sim_disk *d, const char *name);
void sim_disk_fsync_dir(struct sim_disk *d);
const uint8_t *sim_disk_data(const struct sim_disk *d, int ino, uint64_t *size);
uint32_t sim_disk_names(const struct sim_disk *d, char names[][SIM_NAME_MAX], uint32_t cap);
/* Power loss: each file keeps its durable data plus a prefix of its unsynced
 * writes, the last one possibly torn (cut short, tail garbage); the directory
 * keeps a prefix of its unsynced operations. */
void sim_disk_crash(struct sim_disk *d, struct sim_rng *r);

/* ---- one simulated server ---- */

struct sim_logrec {
    int64_t zxid;
    uint64_t end; /* file offset after the record */
    uint64_t hash;
};

struct sim_loglist {
    struct sim_logrec *r;
    uint32_t count, cap;
    int64_t base;      /* zxid before the first record (the snapshot's) */
    uint64_t base_end; /* file offset after the records up to base */
};

/* A storage effect queued on the node's disk, which runs them in order (one
 * log-writer pipeline). Appends and truncations take no time; fsyncs do. */
struct sim_pend {
    int kind; /* ZAB_EFF_LOG_APPEND / LOG_TRUNCATE / LOG_SYNC / EPOCH_WRITE / SNAP_INSTALL */
    int stage;
    uint64_t op_id;
    int32_t epoch_kind;
    uint32_t epoch;
    int64_t zxid;
    uint8_t *data; /* owned copy: APPEND payload, INSTALL image */
    uint32_t len;
    bool dropped; /* driver mutants only: the op is skipped, yet reported done */
};

struct sim_write {
    int64_t zxid;
    int client;
    uint64_t seq;
};

struct sim_syncreq {
    uint64_t id;
    int client;
    uint64_t seq;
};

struct sim_node {
    int idx;
    int64_t sid;
    bool observer;
    bool up;
    bool paused;
    bool broken; /* recovery refused to start */
    uint32_t inc; /* incarnation: events of an older one are void */
    int64_t paused_until;
    struct zab *z;
    struct sim_disk disk;
    struct tree tree;
    struct session_table sessions;
    struct watch_mgr watches;
    bool state_init;
    int64_t applied_zxid;
    uint32_t hist_pos; /* next index into the committed history */
    /* host's view of its log file and epoch files */
    int log_ino;
    struct sim_loglist vlog; /* written */
    struct sim_loglist dlog; /* fsynced */
    int64_t dsnap_zxid;      /* durable snapshot (or fsynced install image) */
    int64_t dur_committed;   /* highest committed zxid its disk ever held, whole prefix */
    uint32_t dur_accepted, dur_current;
    struct sim_pend *pend;
    uint32_t pend_head, pend_count, pend_cap;
    bool disk_busy;
    /* role as last reported */
    int32_t role;
    bool established;
    uint32_t epoch;
    int64_t leader;
    /* crash-at-effect */
    bool crash_armed;
    int32_t crash_cause;
    uint32_t crash_k;
    uint32_t crash_seen;
    /* scripted EIO on the next log write or fsync (fatal unless mutated) */
    int eio_next;
    /* rule checks */
    int64_t nl_required;
    uint32_t leaderinfo_epoch;
    /* client work in progress here */
    struct sim_write *writes;
    uint32_t write_count, write_cap;
    struct sim_syncreq *syncs;
    uint32_t sync_count, sync_cap;
    uint64_t next_sync_id;
};

/* ---- clients ---- */

enum sim_op_kind {
    SIM_OP_NONE = 0,
    SIM_OP_SESSION,
    SIM_OP_CREATE,
    SIM_OP_CREATE_EPH,
    SIM_OP_SET,
    SIM_OP_DELETE,
    SIM_OP_CLOSE,
    SIM_OP_SYNC,
};

struct sim_cnode {
    char path[32];
    bool ephemeral;
    int32_t version;
};

struct sim_client {
    int idx;
    bool active;
    int64_t session;
    bool session_open;
    uint32_t session_inc;
    int target;
    int op;
    uint64_t seq;
    char op_path[32];
    int32_t op_version;
    bool waiting;
    int64_t deadline;
    int64_t sync_need;
    uint32_t pick; /* index into nodes[] for set/delete */
    uint32_t name_seq;
    struct sim_cnode nodes[SIM_CLIENT_NODES_MAX];
    uint32_t node_count;
    uint32_t retries;
    /* scripted single op result */
    int last_result; /* 0 none, 1 ok, 2 indeterminate, 3 not leader */
    int64_t last_zxid;
    uint64_t acks;
};

/* ---- the world ---- */

struct sim_conn {
    uint64_t id;
    int a, b; /* a = learner (initiator), b = leader */
    uint32_t inc_a, inc_b;
    bool alive;         /* takes new messages */
    bool reset;         /* RST: what is in flight is lost too */
    uint64_t close_seq; /* closed or crashed: messages sent before still arrive */
    int64_t last_at[2]; /* FIFO: last delivery time per direction (0: a->b) */
    /* checker (sim_check.c): the leader's stream on this connection */
    int64_t learner_zxid; /* what the learner advertised in ACKEPOCH (-1: nothing yet) */
    int64_t stream_last;  /* last zxid the sync point and stream cover (-1: no sync yet) */
};

struct sim_event;

struct sim_heldmsg {
    struct sim_event *ev;
};

struct sim_params {
    uint32_t voters, observers, clients;
    int64_t tick_ms;
    uint32_t init_limit, sync_limit, finalize_wait, resend_min, resend_max, window;
    int64_t net_delay_min, net_delay_max;
    int64_t disk_delay_min, disk_delay_max;
    double vote_loss;   /* election notification loss */
    double conn_reset;  /* per learner message: reset the connection */
    double eio;         /* per storage stage: an injected EIO/ENOSPC (fatal) */
    bool crash_rst;     /* a crashed node's peers see their connections reset */
    int64_t client_think_ms, client_timeout_ms;
};

struct sim_hist {
    int64_t zxid;
    uint64_t hash;
    uint64_t digest; /* tree digest after applying it */
};

struct sim_zmap { /* zxid -> txn hash, every txn ever logged anywhere */
    int64_t *k;
    uint64_t *v;
    uint32_t cap, count;
};

struct sim {
    uint64_t seed;
    struct sim_rng rng;
    struct sim_params p;
    int64_t now;
    uint64_t ev_seq;
    struct sim_event **heap;
    uint32_t heap_count, heap_cap;
    struct sim_node nodes[SIM_NODES_MAX];
    uint32_t node_count;
    struct sim_client clients[SIM_CLIENTS_MAX];
    struct sim_conn *conns;
    uint32_t conn_count, conn_cap;
    bool blocked[SIM_NODES_MAX][SIM_NODES_MAX]; /* [from][to] */
    int64_t link_extra_ms[SIM_NODES_MAX][SIM_NODES_MAX]; /* per-link added latency */
    uint32_t hold_mask[SIM_NODES_MAX][SIM_NODES_MAX]; /* message types held per link */
    uint32_t cut_mask[SIM_NODES_MAX][SIM_NODES_MAX];  /* types whose delivery resets the link */
    struct sim_heldmsg *held[SIM_NODES_MAX][SIM_NODES_MAX];
    uint32_t held_count[SIM_NODES_MAX][SIM_NODES_MAX];
    uint32_t held_cap[SIM_NODES_MAX][SIM_NODES_MAX];
    bool faults_on; /* random nemesis active */
    /* checker state */
    struct sim_hist *hist;
    uint32_t hist_count, hist_cap;
    uint64_t empty_digest;
    struct sim_zmap zmap;
    struct {
        int64_t zxid;
        uint64_t hash;
    } *acked;
    uint32_t acked_count, acked_cap;
    int64_t max_acked_zxid;
    int64_t leader_of_epoch[4096]; /* epoch -> sid of its established leader (0: none) */
    uint64_t events;
    bool violated;
    bool rules_off; /* scripts: only end-to-end invariants, to show a bug's consequence */
    char violation[512];
    /* trace */
    uint64_t trace_hash;
    bool verbose;
    FILE *out;        /* script output (golden); NULL in seed mode */
    bool trace_roles; /* print role changes to out */
    char ring[SIM_TRACE_RING][200];
    uint32_t ring_pos;
    uint64_t writes_acked;
};

/* --rules-off: random runs and sweeps check only end-to-end invariants (to
 * measure what they catch without the message-level §5 checks). */
extern bool sim_rules_off_default;
/* The random run in progress (for the driver's abort handler), or NULL. */
extern struct sim *sim_current;

/* world (sim_world.c) */
void sim_init(struct sim *s, uint64_t seed, const struct sim_params *p);
void sim_deinit(struct sim *s);
void sim_default_params(struct sim_params *p);
void sim_trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_start_node(struct sim *s, int i);
void sim_crash_node(struct sim *s, int i, const char *why);
bool sim_step(struct sim *s); /* one event; false when the queue is empty */
void sim_run_for(struct sim *s, int64_t ms);
/* Runs until stable (one established leader, everyone up is synced and caught
 * up, nothing in flight) or the deadline; returns stable. */
bool sim_run_until_stable(struct sim *s, int64_t max_ms);
bool sim_is_stable(const struct sim *s, int *leader_out);
void sim_heal(struct sim *s);
void sim_partition(struct sim *s, const int *group, uint32_t n); /* group vs the rest */
void sim_client_start(struct sim *s, int c);
/* Scripted client operation: submits and runs until answered or timeout. */
int sim_client_op_wait(struct sim *s, int c, int op, int target, int64_t max_ms);
void sim_client_submit(struct sim *s, int c, int op, int target);
void sim_release(struct sim *s, int from, int to);
int sim_node_by_sid(const struct sim *s, int64_t sid);
/* The random run of one seed: faults, heal, liveness, convergence. */
int sim_run_seed(uint64_t seed, bool verbose, uint64_t *trace_hash);

/* events needed by sim_node.c */
void sim_net_send(struct sim *s, int from, const struct zab_effect *ef);
void sim_net_vote(struct sim *s, int from, const struct zab_effect *ef);
void sim_net_connect(struct sim *s, int from, int64_t peer);
void sim_net_close(struct sim *s, int from, int64_t peer, uint64_t conn);
void sim_disk_kick(struct sim *s, int i);
void sim_client_reply(struct sim *s, int c, uint64_t seq, int result, int64_t zxid);

/* node (sim_node.c) */
int sim_node_boot(struct sim *s, struct sim_node *n); /* recovery + zab_create */
void sim_node_teardown(struct sim *s, struct sim_node *n);
/* Runs the core's pending effects; false if the node crashed doing so. */
bool sim_node_drain(struct sim *s, struct sim_node *n);
void sim_node_disk_stage(struct sim *s, struct sim_node *n);
void sim_node_client_request(struct sim *s, struct sim_node *n, int c, uint64_t seq, int op);
uint64_t sim_tree_digest(const struct tree *t, const struct session_table *ss);
int64_t sim_node_propose_raw(struct sim *s, struct sim_node *n, const char *path);
/* A snapshot of the node's own applied state, written durably now; returns its
 * zxid, or -1 (none taken) while a SNAP install is in progress. */
int64_t sim_node_snapshot(struct sim *s, struct sim_node *n);
void sim_loglist_free(struct sim_loglist *l);
bool sim_loglist_has(const struct sim_loglist *l, int64_t zxid, uint64_t hash);
int64_t sim_loglist_find(const struct sim_loglist *l, int64_t zxid); /* index or -1 */

/* checker (sim_check.c) */
void sim_violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_check_apply(struct sim *s, struct sim_node *n, int64_t zxid, uint64_t hash);
void sim_check_installed(struct sim *s, struct sim_node *n, int64_t zxid);
void sim_check_snapshot(struct sim *s, struct sim_node *n, int64_t zxid, uint64_t digest);
void sim_check_logged(struct sim *s, struct sim_node *n, int64_t zxid, uint64_t hash);
void sim_check_send(struct sim *s, struct sim_node *n, const struct zab_effect *ef);
void sim_check_vote(struct sim *s, struct sim_node *n, const struct zab_effect *ef);
void sim_check_role(struct sim *s, struct sim_node *n, const struct zab_effect *ef);
void sim_check_quorum(struct sim *s, struct sim_node *n, const struct zab_effect *ef);
void sim_check_disk(struct sim *s, struct sim_node *n);
void sim_check_current_epoch(struct sim *s, struct sim_node *n);
void sim_check_durability(struct sim *s);
void sim_check_all(struct sim *s);
void sim_check_acked(struct sim *s, int64_t zxid, uint64_t hash);
void sim_check_sync(struct sim *s, int64_t need, int64_t got);
void sim_check_converged(struct sim *s);

/* script (sim_script.c) */
int sim_run_script(const char *path, bool rewrite);

/* crash-at-effect sweep (sim_sweep.c); -1/0/0 select everything */
int sim_run_sweep(bool verbose, int only_target, int32_t only_cause, uint32_t only_k);

#endif
