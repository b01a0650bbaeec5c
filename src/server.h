/* server.h — a standalone zkd server: one epoll event loop owning connections,
 * sessions, the data tree and watches, wired as the request pipeline
 * decode -> per-session queue -> prep -> order (zxid) -> apply -> reply. */
#ifndef ZK_SERVER_H
#define ZK_SERVER_H

#include "config.h"

struct server;

/* Returns 0, or -1 with a message in err (e.g. the port is in use). */
int server_create(struct server **out, const struct config *cfg, char *err, size_t errlen);
/* Runs until server_request_stop; returns 0 on a clean stop. */
int server_run(struct server *s);
/* Async-signal-safe. */
void server_request_stop(struct server *s);
/* Async-signal-safe: take a snapshot now (SIGUSR1). */
void server_request_snapshot(struct server *s);
struct store_recovery;
/* What recovery found at startup. */
const struct store_recovery *server_recovery(const struct server *s);
void server_destroy(struct server *s);

#endif
