#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const char *
notify_strerror(notify_err_t err)
{
    switch (err) {
    case NOTIFY_OK:
        return "ok";
    case NOTIFY_ENOTSET:
        return "no notification socket ($NOTIFY_SOCKET is not set)";
    case NOTIFY_EADDR:
        return "notification socket address is not an absolute path or @abstract name, or "
               "is too long";
    case NOTIFY_ESTATE:
        return "notification state is empty or too long";
    case NOTIFY_ESOCKET:
        return "cannot create a datagram socket for the notification";
    case NOTIFY_ESEND:
        return "cannot send the notification";
    }
    return "unknown notification error";
}

/* Fills sa from "/path" or "@abstract"; returns the address length to pass
 * to sendto, or 0 when the address does not fit or has another form. */
static socklen_t
make_address(struct sockaddr_un *sa, const char *address)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    size_t len = strlen(address);
    if (address[0] == '/') {
        /* A path and its NUL. */
        if (len + 1 > sizeof sa->sun_path) {
            return 0;
        }
        memcpy(sa->sun_path, address, len + 1);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    if (address[0] == '@' && len > 1) {
        /* An abstract name is the bytes after the leading NUL, exactly as
         * long as given: no terminating NUL is part of it. */
        if (len > sizeof sa->sun_path) {
            return 0;
        }
        sa->sun_path[0] = '\0';
        memcpy(sa->sun_path + 1, address + 1, len - 1);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    return 0;
}

notify_err_t
notify_send(const char *address, const char *state)
{
    if (address == NULL || address[0] == '\0') {
        return NOTIFY_ENOTSET;
    }
    size_t n = state != NULL ? strlen(state) : 0;
    if (n == 0 || n > NOTIFY_STATE_MAX) {
        return NOTIFY_ESTATE;
    }
    struct sockaddr_un sa;
    socklen_t sa_len = make_address(&sa, address);
    if (sa_len == 0) {
        return NOTIFY_EADDR;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return NOTIFY_ESOCKET;
    }
    ssize_t sent;
    do {
        /* MSG_NOSIGNAL: a manager gone away must not kill the node. */
        sent = sendto(fd, state, n, MSG_NOSIGNAL, (const struct sockaddr *)&sa, sa_len);
    } while (sent < 0 && errno == EINTR);
    close(fd);
    return sent == (ssize_t)n ? NOTIFY_OK : NOTIFY_ESEND;
}

notify_err_t
notify_tell(const log_t *lg, const char *state)
{
    const char *address = getenv("NOTIFY_SOCKET");
    notify_err_t err = notify_send(address, state);
    if (err != NOTIFY_OK && err != NOTIFY_ENOTSET && lg != NULL) {
        log_line(lg, LOG_LEVEL_WARN, "cannot tell the service manager %s: %s", state,
                 notify_strerror(err));
    }
    return err;
}
