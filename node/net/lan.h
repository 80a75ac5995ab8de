/* lan: finding other nodes on the local network with no list at all.
 *
 * Every LAN_BEACON_MS a node sends a beacon by UDP, on each IPv4
 * interface, to the multicast group LAN_GROUP and to the subnet's broadcast
 * address, TTL 1, so it never leaves the link (docs/PROTOCOL.md section 7). The beacon names the network, the node key and the TCP port; the
 * receiver dials the sender's address at that port and CURVE authenticates
 * the key, so a forged beacon leads only to a failed handshake. */
#ifndef SAMIZDAT_LAN_H
#define SAMIZDAT_LAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "keys.h"
#include "log.h"

#define LAN_GROUP "239.255.74.70"
#define LAN_MAGIC "SZLAN"
enum {
    LAN_BEACON_MS = 5000,
    LAN_VERSION = 1,
    LAN_BEACON_MAX = 5 + 1 + 1 + 32 + KEYS_PUBLIC_SIZE + 2
};

typedef struct lan lan_t;

/* endpoint is "tcp://ADDR:PORT"; both borrowed for the call. */
typedef void (*lan_found_cb)(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint);

typedef struct {
    const char *network;     /* borrowed until lan_close */
    const uint8_t *node_key; /* KEYS_PUBLIC_SIZE bytes, borrowed until lan_close */
    uint16_t tcp_port;
    uint16_t udp_port;
    lan_found_cb on_found;
    void *ud;
    const log_t *log;
} lan_config_t;

typedef enum {
    LAN_OK = 0,
    LAN_ENOMEM,
    LAN_EBIND, /* the UDP port could not be opened */
} lan_err_t;

lan_err_t lan_new(lan_t **out, uv_loop_t *loop, const lan_config_t *cfg);
/* Asynchronous; cb(ud) when done. Accepts NULL (cb is called at once). */
void lan_close(lan_t *l, void (*cb)(void *ud), void *ud);

/* The beacon codec, exposed for tests and the fuzzer. */
size_t lan_beacon_encode(uint8_t out[LAN_BEACON_MAX], const char *network,
                         const uint8_t key[KEYS_PUBLIC_SIZE], uint16_t port);
/* True when buf is a well-formed beacon; network (33 bytes), key, port set. */
bool lan_beacon_decode(const uint8_t *buf, size_t len, char network[33],
                       uint8_t key[KEYS_PUBLIC_SIZE], uint16_t *port);

#endif
