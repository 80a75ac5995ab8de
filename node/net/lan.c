#include "lan.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "addr.h"
#include "bytes.h"
#include "wire.h"

struct lan {
    lan_config_t cfg;
    uv_udp_t udp;
    uv_timer_t timer;
    int open_handles;
    bool warned;  /* a failure to send was logged */
    bool sent_ok; /* a beacon went out in this round */
    void (*close_cb)(void *ud);
    void *close_ud;
};

size_t
lan_beacon_encode(uint8_t out[LAN_BEACON_MAX], const char *network,
                  const uint8_t key[KEYS_PUBLIC_SIZE], uint16_t port)
{
    bytes_writer_t w;
    bytes_writer_init(&w, out, LAN_BEACON_MAX);
    size_t nlen = strlen(network);
    bytes_put(&w, (const uint8_t *)LAN_MAGIC, 5);
    bytes_put_u8(&w, LAN_VERSION);
    bytes_put_u8(&w, (uint8_t)nlen);
    bytes_put(&w, (const uint8_t *)network, nlen);
    bytes_put(&w, key, KEYS_PUBLIC_SIZE);
    bytes_put_u16(&w, port);
    return bytes_writer_ok(&w) ? w.len : 0;
}

bool
lan_beacon_decode(const uint8_t *buf, size_t len, char network[33], uint8_t key[KEYS_PUBLIC_SIZE],
                  uint16_t *port)
{
    bytes_reader_t r;
    bytes_reader_init(&r, buf, len);
    const uint8_t *magic = bytes_get_ref(&r, 5);
    uint8_t version = bytes_get_u8(&r);
    uint8_t nlen = bytes_get_u8(&r);
    if (magic == NULL || memcmp(magic, LAN_MAGIC, 5) != 0 || version != LAN_VERSION || nlen == 0 ||
        nlen > WIRE_NETWORK_MAX) {
        return false;
    }
    bytes_get(&r, (uint8_t *)network, nlen);
    network[nlen] = '\0';
    bytes_get(&r, key, KEYS_PUBLIC_SIZE);
    *port = bytes_get_u16(&r);
    return bytes_reader_done(&r) && *port != 0 && strlen(network) == nlen &&
           wire_network_valid(network);
}

/* Sends the beacon to addr at once, or not at all: a beacon that would
 * wait is dropped (the next comes in LAN_BEACON_MS), and sending at once
 * is what lets the multicast interface set just before apply to it. */
static int
send_to(lan_t *l, const struct sockaddr_in *sa)
{
    uint8_t buf[LAN_BEACON_MAX];
    size_t len = lan_beacon_encode(buf, l->cfg.network, l->cfg.node_key, l->cfg.tcp_port);
    if (len == 0) {
        return UV_EINVAL;
    }
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int rc = uv_udp_try_send(&l->udp, &b, 1, (const struct sockaddr *)sa);
    return rc < 0 ? rc : 0;
}

static int
send_text(lan_t *l, const char *ip)
{
    struct sockaddr_in sa;
    int rc = uv_ip4_addr(ip, l->cfg.udp_port, &sa);
    return rc != 0 ? rc : send_to(l, &sa);
}

/* A failure to send is said once at warn level (until sending works
 * again): a node whose beacons go nowhere is invisible on its network, and
 * its user should know why. */
static void
note_send(lan_t *l, const char *where, int rc)
{
    if (rc == 0) {
        l->sent_ok = true;
        return;
    }
    if (!l->warned) {
        l->warned = true;
        log_line(l->cfg.log, LOG_LEVEL_WARN,
                 "lan: cannot send discovery beacons to %s: %s; nodes on this network will "
                 "not find this one by itself",
                 where, uv_strerror(rc));
    }
}

/* Multicast and the subnet's broadcast address through one interface.
 * Both work on a network with no router: a plain switch, or a cable
 * between two computers, where the host has no default route and sends
 * to the group or to 255.255.255.255 without naming an interface fail. */
static void
beacon_on(lan_t *l, const uv_interface_address_t *ifa)
{
    char ip[INET_ADDRSTRLEN];
    const struct sockaddr_in *in = &ifa->address.address4;
    if (uv_ip4_name(in, ip, sizeof ip) != 0) {
        return;
    }
    /* Joining again is refused with EADDRINUSE; that is fine. */
    (void)uv_udp_set_membership(&l->udp, LAN_GROUP, ip, UV_JOIN_GROUP);
    if (uv_udp_set_multicast_interface(&l->udp, ip) == 0) {
        note_send(l, LAN_GROUP, send_text(l, LAN_GROUP));
    }
    uint32_t mask = ntohl(ifa->netmask.netmask4.sin_addr.s_addr);
    if (mask == 0xffffffffu) {
        return; /* a point-to-point address: no subnet to broadcast to */
    }
    struct sockaddr_in bc = *in;
    bc.sin_port = htons(l->cfg.udp_port);
    bc.sin_addr.s_addr = htonl(ntohl(in->sin_addr.s_addr) | ~mask);
    note_send(l, "the subnet's broadcast address", send_to(l, &bc));
}

