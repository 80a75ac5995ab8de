/* portmap: asks the home router to forward a public port to the node's
 * listening port, so nodes outside can dial in. NAT-PMP (RFC 6886, with
 * Debian's libnatpmp) runs on the loop: its socket under uv_poll, its
 * retries and the lease renewal on a timer. The lease is renewed at half
 * its lifetime and removed (lifetime 0) when the module closes. A router
 * that does not answer NAT-PMP is asked by UPnP-IGD (upnp.h, off the loop);
 * when neither works the module is in PORTMAP_FAILED, trying again every
 * PORTMAP_RETRY_MS. */
#ifndef SAMIZDAT_PORTMAP_H
#define SAMIZDAT_PORTMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "addr.h"
#include "log.h"

enum {
    PORTMAP_LEASE_S = 7200,         /* asked for; RFC 6886 recommends two hours */
    PORTMAP_RETRY_MS = 10 * 60000, /* after a failure */
    /* libnatpmp retries for about two minutes; a router that has not
     * answered NAT-PMP within this long is asked by UPnP instead. */
    PORTMAP_NATPMP_WAIT_MS = 4000,
    PORTMAP_WHY_MAX = 160,
};

typedef enum {
    PORTMAP_OK = 0,
    PORTMAP_ENOMEM,
} portmap_err_t;

typedef enum {
    PORTMAP_TRYING = 0, /* asking the router */
    PORTMAP_MAPPED,     /* the router forwards external to our port */
    PORTMAP_FAILED,     /* no router answered, or it refused; see why */
} portmap_state_t;

typedef struct {
    portmap_state_t state;
    const char *method;                   /* "NAT-PMP" or "UPnP-IGD" */
    char external[ADDR_ENDPOINT_MAX + 1]; /* MAPPED: tcp://PUBLIC-IP:PORT */
    uint32_t lifetime_s;                  /* MAPPED: what the router granted */
    bool behind_nat; /* MAPPED: the router's own public address is private, so
                        another NAT is in front of it and the mapping may not
                        reach the internet */
    uint64_t renew_in_ms;                 /* MAPPED: until the renewal */
    char why[PORTMAP_WHY_MAX];            /* FAILED: in words */
} portmap_info_t;

typedef struct portmap portmap_t;

typedef struct {
    uint16_t port;     /* the TCP port the node listens on */
    uint32_t lease_s;  /* 0: PORTMAP_LEASE_S */
    const log_t *log;  /* borrowed until closed */
    /* Called when the state or the mapping changed. May be NULL. */
    void (*changed)(void *ud, const portmap_info_t *info);
    void *ud;
} portmap_config_t;

/* Starts asking at once. */
portmap_err_t portmap_new(portmap_t **out, uv_loop_t *loop, const portmap_config_t *cfg);
void portmap_info(const portmap_t *p, portmap_info_t *out);
/* Removes a mapping it holds (a request with lifetime 0; not waited for),
 * closes its handles, then cb(ud). Accepts NULL. */
void portmap_close(portmap_t *p, void (*cb)(void *ud), void *ud);

const char *portmap_state_word(portmap_state_t s);

#endif
