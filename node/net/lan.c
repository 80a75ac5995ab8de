#include "lan.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "bytes.h"
#include "wire.h"

struct lan {
    lan_config_t cfg;
    uv_udp_t udp;
    uv_timer_t timer;
    int open_handles;
    void (*close_cb)(void *ud);
    void *close_ud;
};

/* One datagram buffer is enough: libuv reads one datagram at a time. */
typedef struct {
    uv_udp_send_t req;
    uint8_t buf[LAN_BEACON_MAX];
} send_t;

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

static void
on_sent(uv_udp_send_t *req, int status)
{
    (void)status;
    free(req->data);
}

static void
send_to(lan_t *l, const char *addr)
{
    struct sockaddr_in sa;
    if (uv_ip4_addr(addr, l->cfg.udp_port, &sa) != 0) {
        return;
    }
    send_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return;
    }
    size_t len = lan_beacon_encode(s->buf, l->cfg.network, l->cfg.node_key, l->cfg.tcp_port);
    uv_buf_t b = uv_buf_init((char *)s->buf, (unsigned)len);
    s->req.data = s;
    if (len == 0 ||
        uv_udp_send(&s->req, &l->udp, &b, 1, (const struct sockaddr *)&sa, on_sent) != 0) {
        free(s);
    }
}

static void
on_timer(uv_timer_t *h)
{
    lan_t *l = h->data;
    send_to(l, LAN_GROUP);
    send_to(l, "255.255.255.255");
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
        /* Membership can fail on a host with no multicast route; broadcast
         * still works then. */
        if (uv_udp_set_membership(&l->udp, LAN_GROUP, NULL, UV_JOIN_GROUP) != 0) {
            log_line(l->cfg.log, LOG_LEVEL_DEBUG, "lan: cannot join %s; broadcast only", LAN_GROUP);
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
