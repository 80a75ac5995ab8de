#include "portmap.h"

#include <arpa/inet.h>
#include <natpmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "upnp.h"

typedef enum { PHASE_IDLE, PHASE_ADDRESS, PHASE_MAP } phase_t;

struct portmap {
    portmap_config_t cfg;
    uv_loop_t *loop;
    natpmp_t np;
    bool np_open;
    uv_poll_t poll;
    bool poll_open;
    uv_timer_t timer;
    int open_handles;
    bool closing;
    phase_t phase;
    portmap_info_t info;
    char public_ip[64];
    uint64_t renew_at_ms; /* uv_now */
    uint64_t round_start_ms; /* uv_now when this NAT-PMP round began */
    char natpmp_why[PORTMAP_WHY_MAX];
    upnp_job_t job; /* read and written by the worker only while working */
    uv_work_t work;
    bool working;
    bool by_upnp;   /* the mapping held is UPnP's */
    bool unmapping; /* the work running removes it */
    void (*close_cb)(void *ud);
    void *close_ud;
};

const char *
portmap_state_word(portmap_state_t s)
{
    switch (s) {
    case PORTMAP_TRYING:
        return "trying";
    case PORTMAP_MAPPED:
        return "mapped";
    case PORTMAP_FAILED:
        return "failed";
    }
    return "?";
}

/* libnatpmp's error codes in words (its own table is not always built). */
static const char *
natpmp_words(int r)
{
    switch (r) {
    case NATPMP_ERR_CANNOTGETGATEWAY:
        return "no default gateway (no router on this network?)";
    case NATPMP_ERR_NOGATEWAYSUPPORT:
        return "the router does not answer NAT-PMP (or it is turned off)";
    case NATPMP_ERR_NOTAUTHORIZED:
        return "the router refused: port mapping is not allowed";
    case NATPMP_ERR_NETWORKFAILURE:
        return "the router has no public address yet";
    case NATPMP_ERR_OUTOFRESOURCES:
        return "the router has no free mapping";
    case NATPMP_ERR_UNSUPPORTEDVERSION:
    case NATPMP_ERR_UNSUPPORTEDOPCODE:
        return "the router speaks another version of NAT-PMP";
    case NATPMP_ERR_SOCKETERROR:
    case NATPMP_ERR_CONNECTERR:
    case NATPMP_ERR_SENDERR:
    case NATPMP_ERR_RECVFROM:
        return "cannot talk to the router (socket error)";
    default:
        return "NAT-PMP failed";
    }
}

static void
changed(portmap_t *p)
{
    if (p->cfg.changed != NULL && !p->closing) {
        p->cfg.changed(p->cfg.ud, &p->info);
    }
}

static void start_round(portmap_t *p);

static void
on_timer(uv_timer_t *t);

static void start_upnp(portmap_t *p);

/* NAT-PMP did not work: UPnP-IGD next. */
static void
fail(portmap_t *p, int r)
{
    p->phase = PHASE_IDLE;
    snprintf(p->natpmp_why, sizeof p->natpmp_why, "%s", natpmp_words(r));
    start_upnp(p);
}

/* Neither worked. */
static void
fail_both(portmap_t *p)
{
    bool was = p->info.state == PORTMAP_FAILED;
    p->phase = PHASE_IDLE;
    p->by_upnp = false;
    p->info.state = PORTMAP_FAILED;
    p->info.external[0] = '\0';
    snprintf(p->info.why, sizeof p->info.why, "NAT-PMP: %.60s; UPnP: %.80s", p->natpmp_why,
             p->job.why);
    if (!was) {
        log_line(p->cfg.log, LOG_LEVEL_INFO,
                 "port mapping: %s; nodes outside this network cannot dial this one unless "
                 "a port is forwarded to it by hand (then start with --announce tcp://HOST:PORT)",
                 p->info.why);
    }
    uv_timer_start(&p->timer, on_timer, PORTMAP_RETRY_MS, 0);
    changed(p);
}

