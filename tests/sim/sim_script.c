/* sim_script.c — scenario scripts with golden output (etcd-raft testdata style).
 *
 * A script (testdata/NAME.txt) is one command per line; `#` starts a comment.
 * The runner echoes each command as "> command" and prints what it did,
 * indented; the whole output must equal testdata/NAME.out (--rewrite writes
 * it). Any invariant violation prints "VIOLATION: ..." and ends the run, so a
 * script whose golden output has none fails whenever the bug it targets
 * comes back. Nodes are n1..nN (voters first, then observers); "leader" is the
 * current established leader. Delays are fixed, so a script is exact.
 *
 *   cluster voters=V [observers=O] [seed=S] [window=W] [delay=MS] [disk=MS]
 *           [tick=MS] [init=T] [sync=T] [finalize=T] [resend=T] [resendmax=T]
 *           [rst=0|1]    (limits in ticks; rst: a crash resets its connections)
 *   start [nX ...]              boot nodes (all by default) through recovery
 *   run MS                      process events for MS milliseconds
 *   stabilize [MS]              run until one leader, all synced and caught up
 *   write [nX|leader] [count=N] client 0 creates nodes, waiting for each answer
 *   eph [nX|leader] [count=N]   the same with ephemeral nodes of client 0's session
 *   close [nX|leader]           client 0 closes its session (a closeSession txn)
 *   sync [nX|leader]            client 1 syncs and checks the result is fresh
 *   propose [nX|leader] [count=N]  txns proposed at a leader directly, not awaited
 *   partition nA nB | nC ...    cut every link between the groups
 *   isolate nX / block nA->nB / heal
 *   hold nA->nB TYPE[,TYPE]     park TYPE messages on that link (and all after)
 *   release nA->nB              deliver what was parked, in order
 *   cut nA->nB TYPE             the connection resets when TYPE would arrive
 *   crash nX [after=TYPE:K]     crash now, or after the K-th effect caused by TYPE
 *                               (a message type, propose, tick; or disk: the K-th
 *                               storage step the node's disk executes)
 *   restart nX / pause nX MS
 *   eio nX write|sync           nX's next log write (or fsync) fails with EIO
 *   snapshot nX                 nX snapshots its own applied state (durable at once)
 *   status / log nX / check
 *   seed-run S                 one whole random run (sim --seed S), pinned because
 *                              it once reached a shape worth keeping
 *   rules off|on               message-level §5 checks off: only end-to-end
 *                              invariants remain, to show a bug's consequence */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/base.h"
#include "../../src/jute.h"
#include "../../src/mem.h"
#include "../../src/txn.h"

#define SCRIPT_TOKENS 32

struct script {
    struct sim *s;
    FILE *out;
    bool have;
    bool failed; /* a seed-run failed */
    uint64_t propose_seq;
};

static int script_node(const struct script *sc, const char *tok) {
    if (strcmp(tok, "leader") == 0) {
        for (uint32_t i = 0; i < sc->s->node_count; i++) {
            const struct sim_node *n = &sc->s->nodes[i];
            if (n->up && n->role == ZAB_LEADING && n->established)
                return (int)i;
        }
        return -1;
    }
    if (tok[0] != 'n')
        return -1;
    int i = atoi(tok + 1) - 1;
    return i >= 0 && (uint32_t)i < sc->s->node_count ? i : -1;
}

static bool script_link(const struct script *sc, const char *tok, int *a, int *b) {
    char left[16], right[16];
    const char *arrow = strstr(tok, "->");
    if (arrow == NULL || arrow - tok >= (long)sizeof(left) || strlen(arrow + 2) >= sizeof(right))
        return false;
    memcpy(left, tok, (size_t)(arrow - tok));
    left[arrow - tok] = 0;
    snprintf(right, sizeof(right), "%s", arrow + 2);
    *a = script_node(sc, left);
    *b = script_node(sc, right);
    return *a >= 0 && *b >= 0;
}

static int32_t script_type(const char *name) {
    for (int32_t t = 1; t < ZMSG_TYPE_COUNT; t++) {
        if (strcmp(zmsg_type_name(t), name) == 0)
            return t;
    }
    if (strcmp(name, "propose") == 0)
        return ZAB_CAUSE_PROPOSE;
    if (strcmp(name, "tick") == 0)
        return ZAB_CAUSE_TICK;
    if (strcmp(name, "disk") == 0)
        return SIM_CAUSE_DISK;
    return -1;
}

