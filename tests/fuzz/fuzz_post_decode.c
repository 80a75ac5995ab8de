/* libFuzzer target for the post decoder: any input must decode or be refused
 * without a crash, and whatever decodes must encode back to the same bytes
 * (the encoding is canonical: one post, one byte string, one id). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "post.h"

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
    post_t p;
    /* Mostly skip the signature: the fuzzer cannot forge one, and the
     * structural checks are what it should explore. */
    if (post_decode(&p, data, size, POST_NO_VERIFY) != POST_OK) {
        return 0;
    }
    uint8_t again[POST_MAX_SIZE];
    size_t len = 0;
    if (post_encode(&p, again, sizeof again, &len) != POST_OK || len != size ||
        memcmp(again, data, size) != 0) {
        abort();
    }
    if (strlen(p.body) != p.body_len || strlen(p.name) != p.name_len) {
        abort();
    }
    (void)post_decode(&p, data, size, POST_VERIFY);
    return 0;
}
