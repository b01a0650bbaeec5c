/* err.h — internal error codes (zk_err) and ZooKeeper wire result codes (zoo_rc). */
#ifndef ZK_ERR_H
#define ZK_ERR_H

#define ZK_ERR_LIST(X)                         \
    X(ZK_OK, 0, "ok")                          \
    X(ZK_ENOMEM, -1, "out of memory")          \
    X(ZK_EIO, -2, "i/o error")                 \
    X(ZK_EPROTO, -3, "protocol error")         \
    X(ZK_ETOOBIG, -4, "too big")               \
    X(ZK_EAGAIN, -5, "try again")              \
    X(ZK_ECLOSED, -6, "closed")                \
    X(ZK_EINVAL, -7, "invalid argument")       \
    X(ZK_ELIMIT, -8, "limit reached")          \
    X(ZK_ECORRUPT, -9, "corrupt data")

enum zk_err {
#define ZK_ERR_ENUM(name, val, str) name = (val),
    ZK_ERR_LIST(ZK_ERR_ENUM)
#undef ZK_ERR_ENUM
};

const char *zk_strerror(int err);

/* ZooKeeper result codes, values as KeeperException.Code / zookeeper.h. */
enum zoo_rc {
    ZOO_OK = 0,
    ZOO_SYSTEMERROR = -1,
    ZOO_RUNTIMEINCONSISTENCY = -2,
    ZOO_DATAINCONSISTENCY = -3,
    ZOO_CONNECTIONLOSS = -4,
    ZOO_MARSHALLINGERROR = -5,
    ZOO_UNIMPLEMENTED = -6,
    ZOO_OPERATIONTIMEOUT = -7,
    ZOO_BADARGUMENTS = -8,
    ZOO_UNKNOWNSESSION = -12,
    ZOO_NEWCONFIGNOQUORUM = -13,
    ZOO_RECONFIGINPROGRESS = -14,
    ZOO_APIERROR = -100,
    ZOO_NONODE = -101,
    ZOO_NOAUTH = -102,
    ZOO_BADVERSION = -103,
    ZOO_NOCHILDRENFOREPHEMERALS = -108,
    ZOO_NODEEXISTS = -110,
    ZOO_NOTEMPTY = -111,
    ZOO_SESSIONEXPIRED = -112,
    ZOO_INVALIDCALLBACK = -113,
    ZOO_INVALIDACL = -114,
    ZOO_AUTHFAILED = -115,
    ZOO_SESSIONMOVED = -118,
    ZOO_NOTREADONLY = -119,
    ZOO_EPHEMERALONLOCALSESSION = -120,
    ZOO_NOWATCHER = -121,
    ZOO_RECONFIGDISABLED = -123,
    ZOO_SESSIONCLOSEDREQUIRESASLAUTH = -124,
    ZOO_QUOTAEXCEEDED = -125,
    ZOO_THROTTLEDOP = -127,
};

#endif