static long script_opt(char **tok, int ntok, const char *key, long def) {
    size_t kl = strlen(key);
    for (int i = 1; i < ntok; i++) {
        if (strncmp(tok[i], key, kl) == 0 && tok[i][kl] == '=')
            return strtol(tok[i] + kl + 1, NULL, 0);
    }
    return def;
}

static void script_cluster(struct script *sc, char **tok, int ntok) {
    struct sim_params p;
    sim_default_params(&p);
    p.voters = (uint32_t)script_opt(tok, ntok, "voters", 3);
    p.observers = (uint32_t)script_opt(tok, ntok, "observers", 0);
    p.clients = 2;
    p.window = (uint32_t)script_opt(tok, ntok, "window", 64);
    p.tick_ms = script_opt(tok, ntok, "tick", 100);
    p.init_limit = (uint32_t)script_opt(tok, ntok, "init", 10);
    p.sync_limit = (uint32_t)script_opt(tok, ntok, "sync", 5);
    p.finalize_wait = (uint32_t)script_opt(tok, ntok, "finalize", 2);
    p.resend_min = (uint32_t)script_opt(tok, ntok, "resend", 2);
    p.resend_max = (uint32_t)script_opt(tok, ntok, "resendmax", 16);
    p.net_delay_min = p.net_delay_max = script_opt(tok, ntok, "delay", 5);
    p.disk_delay_min = p.disk_delay_max = script_opt(tok, ntok, "disk", 3);
    p.crash_rst = script_opt(tok, ntok, "rst", 1) != 0;
    sc->s = zk_xcalloc(1, sizeof(*sc->s));
    sim_init(sc->s, (uint64_t)script_opt(tok, ntok, "seed", 1), &p);
    sc->s->out = sc->out;
    sc->s->trace_roles = true;
    sc->s->verbose = getenv("SIM_VERBOSE") != NULL;
    sc->have = true;
}

static void script_status_line(struct script *sc, int i) {
    struct sim_node *n = &sc->s->nodes[i];
    if (!n->up) {
        fprintf(sc->out, "  n%d down\n", i + 1);
        return;
    }
    struct zab_status st;
    zab_status(n->z, &st);
    char leader[24] = "-";
    if (st.leader > 0)
        snprintf(leader, sizeof(leader), "n%" PRId64, st.leader);
    fprintf(sc->out,
            "  n%d %s%s leader=%s epoch=%u acc=%u cur=%u last=0x%" PRIx64 " commit=0x%" PRIx64
            " applied=0x%" PRIx64 "\n",
            i + 1, zab_role_name(st.role), st.established ? "*" : "", leader, st.epoch,
            st.accepted_epoch, st.current_epoch, st.last_zxid, st.commit_zxid, st.applied_zxid);
}

static void script_log(struct script *sc, int i) {
    struct sim_node *n = &sc->s->nodes[i];
    fprintf(sc->out, "  n%d disk: acc=%u cur=%u snapshot=0x%" PRIx64 " log", i + 1,
            n->dur_accepted, n->dur_current, n->dsnap_zxid);
    if (n->dlog.count == 0)
        fprintf(sc->out, " empty");
    for (uint32_t k = 0; k < n->dlog.count; k++)
        fprintf(sc->out, " 0x%" PRIx64, n->dlog.r[k].zxid);
    fprintf(sc->out, "\n");
}

static const char *script_result(int r) {
    switch (r) {
    case 1:
        return "ok";
    case 2:
        return "indeterminate";
    case 3:
        return "not leader";
    default:
        return "no answer";
    }
}

static void script_write(struct script *sc, char **tok, int ntok, int op) {
    struct sim *s = sc->s;
    int target = script_node(sc, ntok > 1 && tok[1][0] != 'c' ? tok[1] : "leader");
    long count = script_opt(tok, ntok, "count", 1);
    struct sim_client *c = &s->clients[0];
    for (long k = 0; k < count && !s->violated; k++) {
        if (target < 0) {
            fprintf(sc->out, "  write: no leader\n");
            return;
        }
        if (!c->session_open) {
            int r = sim_client_op_wait(s, 0, SIM_OP_SESSION, target, s->p.client_timeout_ms);
            fprintf(sc->out, "  session: %s", script_result(r));
            if (r == 1)
                fprintf(sc->out, " 0x%" PRIx64, c->last_zxid);
            fprintf(sc->out, "\n");
            if (r != 1)
                return;
        }
        int r = sim_client_op_wait(s, 0, op, target, s->p.client_timeout_ms);
        fprintf(sc->out, "  %s %s: %s", op == SIM_OP_CREATE ? "write" : "ephemeral", c->op_path,
                script_result(r));
        if (r == 1)
            fprintf(sc->out, " 0x%" PRIx64, c->last_zxid);
        fprintf(sc->out, "\n");
    }
}

