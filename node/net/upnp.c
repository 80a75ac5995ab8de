#include "upnp.h"

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#include <stdio.h>
#include <string.h>

static bool
connected(struct UPNPUrls *urls, struct IGDdatas *data)
{
    char status[64] = "";
    unsigned int uptime = 0;
    char last_error[64] = "";
    return UPNP_GetStatusInfo(urls->controlURL, data->first.servicetype, status, &uptime,
                              last_error) == UPNPCOMMAND_SUCCESS &&
           (strcmp(status, "Connected") == 0 || strcmp(status, "Up") == 0);
}

static bool
find_router(upnp_job_t *j)
{
    int err = 0;
    struct UPNPDev *devs = upnpDiscover(UPNP_DISCOVER_MS, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2, &err);
    if (devs == NULL) {
        snprintf(j->why, sizeof j->why, "no UPnP router answered");
        return false;
    }
    struct UPNPUrls urls;
    struct IGDdatas data;
    memset(&urls, 0, sizeof urls);
    memset(&data, 0, sizeof data);
    int r = UPNP_GetValidIGD(devs, &urls, &data, j->lan_addr, sizeof j->lan_addr);
    freeUPNPDevlist(devs);
    if (r == 2 && connected(&urls, &data)) {
        /* miniupnpc also says 2 for a connected router whose own public
         * address is private: a router behind another NAT. Its mapping is
         * still a candidate (the caller sees the address and says so). */
        r = 1;
    }
    if (r == 1) {
        snprintf(j->control_url, sizeof j->control_url, "%s", urls.controlURL);
        snprintf(j->service_type, sizeof j->service_type, "%s", data.first.servicetype);
        j->found = true;
    } else {
        snprintf(j->why, sizeof j->why, "%s",
                 r == 2   ? "the UPnP router is not connected to the internet"
                 : r == 3 ? "a UPnP device answered, but it is not a router (IGD)"
                          : "no UPnP router answered");
    }
    if (r != 0) {
        FreeUPNPUrls(&urls);
    }
    return j->found;
}

void
upnp_map(upnp_job_t *j)
{
    j->ok = false;
    j->why[0] = '\0';
    if (!j->found && !find_router(j)) {
        return;
    }
    char ext[40];
    memset(ext, 0, sizeof ext);
    int r = UPNP_GetExternalIPAddress(j->control_url, j->service_type, ext);
    if (r != UPNPCOMMAND_SUCCESS || ext[0] == '\0') {
        j->found = false; /* ask again next time: the router may have changed */
        snprintf(j->why, sizeof j->why, "the UPnP router gave no public address (%s)",
                 strupnperror(r));
        return;
    }
    snprintf(j->external_ip, sizeof j->external_ip, "%s", ext);
    char port[8], lease[16];
    snprintf(port, sizeof port, "%u", (unsigned)j->port);
    snprintf(lease, sizeof lease, "%u", (unsigned)j->lease_s);
    r = UPNP_AddPortMapping(j->control_url, j->service_type, port, port, j->lan_addr, "samizdat",
                            "TCP", NULL, lease);
    if (r != UPNPCOMMAND_SUCCESS) {
        j->found = false;
        snprintf(j->why, sizeof j->why, "the UPnP router refused the mapping (%s)",
                 strupnperror(r));
        return;
    }
    j->ok = true;
}

void
upnp_unmap(upnp_job_t *j)
{
    if (!j->found) {
        return;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)j->port);
    (void)UPNP_DeletePortMapping(j->control_url, j->service_type, port, "TCP", NULL);
}
