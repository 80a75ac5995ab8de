/* libFuzzer target for the DHT message codec. The input is a message as the
 * node hands it over: byte 0 the frame's type, bytes 1..4 its request id,
 * the rest the payload. Any input must decode or be refused without a
 * crash; whatever decodes must encode back to exactly the same payload (the
 * encoding is canonical), and its strings must be what their rules say. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dhtmsg.h"

enum { PREFIX = 5 };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

static void
check_contacts(const dht_contact_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!dht_msg_endpoint_ok(c[i].endpoint)) {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < PREFIX) {
        return 0;
    }
    static dht_msg_t m;
    static uint8_t again[DHT_LARGEST_PAYLOAD];
    uint32_t rid =
        (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
    const uint8_t *payload = data + PREFIX;
    size_t len = size - PREFIX;
    if (dht_msg_decode_payload(&m, data[0], rid, payload, len) != DHT_MSG_OK) {
        return 0;
    }
    size_t n = 0;
    if (dht_msg_encode_payload(&m, again, sizeof again, &n) != DHT_MSG_OK || n != len ||
        memcmp(again, payload, len) != 0 || m.type != data[0] || m.rid != rid) {
        abort();
    }
    switch (m.type) {
    case DHT_MSG_NODES:
        check_contacts(m.u.nodes.c, m.u.nodes.n);
        break;
    case DHT_MSG_PROVIDERS:
        check_contacts(m.u.providers.c, m.u.providers.n);
        check_contacts(m.u.providers.closer.c, m.u.providers.closer.n);
        break;
    case DHT_MSG_HEAD:
        check_contacts(m.u.head.closer.c, m.u.head.closer.n);
        break;
    default:
        break;
    }
    return 0;
}
