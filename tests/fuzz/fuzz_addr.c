/* libFuzzer target for the endpoint parser (node/net/addr.c). The input,
 * cut at its first NUL, is the endpoint. Any input must parse or be
 * refused without a crash; an accepted endpoint is at most
 * ADDR_ENDPOINT_MAX bytes, has a port, and formats to text that parses
 * back to an equal address (with the same class); addr_endpoint_valid is
 * addr_parse minus the wildcards; and a numeric address round-trips
 * through its sockaddr form. */
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(text, data, size);
    }
    text[size] = '\0';
    addr_t a;
    addr_err_t err = addr_parse(text, &a);
    if (err > ADDR_EPORT) {
        abort();
    }
    bool valid = addr_endpoint_valid(text);
    if (valid != (err == ADDR_OK && a.kind != ADDR_WILDCARD)) {
        abort();
    }
    if (err == ADDR_OK) {
        if (strlen(text) > ADDR_ENDPOINT_MAX || a.port == 0) {
            abort();
        }
        char out[ADDR_ENDPOINT_MAX + 1];
        addr_t b;
        /* A name or a wildcard is written back as given; an address may
         * get shorter (its one spelling), never longer than it fits. */
        if (addr_format(&a, out, sizeof out) == ADDR_OK) {
            if (addr_parse(out, &b) != ADDR_OK || !addr_equal(&a, &b) ||
                addr_class(&a) != addr_class(&b)) {
                abort();
            }
        }
        struct sockaddr_storage ss;
        socklen_t len = 0;
        if (addr_to_sockaddr(&a, &ss, &len) == ADDR_OK) {
            if (addr_from_sockaddr((const struct sockaddr *)&ss, 0, &b) != ADDR_OK ||
                !addr_equal(&a, &b)) {
                abort();
            }
        }
    }
    /* A relayed endpoint is never a tcp one, is at most the cap, and
     * names no wildcard. */
    addr_t r;
    if (addr_relay_parse(text, &r) == ADDR_OK) {
        if (valid || strlen(text) > ADDR_ENDPOINT_MAX || r.port == 0 || r.kind == ADDR_WILDCARD ||
            !addr_dialable(text)) {
            abort();
        }
    }
    free(text);
    return 0;
}