/* Client 1 syncs and checks the answer is fresh (sim_check_sync). */
static void script_sync(struct script *sc, char **tok, int ntok) {
    struct sim *s = sc->s;
    int target = script_node(sc, ntok > 1 ? tok[1] : "leader");
    if (target < 0)
        target = 0;
    int r = sim_client_op_wait(s, 1, SIM_OP_SYNC, target, s->p.client_timeout_ms);
    fprintf(sc->out, "  sync at n%d: %s", target + 1, script_result(r));
    if (r == 1)
        fprintf(sc->out, " 0x%" PRIx64, s->clients[1].last_zxid);
    fprintf(sc->out, "\n");
}

/* Client 0 closes its session: a closeSession txn deletes its ephemerals. */
static void script_close(struct script *sc, char **tok, int ntok) {
    struct sim *s = sc->s;
    int target = script_node(sc, ntok > 1 ? tok[1] : "leader");
    int r = target < 0 ? 0
                       : sim_client_op_wait(s, 0, SIM_OP_CLOSE, target, s->p.client_timeout_ms);
    fprintf(sc->out, "  close session: %s", script_result(r));
    if (r == 1)
        fprintf(sc->out, " 0x%" PRIx64, s->clients[0].last_zxid);
    fprintf(sc->out, "\n");
}

/* Proposals made at the leader directly: they exist only in logs until
 * committed; nobody waits for them. */
static void script_propose(struct script *sc, char **tok, int ntok) {
    struct sim *s = sc->s;
    int i = script_node(sc, ntok > 1 && tok[1][0] == 'n' ? tok[1] : "leader");
    long count = script_opt(tok, ntok, "count", 1);
    if (i < 0 || !s->nodes[i].up) {
        fprintf(sc->out, "  propose: no such leader\n");
        return;
    }
    struct sim_node *n = &s->nodes[i];
    for (long k = 0; k < count && n->up; k++) {
        char path[32];
        snprintf(path, sizeof(path), "/p%" PRIu64, ++sc->propose_seq);
        int64_t zxid = sim_node_propose_raw(s, n, path);
        if (zxid < 0) {
            fprintf(sc->out, "  propose: n%d cannot propose\n", i + 1);
            return;
        }
        fprintf(sc->out, "  n%d proposed %s as 0x%" PRIx64 "\n", i + 1, path, zxid);
    }
}

static void script_groups(struct script *sc, char **tok, int ntok) {
    struct sim *s = sc->s;
    int which[SIM_NODES_MAX];
    for (uint32_t i = 0; i < SIM_NODES_MAX; i++)
        which[i] = -1;
    int gi = 0;
    for (int k = 1; k < ntok; k++) {
        if (strcmp(tok[k], "|") == 0) {
            gi++;
            continue;
        }
        int i = script_node(sc, tok[k]);
        if (i >= 0)
            which[i] = gi;
    }
    for (uint32_t a = 0; a < s->node_count; a++) {
        for (uint32_t b = 0; b < s->node_count; b++) {
            if (which[a] != which[b])
                s->blocked[a][b] = true;
        }
    }
}

static void script_crash(struct script *sc, int i, char **tok, int ntok) {
    struct sim *s = sc->s;
    for (int k = 2; k < ntok; k++) {
        if (strncmp(tok[k], "after=", 6) != 0)
            continue;
        char name[32];
        unsigned kth = 0;
        const char *colon = strchr(tok[k] + 6, ':');
        if (colon == NULL || (size_t)(colon - tok[k] - 6) >= sizeof(name)) {
            fprintf(sc->out, "  bad after= (want TYPE:K)\n");
            return;
        }
        memcpy(name, tok[k] + 6, (size_t)(colon - tok[k] - 6));
        name[colon - tok[k] - 6] = 0;
        kth = (unsigned)atoi(colon + 1);
        struct sim_node *n = &s->nodes[i];
        n->crash_armed = true;
        n->crash_cause = script_type(name);
        n->crash_k = kth;
        n->crash_seen = 0;
        fprintf(sc->out, "  n%d will crash after effect %u caused by %s\n", i + 1, kth, name);
        return;
    }
    sim_crash_node(s, i, "script");
}

