/* sim_disk.c — an in-memory file system with a conservative persistence model
 * (SQLite test6.c / LazyFS spirit).
 *
 * Each file has a durable image and a list of unsynced operations (writes and
 * truncations, in order); reads see the durable image with every operation
 * applied. fsync(file) makes its operations durable. The directory likewise
 * has durable entries and a list of unsynced operations (create, rename,
 * unlink) made durable by fsync of the directory. A crash keeps, per file, the
 * durable image plus a random prefix of its unsynced operations, the last one
 * possibly torn (a prefix of its bytes, and sometimes garbage after it), and
 * a random prefix of the directory operations. Files no longer named are
 * dropped. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include "../../src/base.h"
#include "../../src/mem.h"

void sim_disk_init(struct sim_disk *d) { memset(d, 0, sizeof(*d)); }

static void sim_inode_free(struct sim_inode *n) {
    zk_free(n->vdata);
    zk_free(n->ddata);
    for (uint32_t i = 0; i < n->op_count; i++)
        zk_free(n->ops[i].data);
    zk_free(n->ops);
    memset(n, 0, sizeof(*n));
}

void sim_disk_deinit(struct sim_disk *d) {
    for (uint32_t i = 0; i < d->ino_count; i++)
        sim_inode_free(&d->ino[i]);
    zk_free(d->ino);
    zk_free(d->vdir.e);
    zk_free(d->ddir.e);
    zk_free(d->dops);
    memset(d, 0, sizeof(*d));
}

static int sim_dir_find(const struct sim_dir *dir, const char *name) {
    for (uint32_t i = 0; i < dir->count; i++) {
        if (strcmp(dir->e[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

static void sim_dir_set(struct sim_dir *dir, const char *name, int ino) {
    int i = sim_dir_find(dir, name);
    if (i >= 0) {
        dir->e[i].ino = ino;
        return;
    }
    if (dir->count == dir->cap) {
        dir->cap = dir->cap ? 2 * dir->cap : 8;
        dir->e = zk_xrealloc(dir->e, dir->cap * sizeof(*dir->e));
    }
    ZK_ASSERT(strlen(name) < SIM_NAME_MAX);
    snprintf(dir->e[dir->count].name, SIM_NAME_MAX, "%s", name);
    dir->e[dir->count].ino = ino;
    dir->count++;
}

static void sim_dir_del(struct sim_dir *dir, const char *name) {
    int i = sim_dir_find(dir, name);
    if (i < 0)
        return;
    dir->e[i] = dir->e[dir->count - 1];
    dir->count--;
}

/* Applies one directory operation to a view. */
static void sim_dir_apply(struct sim_dir *dir, const struct sim_dop *op) {
    switch (op->kind) {
    case SIM_DOP_CREATE:
        sim_dir_set(dir, op->name, op->ino);
        break;
    case SIM_DOP_RENAME: {
        int i = sim_dir_find(dir, op->name);
        if (i < 0)
            break;
        int ino = dir->e[i].ino;
        sim_dir_del(dir, op->name);
        sim_dir_set(dir, op->name2, ino);
        break;
    }
    case SIM_DOP_UNLINK:
        sim_dir_del(dir, op->name);
        break;
    default:
        ZK_PANIC("sim_disk: bad dir op %d", op->kind);
    }
}

static void sim_dop_push(struct sim_disk *d, const struct sim_dop *op) {
    if (d->dop_count == d->dop_cap) {
        d->dop_cap = d->dop_cap ? 2 * d->dop_cap : 8;
        d->dops = zk_xrealloc(d->dops, d->dop_cap * sizeof(*d->dops));
    }
    d->dops[d->dop_count++] = *op;
    sim_dir_apply(&d->vdir, op);
}

int sim_disk_lookup(const struct sim_disk *d, const char *name) {
    int i = sim_dir_find(&d->vdir, name);
    return i < 0 ? -1 : d->vdir.e[i].ino;
}

