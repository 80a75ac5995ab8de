/* libFuzzer target for the wire decoder: any frame must decode or be refused
 * without a crash, and whatever decodes must encode back to the same bytes.
 * That second check is what catches a decoder that accepts something the
 * encoder would refuse, or two spellings of one message. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

/* Every string the decoder hands out is terminated within its array. */
static void
check_strings(const wire_msg_t *m)
{
    if (m->type == WIRE_HELLO) {
        const wire_hello_t *h = &m->u.hello;
        if (!wire_network_valid(h->network) || h->n_endpoints > WIRE_ENDPOINTS_MAX ||
            strnlen(h->software, sizeof h->software) > WIRE_SOFTWARE_MAX) {
            abort();
        }
        for (size_t i = 0; i < h->n_endpoints; i++) {
            if (!wire_hello_endpoint_valid(h->endpoints[i].s)) {
                abort();
            }
        }
    }
    if (m->type == WIRE_PEERS) {
        if (m->u.peers.n > WIRE_PEERS_MAX) {
            abort();
        }
        for (size_t i = 0; i < m->u.peers.n; i++) {
            if (!wire_endpoint_valid(m->u.peers.contacts[i].endpoint.s)) {
                abort();
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Both are too big for the stack: a message is over 5 KiB and a
     * re-encoding may be as large as the input. */
    wire_msg_t *m = malloc(sizeof *m);
    uint8_t *again = malloc(size > 0 ? size : 1);
    if (m == NULL || again == NULL) {
        abort();
    }
    if (wire_decode(m, data, size) == WIRE_OK) {
        check_strings(m);
        size_t len = 0;
        if (wire_encode(m, again, size, &len) != WIRE_OK || len != size ||
            memcmp(again, data, size) != 0) {
            abort();
        }
    }
    free(again);
    free(m);
    return 0;
}