static bool script_node_cmd(struct script *sc, char **tok, int ntok) {
    struct sim *s = sc->s;
    const char *cmd = tok[0];
    int i = ntok > 1 ? script_node(sc, tok[1]) : -1;
    if (strcmp(cmd, "crash") == 0 && i >= 0)
        script_crash(sc, i, tok, ntok);
    else if (strcmp(cmd, "restart") == 0 && i >= 0)
        sim_start_node(s, i);
    else if (strcmp(cmd, "isolate") == 0 && i >= 0)
        sim_partition(s, &i, 1);
    else if (strcmp(cmd, "log") == 0 && i >= 0)
        script_log(sc, i);
    else if (strcmp(cmd, "eio") == 0 && i >= 0 && ntok > 2 &&
             (strcmp(tok[2], "write") == 0 || strcmp(tok[2], "sync") == 0))
        s->nodes[i].eio_next = tok[2][0] == 'w' ? SIM_EIO_WRITE : SIM_EIO_SYNC;
    else if (strcmp(cmd, "snapshot") == 0 && i >= 0 && s->nodes[i].up) {
        int64_t zxid = sim_node_snapshot(s, &s->nodes[i]);
        if (zxid < 0)
            fprintf(sc->out, "  n%d: no snapshot while a SNAP install is in progress\n", i + 1);
        else
            fprintf(sc->out, "  n%d snapshot at 0x%" PRIx64 "\n", i + 1, zxid);
    }
    else if (strcmp(cmd, "pause") == 0 && i >= 0 && ntok > 2) {
        s->nodes[i].paused = true;
        s->nodes[i].paused_until = s->now + atol(tok[2]);
        sim_run_for(s, atol(tok[2]));
    } else
        return false;
    return true;
}

static bool script_link_cmd(struct script *sc, char **tok, int ntok) {
    struct sim *s = sc->s;
    int a, b;
    if (ntok < 2 || !script_link(sc, tok[1], &a, &b))
        return false;
    if (strcmp(tok[0], "block") == 0) {
        s->blocked[a][b] = true;
    } else if (strcmp(tok[0], "release") == 0) {
        sim_release(s, a, b);
    } else if ((strcmp(tok[0], "hold") == 0 || strcmp(tok[0], "cut") == 0) && ntok > 2) {
        char types[128];
        snprintf(types, sizeof(types), "%s", tok[2]);
        for (char *t = strtok(types, ","); t != NULL; t = strtok(NULL, ",")) {
            int32_t ty = script_type(t);
            if (ty <= 0 || ty >= ZMSG_TYPE_COUNT)
                return false;
            if (tok[0][0] == 'h')
                s->hold_mask[a][b] |= 1u << ty;
            else
                s->cut_mask[a][b] |= 1u << ty;
        }
    } else {
        return false;
    }
    return true;
}

static bool script_exec(struct script *sc, char **tok, int ntok) {
    const char *cmd = tok[0];
    if (strcmp(cmd, "cluster") == 0) {
        script_cluster(sc, tok, ntok);
        return true;
    }
    if (strcmp(cmd, "seed-run") == 0 && ntok > 1) {
        uint64_t seed = strtoull(tok[1], NULL, 0), hash;
        int rc = sim_run_seed(seed, false, &hash);
        fprintf(sc->out, "  seed 0x%" PRIx64 ": %s\n", seed, rc == 0 ? "ok" : "VIOLATION");
        if (rc != 0)
            sc->failed = true;
        return true;
    }
    if (!sc->have)
        return false;
    struct sim *s = sc->s;
    if (strcmp(cmd, "start") == 0) {
        for (uint32_t i = 0; i < s->node_count; i++) {
            bool pick = ntok == 1;
            for (int k = 1; k < ntok; k++)
                pick |= script_node(sc, tok[k]) == (int)i;
            if (pick)
                sim_start_node(s, (int)i);
        }
    } else if (strcmp(cmd, "run") == 0 && ntok > 1) {
        sim_run_for(s, atol(tok[1]));
    } else if (strcmp(cmd, "stabilize") == 0) {
        int leader = -1;
        bool ok = sim_run_until_stable(s, ntok > 1 ? atol(tok[1]) : 30000);
        if (ok && sim_is_stable(s, &leader)) {
            struct zab_status st;
            zab_status(s->nodes[leader].z, &st);
            fprintf(sc->out, "  stable: leader n%d epoch %u last 0x%" PRIx64 "\n", leader + 1,
                    st.epoch, st.last_zxid);
        } else if (!s->violated) {
            fprintf(sc->out, "  not stable\n");
        }
    } else if (strcmp(cmd, "write") == 0 || strcmp(cmd, "eph") == 0) {
        script_write(sc, tok, ntok, cmd[0] == 'w' ? SIM_OP_CREATE : SIM_OP_CREATE_EPH);
    } else if (strcmp(cmd, "close") == 0) {
        script_close(sc, tok, ntok);
    } else if (strcmp(cmd, "propose") == 0) {
        script_propose(sc, tok, ntok);
    } else if (strcmp(cmd, "sync") == 0) {
        script_sync(sc, tok, ntok);
    } else if (strcmp(cmd, "partition") == 0) {
        script_groups(sc, tok, ntok);
    } else if (strcmp(cmd, "rules") == 0 && ntok > 1) {
        s->rules_off = strcmp(tok[1], "off") == 0;
    } else if (strcmp(cmd, "heal") == 0) {
        sim_heal(s);
    } else if (strcmp(cmd, "status") == 0) {
        for (uint32_t i = 0; i < s->node_count; i++)
            script_status_line(sc, (int)i);
    } else if (strcmp(cmd, "check") == 0) {
        sim_check_all(s);
        if (!s->violated)
            fprintf(sc->out, "  ok: %u committed, %u acknowledged\n", s->hist_count,
                    s->acked_count);
    } else if (!script_node_cmd(sc, tok, ntok) && !script_link_cmd(sc, tok, ntok)) {
        return false;
    }
    return true;
}