int sim_disk_create(struct sim_disk *d, const char *name) {
    d->ino = zk_xrealloc(d->ino, (d->ino_count + 1) * sizeof(*d->ino));
    int ino = (int)d->ino_count++;
    memset(&d->ino[ino], 0, sizeof(d->ino[ino]));
    d->ino[ino].used = true;
    struct sim_dop op;
    memset(&op, 0, sizeof(op));
    op.kind = SIM_DOP_CREATE;
    snprintf(op.name, sizeof(op.name), "%s", name);
    op.ino = ino;
    sim_dop_push(d, &op);
    return ino;
}

static void sim_buf_resize(uint8_t **p, uint64_t *size, uint64_t *cap, uint64_t n) {
    if (n > *cap) {
        uint64_t c = *cap ? *cap : 256;
        while (c < n)
            c *= 2;
        *p = zk_xrealloc(*p, c);
        *cap = c;
    }
    if (n > *size)
        memset(*p + *size, 0, n - *size);
    *size = n;
}

/* Applies a data op to one image (durable or volatile). len_kept < op len
 * tears a write; garbage then fills garbage bytes after the kept part. */
static void sim_image_apply(uint8_t **p, uint64_t *size, uint64_t *cap, const struct sim_fop *op,
                            uint32_t len_kept, uint32_t garbage, struct sim_rng *r) {
    if (op->kind == SIM_FOP_TRUNC) {
        sim_buf_resize(p, size, cap, op->off);
        return;
    }
    uint64_t end = op->off + len_kept + garbage;
    if (end > *size)
        sim_buf_resize(p, size, cap, end);
    memcpy(*p + op->off, op->data, len_kept);
    for (uint32_t i = 0; i < garbage; i++)
        (*p)[op->off + len_kept + i] = (uint8_t)sim_rng_next(r);
}

static void sim_fop_push(struct sim_inode *n, const struct sim_fop *op) {
    if (n->op_count == n->op_cap) {
        n->op_cap = n->op_cap ? 2 * n->op_cap : 16;
        n->ops = zk_xrealloc(n->ops, n->op_cap * sizeof(*n->ops));
    }
    n->ops[n->op_count++] = *op;
}

void sim_disk_write(struct sim_disk *d, int ino, uint64_t off, const void *p, uint32_t len) {
    ZK_ASSERT(ino >= 0 && (uint32_t)ino < d->ino_count && d->ino[ino].used);
    struct sim_inode *n = &d->ino[ino];
    struct sim_fop op = {.kind = SIM_FOP_WRITE, .off = off, .len = len};
    op.data = zk_xmalloc(len ? len : 1);
    memcpy(op.data, p, len);
    sim_image_apply(&n->vdata, &n->vsize, &n->vcap, &op, len, 0, NULL);
    sim_fop_push(n, &op);
}

void sim_disk_truncate(struct sim_disk *d, int ino, uint64_t size) {
    ZK_ASSERT(ino >= 0 && (uint32_t)ino < d->ino_count && d->ino[ino].used);
    struct sim_inode *n = &d->ino[ino];
    struct sim_fop op = {.kind = SIM_FOP_TRUNC, .off = size};
    sim_image_apply(&n->vdata, &n->vsize, &n->vcap, &op, 0, 0, NULL);
    sim_fop_push(n, &op);
}

void sim_disk_fsync(struct sim_disk *d, int ino) {
    ZK_ASSERT(ino >= 0 && (uint32_t)ino < d->ino_count && d->ino[ino].used);
    struct sim_inode *n = &d->ino[ino];
    for (uint32_t i = 0; i < n->op_count; i++) {
        struct sim_fop *op = &n->ops[i];
        sim_image_apply(&n->ddata, &n->dsize, &n->dcap, op, op->len, 0, NULL);
        zk_free(op->data);
    }
    n->op_count = 0;
}

