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
#define ZOO_RC_LIST(X) \
    X(OK, 0) \
    X(SYSTEMERROR, -1) \
    X(RUNTIMEINCONSISTENCY, -2) \
    X(DATAINCONSISTENCY, -3) \
    X(CONNECTIONLOSS, -4) \
    X(MARSHALLINGERROR, -5) \
    X(UNIMPLEMENTED, -6) \
    X(OPERATIONTIMEOUT, -7) \
    X(BADARGUMENTS, -8) \
    X(UNKNOWNSESSION, -12) \
    X(NEWCONFIGNOQUORUM, -13) \
    X(RECONFIGINPROGRESS, -14) \
    X(APIERROR, -100) \
    X(NONODE, -101) \
    X(NOAUTH, -102) \
    X(BADVERSION, -103) \
    X(NOCHILDRENFOREPHEMERALS, -108) \
    X(NODEEXISTS, -110) \
    X(NOTEMPTY, -111) \
    X(SESSIONEXPIRED, -112) \
    X(INVALIDCALLBACK, -113) \
    X(INVALIDACL, -114) \
    X(AUTHFAILED, -115) \
    X(SESSIONMOVED, -118) \
    X(NOTREADONLY, -119) \
    X(EPHEMERALONLOCALSESSION, -120) \
    X(NOWATCHER, -121) \
    X(RECONFIGDISABLED, -123) \
    X(SESSIONCLOSEDREQUIRESASLAUTH, -124) \
    X(QUOTAEXCEEDED, -125) \
    X(THROTTLEDOP, -127)

enum zoo_rc {
#define ZOO_RC_ENUM(name, val) ZOO_##name = (val),
    ZOO_RC_LIST(ZOO_RC_ENUM)
#undef ZOO_RC_ENUM
};

/* "NONODE" for ZOO_NONODE, ...; "?" for a code not in the list. */
const char *zoo_rc_name(int rc);

#endif
