/* libFuzzer target for one bootstrap.list line. The input, cut at its first
 * NUL, is the line. Any line must parse or be refused without a crash; a line
 * longer than BOOTSTRAP_LINE_MAX is always ETOOLONG; an accepted line yields
 * an endpoint that wire_endpoint_valid accepts and that occurs in the line,
 * and the canonical line "ENDPOINT KEYTEXT" parses back to the same entry. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "keytext.h"
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
    char *line = malloc(size + 1);
    char *endpoint = malloc(WIRE_ENDPOINT_MAX + 1);
    uint8_t *key = malloc(32);
    if (line == NULL || endpoint == NULL || key == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(line, data, size);
    }
    line[size] = '\0';
    bootstrap_err_t err = bootstrap_parse_line(line, key, endpoint);
    if (err > BOOTSTRAP_ETOOLONG ||
        (strlen(line) > BOOTSTRAP_LINE_MAX) != (err == BOOTSTRAP_ETOOLONG)) {
        abort();
    }
    if (err == BOOTSTRAP_OK) {
        size_t n = strnlen(endpoint, WIRE_ENDPOINT_MAX + 1);
        if (n > WIRE_ENDPOINT_MAX || !wire_endpoint_valid(endpoint) ||
            strstr(line, endpoint) == NULL) {
            abort();
        }
        char canon[WIRE_ENDPOINT_MAX + 1 + KEYTEXT_BUFSZ];
        memcpy(canon, endpoint, n);
        canon[n] = ' ';
        keytext_encode(canon + n + 1, KEYTEXT_NODE, key);
        uint8_t key2[32];
        char endpoint2[WIRE_ENDPOINT_MAX + 1];
        if (bootstrap_parse_line(canon, key2, endpoint2) != BOOTSTRAP_OK ||
            memcmp(key, key2, 32) != 0 || strcmp(endpoint, endpoint2) != 0) {
            abort();
        }
    }
    free(key);
    free(endpoint);
    free(line);
    return 0;
}
