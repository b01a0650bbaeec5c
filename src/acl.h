/* acl.h — ACL lists, authentication ids and permission checks (ZooKeeper's
 * ZooDefs.Perms, PrepRequestProcessor.fixupACL, ZooKeeperServer.checkACL and the
 * digest/ip auth providers).
 *
 * An acl_list is immutable and reference counted: the tree shares one list among
 * every node created with the same ACL object (and replies borrow it). */
#ifndef ZK_ACL_H
#define ZK_ACL_H

#include <stdbool.h>
#include <stdint.h>

#include "jute.h"

#define ACL_READ 1
#define ACL_WRITE 2
#define ACL_CREATE 4
#define ACL_DELETE 8
#define ACL_ADMIN 16
#define ACL_ALL 31

struct acl_entry {
    int32_t perms;
    char *scheme; /* owned, NUL-terminated */
    char *id;     /* owned, NUL-terminated */
};

struct acl_list {
    uint32_t refs;
    uint32_t count;
    void *interned; /* the tree cache entry holding this list (tree.c), else NULL */
    struct acl_entry e[];
};

/* One authenticated identity of a connection, e.g. ("digest", "bob:hash"). */
struct auth_id {
    char *scheme;
    char *id;
};

/* The identities a connection holds (ZooKeeper ServerCnxn.authInfo). Owned by
 * the connection; is_super is set when any id is ("super", ""). */
struct auth_set {
    struct auth_id *ids;
    uint32_t count;
    uint32_t cap;
};

void auth_set_init(struct auth_set *a);
void auth_set_deinit(struct auth_set *a);
/* Adds an id unless already present. Returns false on OOM. */
bool auth_set_add(struct auth_set *a, const char *scheme, const char *id);
bool auth_set_is_super(const struct auth_set *a);

/* Shared, immutable lists built at startup. */
struct acl_list *acl_open_unsafe(void);  /* world:anyone ALL (borrowed, never freed) */
struct acl_list *acl_read_unsafe(void);  /* world:anyone READ */
void acl_global_deinit(void);

/* A stand-in for an ACL a ZooKeeper snapshot node refers to but its ACL cache
 * lacks (snapshots are fuzzy: the ACL was added while the snapshot was being
 * written). It grants nothing (one entry: perms 0, scheme ACL_SCHEME_UNRESOLVED,
 * id = the reference in decimal). Replaying the log puts the real list in place
 * (apply.c); recovery refuses to start if a stand-in is left (store.c). */
#define ACL_SCHEME_UNRESOLVED "zkd-unresolved-acl-ref"
struct acl_list *acl_unresolved_new(int64_t ref); /* owned: one reference */
bool acl_is_unresolved(const struct acl_list *l);

struct acl_list *acl_ref(struct acl_list *l);
void acl_unref(struct acl_list *l);
bool acl_equal(const struct acl_list *a, const struct acl_list *b);
void acl_encode(struct jute_buf *b, const struct acl_list *l);
/* Like acl_encode but digest ids become "<user>:x" (getACL without ADMIN). */
void acl_encode_redacted(struct jute_buf *b, const struct acl_list *l);

/* Decodes a jute vector<ACL> into a new list (refs = 1). Returns ZK_OK,
 * ZK_EPROTO on malformed input, ZK_ENOMEM. *out = NULL for a null vector. */
int acl_decode(struct jute_reader *r, struct acl_list **out);

/* fixupACL: validates a requested list and expands the `auth` scheme with the
 * session's authenticated ids; removes duplicates. Returns ZOO_OK with an owned
 * list in *out, or ZOO_INVALIDACL. in may be NULL (null vector). */
int acl_fixup(const struct acl_list *in, const struct auth_set *auth, struct acl_list **out);

/* checkACL: true if the identities may perform perm on a node with this ACL. */
bool acl_check(const struct acl_list *acl, int32_t perm, const struct auth_set *auth);

/* digest provider: "user:password" -> "user:base64(sha1(user:password))".
 * Without a ':' the whole input is the user (as ZooKeeper). Writes a
 * NUL-terminated string into out (cap bytes); false if it does not fit. */
bool acl_digest(const char *user_pw, uint32_t len, char *out, uint32_t cap);

/* ip provider: does address `addr` (textual IPv4/IPv6) match ACL id `pattern`
 * (address or CIDR)? */
bool acl_ip_match(const char *pattern, const char *addr);
bool acl_ip_valid(const char *pattern);

#endif
