/* libFuzzer target for the head record decoder: any input must decode or be
 * refused without a crash, and whatever decodes (structure only, since the
 * fuzzer cannot forge a signature) must encode back to the same bytes. The
 * verifying decoder runs too and must never accept what the structural one
 * refuses. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "head.h"

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
    head_t h;
    head_err_t structural = head_decode_unverified(&h, data, size);
    head_err_t full = head_decode(&h, data, size);
    if (structural != HEAD_OK) {
        if (full != structural) {
            abort();
        }
        return 0;
    }
    if (full != HEAD_OK && full != HEAD_ESIG) {
        abort();
    }
    uint8_t again[HEAD_SIZE];
    size_t len = 0;
    if (head_encode(&h, again, sizeof again, &len) != HEAD_OK || len != size ||
        memcmp(again, data, size) != 0 || h.seq == 0) {
        abort();
    }
    return 0;
}
