/* notify: tells a service manager (systemd, Type=notify) how the daemon is
 * doing, by the sd_notify protocol, without linking libsystemd: one datagram
 * of "KEY=VALUE" lines to the AF_UNIX socket named in $NOTIFY_SOCKET. A path
 * starting with '/' is a socket file; one starting with '@' is a Linux
 * abstract socket (the '@' stands for the leading NUL byte).
 *
 * Nothing here is fatal: a daemon started by hand has no $NOTIFY_SOCKET, and
 * a manager that went away must not stop the node. Callers log and go on. */
#ifndef SAMIZDAT_NOTIFY_H
#define SAMIZDAT_NOTIFY_H

#include "log.h"

typedef enum {
    NOTIFY_OK = 0,
    NOTIFY_ENOTSET, /* no socket given: nobody to tell (not an error for callers) */
    NOTIFY_EADDR,   /* neither '/' nor '@' first, or longer than a socket address holds */
    NOTIFY_ESTATE,  /* state empty or longer than NOTIFY_STATE_MAX */
    NOTIFY_ESOCKET, /* the socket could not be created */
    NOTIFY_ESEND,   /* the datagram was not sent (no such socket, refused, ...) */
} notify_err_t;

/* The longest state a message may carry; systemd's messages are far shorter. */
enum { NOTIFY_STATE_MAX = 1024 };

/* Sends state (e.g. "READY=1", or several "KEY=VALUE" lines) to the socket at
 * address, the value of $NOTIFY_SOCKET (may be NULL or empty: NOTIFY_ENOTSET).
 * Both borrowed for the call. Returns NOTIFY_OK once the whole datagram is
 * sent; on error nothing was sent and no state is kept (no descriptor stays
 * open). Blocks at most as long as one sendto on a local datagram socket. */
notify_err_t notify_send(const char *address, const char *state);

/* notify_send to $NOTIFY_SOCKET. Logs a failure at warn level on lg (which
 * may be NULL) and returns the error; an unset $NOTIFY_SOCKET is NOTIFY_ENOTSET
 * and not logged. */
notify_err_t notify_tell(const log_t *lg, const char *state);

const char *notify_strerror(notify_err_t err);

#endif
