/* libFuzzer target for the LAN beacon decoder: anything that arrives on the
 * UDP port must decode or be refused without a crash, and whatever decodes
 * must name a valid network, a non-zero port, and encode back to exactly the
 * bytes that came in (so there is one spelling of each beacon). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "lan.h"
#include "wire.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The outputs on the heap at their exact sizes, so ASan sees a write
     * past any of them. */
    char *network = malloc(33);
    uint8_t *key = malloc(32);
    uint16_t *port = malloc(sizeof *port);
    if (network == NULL || key == NULL || port == NULL) {
        abort();
    }
    if (lan_beacon_decode(data, size, network, key, port)) {
        size_t nlen = strnlen(network, 33);
        if (nlen == 0 || nlen > WIRE_NETWORK_MAX || !wire_network_valid(network) || *port == 0) {
            abort();
        }
        uint8_t again[LAN_BEACON_MAX];
        size_t len = lan_beacon_encode(again, network, key, *port);
        if (len != size || memcmp(again, data, size) != 0) {
            abort();
        }
    }
    free(port);
    free(key);
    free(network);
    return 0;
}
