/* path.h — ZooKeeper path rules (PathUtils.validatePath) and helpers. */
#ifndef ZK_PATH_H
#define ZK_PATH_H

#include <stdbool.h>
#include <stdint.h>

/* Full validation as ZooKeeper's server applies it to create/setData/setACL/check:
 * absolute, no trailing '/', no empty, "." or ".." component, no forbidden
 * characters (controls, U+D800-U+F8FF, U+FFF0-U+FFFF, anything above U+FFFF,
 * malformed UTF-8). */
bool path_valid(const char *p, uint32_t len);
/* Length of the parent path of a valid non-root path ("/a" -> 1, "/a/b" -> 2). */
uint32_t path_parent_len(const char *p, uint32_t len);
/* One of "/zookeeper", "/zookeeper/quota", "/zookeeper/config". */
bool path_is_system(const char *p, uint32_t len);
bool path_has_nul(const char *p, uint32_t len);

#endif
