/* upnp: port mapping by UPnP-IGD (miniupnpc from Debian), for routers that
 * do not speak NAT-PMP. Every call here blocks (SSDP discovery waits up to
 * UPNP_DISCOVER_MS, then HTTP to the router): portmap.c runs them off the
 * loop with uv_queue_work, one at a time, and reads the job only after the
 * work is done. */
#ifndef SAMIZDAT_UPNP_H
#define SAMIZDAT_UPNP_H

#include <stdbool.h>
#include <stdint.h>

enum {
    UPNP_DISCOVER_MS = 2000,
    UPNP_URL_MAX = 256,
    UPNP_WHY_MAX = 160,
};

typedef struct {
    /* In. */
    uint16_t port;    /* internal and external TCP port */
    uint32_t lease_s; /* asked for; 0 asks for a permanent mapping */
    /* Kept between calls: the router found by the first map. */
    bool found;
    char control_url[UPNP_URL_MAX];
    char service_type[UPNP_URL_MAX];
    char lan_addr[64];
    /* Out. */
    bool ok;
    char external_ip[64];
    char why[UPNP_WHY_MAX];
} upnp_job_t;

/* Finds the router (unless found before), asks its public address and maps
 * port to this host for lease_s seconds. Sets ok, or why. Blocks. */
void upnp_map(upnp_job_t *j);
/* Removes the mapping. Blocks. */
void upnp_unmap(upnp_job_t *j);

#endif