static int script_compare(const char *path, const char *got, size_t got_len, bool rewrite) {
    char golden[1024];
    snprintf(golden, sizeof(golden), "%.*s.out", (int)(strlen(path) - 4), path);
    if (rewrite) {
        FILE *f = fopen(golden, "w");
        if (f == NULL || fwrite(got, 1, got_len, f) != got_len) {
            fprintf(stderr, "sim: cannot write %s\n", golden);
            return 2;
        }
        fclose(f);
        return 0;
    }
    FILE *f = fopen(golden, "r");
    char *want = zk_xmalloc(1 << 20);
    size_t want_len = f != NULL ? fread(want, 1, (1 << 20) - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    int rc = 0;
    if (want_len != got_len || memcmp(want, got, got_len) != 0) {
        size_t line = 1, i = 0;
        while (i < want_len && i < got_len && want[i] == got[i])
            line += want[i++] == '\n';
        fprintf(stderr, "sim: %s differs from %s at line %zu\n--- got:\n%.*s", path, golden, line,
                (int)got_len, got);
        rc = 1;
    }
    zk_free(want);
    return rc;
}

int sim_run_script(const char *path, bool rewrite) {
    FILE *in = fopen(path, "r");
    if (in == NULL || strlen(path) < 5) {
        fprintf(stderr, "sim: cannot open %s\n", path);
        return 2;
    }
    char *buf = NULL;
    size_t len = 0;
    struct script sc = {0};
    sc.out = open_memstream(&buf, &len);
    char line[512];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), in) != NULL) {
        line[strcspn(line, "\r\n")] = 0;
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = 0;
        char copy[512];
        snprintf(copy, sizeof(copy), "%s", line);
        char *tok[SCRIPT_TOKENS];
        int ntok = 0;
        for (char *t = strtok(copy, " \t"); t != NULL && ntok < SCRIPT_TOKENS;
             t = strtok(NULL, " \t"))
            tok[ntok++] = t;
        if (ntok == 0)
            continue;
        fprintf(sc.out, "> %s\n", line);
        if (!script_exec(&sc, tok, ntok)) {
            fprintf(stderr, "sim: %s: bad command: %s\n", path, line);
            rc = 2;
        }
        if ((sc.have && sc.s->violated) || sc.failed)
            rc = 1;
    }
    fclose(in);
    if (sc.have && rc == 0 && !sc.s->violated) {
        sim_check_all(sc.s);
        if (sc.s->violated)
            rc = 1;
    }
    if (sc.have) {
        fprintf(sc.out, "# trace %016" PRIx64 "\n", sc.s->trace_hash);
        sim_deinit(sc.s);
        zk_free(sc.s);
    }
    fclose(sc.out);
    int crc = rc == 2 ? 2 : script_compare(path, buf, len, rewrite && rc == 0);
    if (rc == 1 && crc == 0)
        crc = 1;
    free(buf);
    return crc;
}