static void
on_timer(uv_timer_t *h)
{
    lan_t *l = h->data;
    uv_interface_address_t *ifs = NULL;
    int count = 0;
    int n4 = 0;
    l->sent_ok = false;
    if (uv_interface_addresses(&ifs, &count) == 0) {
        for (int i = 0; i < count; i++) {
            if (!ifs[i].is_internal && ifs[i].address.address4.sin_family == AF_INET) {
                n4++;
                beacon_on(l, &ifs[i]);
            }
        }
        uv_free_interface_addresses(ifs, count);
    }
    if (n4 == 0) {
        /* No interface listed: let the routing table choose. */
        note_send(l, LAN_GROUP, send_text(l, LAN_GROUP));
        note_send(l, "255.255.255.255", send_text(l, "255.255.255.255"));
    }
    if (l->sent_ok && l->warned) {
        l->warned = false;
        log_line(l->cfg.log, LOG_LEVEL_INFO, "lan: discovery beacons go out again");
    }
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    static_assert(LAN_BEACON_MAX <= 128, "beacon fits the receive buffer");
    lan_t *l = h->data;
    (void)l;
    buf->base = malloc(128);
    buf->len = buf->base ? 128 : 0;
}

static void
on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
        unsigned flags)
{
    lan_t *l = h->data;
    char network[33];
    uint8_t key[KEYS_PUBLIC_SIZE];
    uint16_t port;
    if (nread > 0 && addr != NULL && addr->sa_family == AF_INET && !(flags & UV_UDP_PARTIAL) &&
        lan_beacon_decode((const uint8_t *)buf->base, (size_t)nread, network, key, &port) &&
        strcmp(network, l->cfg.network) == 0 &&
        memcmp(key, l->cfg.node_key, KEYS_PUBLIC_SIZE) != 0) {
        addr_t a;
        char endpoint[ADDR_ENDPOINT_MAX + 1];
        if (addr_from_sockaddr(addr, port, &a) == ADDR_OK &&
            addr_format(&a, endpoint, sizeof endpoint) == ADDR_OK) {
            l->cfg.on_found(l->cfg.ud, key, endpoint);
        }
    }
    free(buf->base);
}

static void
on_closed(uv_handle_t *h)
{
    lan_t *l = h->data;
    if (--l->open_handles > 0) {
        return;
    }
    void (*cb)(void *) = l->close_cb;
    void *ud = l->close_ud;
    free(l);
    if (cb != NULL) {
        cb(ud);
    }
}

static int
open_udp(lan_t *l, uv_loop_t *loop)
{
    struct sockaddr_in any;
    uv_ip4_addr("0.0.0.0", l->cfg.udp_port, &any);
    int rc = uv_udp_init(loop, &l->udp);
    l->udp.data = l;
    if (rc != 0) {
        return rc;
    }
    l->open_handles++;
    rc = uv_udp_bind(&l->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR);
    if (rc == 0) {
        /* Without an interface this fails on a host with no multicast
         * route; each beacon round joins on every interface as well. */
        if (uv_udp_set_membership(&l->udp, LAN_GROUP, NULL, UV_JOIN_GROUP) != 0) {
            log_line(l->cfg.log, LOG_LEVEL_DEBUG, "lan: no route for %s; joining per interface",
                     LAN_GROUP);
        }
        uv_udp_set_multicast_ttl(&l->udp, 1);
        uv_udp_set_multicast_loop(&l->udp, 1);
        uv_udp_set_broadcast(&l->udp, 1);
        rc = uv_udp_recv_start(&l->udp, on_alloc, on_recv);
    }
    return rc;
}

lan_err_t
lan_new(lan_t **out, uv_loop_t *loop, const lan_config_t *cfg)
{
    *out = NULL;
    lan_t *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return LAN_ENOMEM;
    }
    l->cfg = *cfg;
    if (open_udp(l, loop) != 0) {
        lan_close(l, NULL, NULL);
        return LAN_EBIND;
    }
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    l->open_handles++;
    /* A little jitter so nodes started together do not beacon in step. */
    uv_timer_start(&l->timer, on_timer, 200 + randombytes_uniform(300), LAN_BEACON_MS);
    *out = l;
    return LAN_OK;
}

void
lan_close(lan_t *l, void (*cb)(void *ud), void *ud)
{
    if (l == NULL) {
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    l->close_cb = cb;
    l->close_ud = ud;
    int handles = l->open_handles;
    if (handles == 0) {
        free(l);
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    uv_close((uv_handle_t *)&l->udp, on_closed);
    if (handles > 1) {
        uv_close((uv_handle_t *)&l->timer, on_closed);
    }
}