/* Waits for the answer to the pending request, or its retry time. */
static void
arm_retry(portmap_t *p)
{
    struct timeval tv;
    uint64_t ms = 250;
    if (getnatpmprequesttimeout(&p->np, &tv) == 0) {
        ms = tv.tv_sec < 0 ? 0 : (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
    }
    uv_timer_start(&p->timer, on_timer, ms + 1, 0);
}

static void
mapped(portmap_t *p, const char *method, uint16_t port, uint32_t lifetime)
{
    p->info.method = method;
    p->by_upnp = strcmp(method, "UPnP-IGD") == 0;
    bool was = p->info.state == PORTMAP_MAPPED;
    char before[sizeof p->info.external];
    memcpy(before, p->info.external, sizeof before);
    p->phase = PHASE_IDLE;
    p->info.state = PORTMAP_MAPPED;
    p->info.lifetime_s = lifetime;
    p->info.why[0] = '\0';
    snprintf(p->info.external, sizeof p->info.external, "tcp://%s:%u", p->public_ip,
             (unsigned)port);
    addr_t a;
    p->info.behind_nat = addr_parse(p->info.external, &a) == ADDR_OK && addr_class(&a) != ADDR_PUBLIC;
    /* Renewed at half the lease, as RFC 6886 advises. */
    uint64_t renew = (uint64_t)lifetime * 500u;
    renew = renew < 1000 ? 1000 : renew;
    p->renew_at_ms = uv_now(p->loop) + renew;
    uv_timer_start(&p->timer, on_timer, renew, 0);
    if (!was || strcmp(before, p->info.external) != 0) {
        log_line(p->cfg.log, LOG_LEVEL_INFO,
                 "port mapping: the router (%s) forwards %s to port %u for %u s%s", method,
                 p->info.external, (unsigned)p->cfg.port, (unsigned)lifetime,
                 p->info.behind_nat ? "; but that address is private: another NAT is in "
                                      "front of the router, and nodes on the internet may "
                                      "still not reach this one"
                                    : "");
        changed(p);
    } else {
        log_line(p->cfg.log, LOG_LEVEL_DEBUG, "port mapping: %s renewed for %u s",
                 p->info.external, (unsigned)lifetime);
    }
}

static void
handle_response(portmap_t *p, const natpmpresp_t *resp)
{
    if (p->phase == PHASE_ADDRESS && resp->type == NATPMP_RESPTYPE_PUBLICADDRESS) {
        inet_ntop(AF_INET, &resp->pnu.publicaddress.addr, p->public_ip, sizeof p->public_ip);
        int r = sendnewportmappingrequest(&p->np, NATPMP_PROTOCOL_TCP, p->cfg.port, p->cfg.port,
                                          p->cfg.lease_s);
        if (r < 0) {
            fail(p, r);
            return;
        }
        p->phase = PHASE_MAP;
        arm_retry(p);
        return;
    }
    if (p->phase == PHASE_MAP && resp->type == NATPMP_RESPTYPE_TCPPORTMAPPING) {
        uint16_t port = resp->pnu.newportmapping.mappedpublicport;
        uint32_t lifetime = resp->pnu.newportmapping.lifetime;
        if (port == 0 || lifetime == 0) {
            fail(p, NATPMP_ERR_OUTOFRESOURCES);
            return;
        }
        mapped(p, "NAT-PMP", port, lifetime);
        return;
    }
    arm_retry(p); /* an answer to something else: keep waiting */
}

static void
read_response(portmap_t *p)
{
    if (uv_now(p->loop) - p->round_start_ms > PORTMAP_NATPMP_WAIT_MS) {
        fail(p, NATPMP_ERR_NOGATEWAYSUPPORT);
        return;
    }
    natpmpresp_t resp;
    memset(&resp, 0, sizeof resp);
    int r = readnatpmpresponseorretry(&p->np, &resp);
    if (r == NATPMP_TRYAGAIN) {
        arm_retry(p);
    } else if (r < 0) {
        fail(p, r);
    } else {
        handle_response(p, &resp);
    }
}

static void
on_readable(uv_poll_t *h, int status, int events)
{
    portmap_t *p = h->data;
    (void)events;
    if (status < 0 || p->closing) {
        return;
    }
    if (p->phase == PHASE_IDLE) {
        /* Nothing asked: drop the datagram (a late duplicate), or the poll
         * would fire again for it at once. */
        uint8_t junk[64];
        (void)recv(p->np.s, junk, sizeof junk, 0);
        return;
    }
    read_response(p);
}

static void
on_timer(uv_timer_t *t)
{
    portmap_t *p = t->data;
    if (p->closing) {
        return;
    }
    if (p->phase == PHASE_IDLE && p->by_upnp) {
        start_upnp(p); /* a renewal: added again */
    } else if (p->phase == PHASE_IDLE) {
        start_round(p); /* a renewal, or a retry after a failure */
    } else {
        read_response(p);
    }
}

static void finish_close(portmap_t *p);

static void
upnp_work(uv_work_t *w)
{
    portmap_t *p = w->data;
    if (p->unmapping) {
        upnp_unmap(&p->job);
    } else {
        upnp_map(&p->job);
    }
}

static void
upnp_done(uv_work_t *w, int status)
{
    portmap_t *p = w->data;
    p->working = false;
    if (p->closing) {
        /* A mapping made just now is removed like any other. */
        p->by_upnp = p->by_upnp || (!p->unmapping && status == 0 && p->job.ok);
        finish_close(p);
        return;
    }
    if (status == 0 && p->job.ok) {
        snprintf(p->public_ip, sizeof p->public_ip, "%s", p->job.external_ip);
        mapped(p, "UPnP-IGD", p->cfg.port, p->cfg.lease_s);
    } else {
        fail_both(p);
    }
}

/* Runs a UPnP map (or renewal) off the loop: its calls block. */
static void
start_upnp(portmap_t *p)
{
    p->job.port = p->cfg.port;
    p->job.lease_s = p->cfg.lease_s;
    if (p->info.state != PORTMAP_MAPPED) {
        p->info.method = "UPnP-IGD";
    }
    p->unmapping = false;
    p->work.data = p;
    p->phase = PHASE_IDLE;
    if (uv_queue_work(p->loop, &p->work, upnp_work, upnp_done) == 0) {
        p->working = true;
    } else {
        snprintf(p->job.why, sizeof p->job.why, "cannot start the UPnP worker");
        fail_both(p);
    }
}

static void
start_round(portmap_t *p)
{
    if (p->info.state != PORTMAP_MAPPED) {
        p->info.method = "NAT-PMP";
    }
    if (!p->np_open) {
        int r = initnatpmp(&p->np, 0, 0);
        if (r < 0) {
            fail(p, r);
            return;
        }
        p->np_open = true;
        if (uv_poll_init(p->loop, &p->poll, p->np.s) != 0) {
            closenatpmp(&p->np);
            p->np_open = false;
            fail(p, NATPMP_ERR_SOCKETERROR);
            return;
        }
        p->poll.data = p;
        p->poll_open = true;
        p->open_handles++;
        uv_poll_start(&p->poll, UV_READABLE, on_readable);
    }
    p->round_start_ms = uv_now(p->loop);
    int r = sendpublicaddressrequest(&p->np);
    if (r < 0) {
        fail(p, r);
        return;
    }
    p->phase = PHASE_ADDRESS;
    arm_retry(p);
}

portmap_err_t
portmap_new(portmap_t **out, uv_loop_t *loop, const portmap_config_t *cfg)
{
    *out = NULL;
    portmap_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return PORTMAP_ENOMEM;
    }
    p->cfg = *cfg;
    p->cfg.lease_s = cfg->lease_s ? cfg->lease_s : PORTMAP_LEASE_S;
    p->loop = loop;
    p->info.state = PORTMAP_TRYING;
    p->info.method = "NAT-PMP";
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->open_handles = 1;
    start_round(p);
    *out = p;
    return PORTMAP_OK;
}