void sim_disk_rename(struct sim_disk *d, const char *from, const char *to) {
    struct sim_dop op;
    memset(&op, 0, sizeof(op));
    op.kind = SIM_DOP_RENAME;
    snprintf(op.name, sizeof(op.name), "%s", from);
    snprintf(op.name2, sizeof(op.name2), "%s", to);
    sim_dop_push(d, &op);
}

void sim_disk_unlink(struct sim_disk *d, const char *name) {
    struct sim_dop op;
    memset(&op, 0, sizeof(op));
    op.kind = SIM_DOP_UNLINK;
    snprintf(op.name, sizeof(op.name), "%s", name);
    sim_dop_push(d, &op);
}

void sim_disk_fsync_dir(struct sim_disk *d) {
    for (uint32_t i = 0; i < d->dop_count; i++)
        sim_dir_apply(&d->ddir, &d->dops[i]);
    d->dop_count = 0;
}

const uint8_t *sim_disk_data(const struct sim_disk *d, int ino, uint64_t *size) {
    ZK_ASSERT(ino >= 0 && (uint32_t)ino < d->ino_count && d->ino[ino].used);
    *size = d->ino[ino].vsize;
    return d->ino[ino].vdata;
}

static int sim_name_cmp(const void *a, const void *b) { return strcmp(a, b); }

/* Names in the current view, sorted (no dependence on insertion order). */
uint32_t sim_disk_names(const struct sim_disk *d, char names[][SIM_NAME_MAX], uint32_t cap) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->vdir.count && n < cap; i++)
        snprintf(names[n++], SIM_NAME_MAX, "%s", d->vdir.e[i].name);
    qsort(names, n, SIM_NAME_MAX, sim_name_cmp);
    return n;
}

static void sim_inode_crash(struct sim_inode *n, struct sim_rng *r) {
    uint32_t keep = (uint32_t)sim_rng_below(r, n->op_count + 1);
    for (uint32_t i = 0; i < keep; i++) {
        struct sim_fop *op = &n->ops[i];
        uint32_t len = op->len, garbage = 0;
        if (i + 1 == keep && op->kind == SIM_FOP_WRITE && len > 0 && sim_rng_chance(r, 0.5)) {
            len = (uint32_t)sim_rng_below(r, op->len); /* torn */
            if (sim_rng_chance(r, 0.5))
                garbage = (uint32_t)sim_rng_below(r, op->len - len + 1);
        }
        sim_image_apply(&n->ddata, &n->dsize, &n->dcap, op, len, garbage, r);
    }
    for (uint32_t i = 0; i < n->op_count; i++)
        zk_free(n->ops[i].data);
    n->op_count = 0;
    sim_buf_resize(&n->vdata, &n->vsize, &n->vcap, 0);
    sim_buf_resize(&n->vdata, &n->vsize, &n->vcap, n->dsize);
    if (n->dsize)
        memcpy(n->vdata, n->ddata, n->dsize);
}

void sim_disk_crash(struct sim_disk *d, struct sim_rng *r) {
    uint32_t keep = (uint32_t)sim_rng_below(r, d->dop_count + 1);
    for (uint32_t i = 0; i < keep; i++)
        sim_dir_apply(&d->ddir, &d->dops[i]);
    d->dop_count = 0;
    d->vdir.count = 0;
    for (uint32_t i = 0; i < d->ddir.count; i++)
        sim_dir_set(&d->vdir, d->ddir.e[i].name, d->ddir.e[i].ino);
    for (uint32_t i = 0; i < d->ino_count; i++) {
        struct sim_inode *n = &d->ino[i];
        if (!n->used)
            continue;
        bool named = false;
        for (uint32_t k = 0; k < d->ddir.count; k++)
            named |= d->ddir.e[k].ino == (int)i;
        if (!named) {
            sim_inode_free(n);
            continue;
        }
        sim_inode_crash(n, r);
    }
}