void
portmap_info(const portmap_t *p, portmap_info_t *out)
{
    *out = p->info;
    if (p->info.state == PORTMAP_MAPPED) {
        uint64_t now = uv_now(p->loop);
        out->renew_in_ms = p->renew_at_ms > now ? p->renew_at_ms - now : 0;
    }
}

static void
on_closed(uv_handle_t *h)
{
    portmap_t *p = h->data;
    if (--p->open_handles > 0) {
        return;
    }
    if (p->np_open) {
        closenatpmp(&p->np);
    }
    void (*cb)(void *) = p->close_cb;
    void *ud = p->close_ud;
    free(p);
    if (cb != NULL) {
        cb(ud);
    }
}

static void
close_handles(portmap_t *p)
{
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_closed);
    if (p->poll_open) {
        p->poll_open = false;
        uv_poll_stop(&p->poll);
        uv_close((uv_handle_t *)&p->poll, on_closed);
    }
}

/* After the work in flight (if any): a UPnP mapping is removed off the
 * loop too, then the handles close. */
static void
finish_close(portmap_t *p)
{
    if (p->by_upnp && !p->unmapping) {
        p->unmapping = true;
        log_line(p->cfg.log, LOG_LEVEL_INFO, "port mapping: asking the router to remove %s",
                 p->info.external);
        if (uv_queue_work(p->loop, &p->work, upnp_work, upnp_done) == 0) {
            p->working = true;
            return;
        }
    }
    close_handles(p);
}

void
portmap_close(portmap_t *p, void (*cb)(void *ud), void *ud)
{
    if (p == NULL) {
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    p->closing = true;
    p->close_cb = cb;
    p->close_ud = ud;
    uv_timer_stop(&p->timer);
    if (p->np_open && p->info.state == PORTMAP_MAPPED && !p->by_upnp) {
        /* RFC 6886: lifetime 0 and external port 0 remove the mapping. The
         * answer is not waited for: the node is stopping. */
        (void)sendnewportmappingrequest(&p->np, NATPMP_PROTOCOL_TCP, p->cfg.port, 0, 0);
        log_line(p->cfg.log, LOG_LEVEL_INFO, "port mapping: asked the router to remove %s",
                 p->info.external);
    }
    if (p->working) {
        return; /* upnp_done finishes the close */
    }
    finish_close(p);
}
