/* libFuzzer target for the control socket's codec (node/app/appmsg.c). The
 * first byte picks the decoder: even, a request; odd, a result. The rest is
 * the message body. Whatever decodes must encode again to exactly the same
 * bytes (the format is canonical), and a decoded result must be freed
 * cleanly; nothing may read past the input. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "appmsg.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

static void
same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen || memcmp(a, b, alen) != 0) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    /* An exact-size copy, so a read one byte past the end is caught. */
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data + 1, len);
    uint8_t *again = NULL;
    size_t again_len = 0;
    if ((data[0] & 1) == 0) {
        app_request_t req;
        if (appmsg_request_decode(buf, len, &req) == APPMSG_OK) {
            if (appmsg_request_encode(&req, &again, &again_len) != APPMSG_OK) {
                abort();
            }
            same(buf, len, again, again_len);
        }
    } else {
        app_result_t *res = NULL;
        if (appmsg_result_decode(buf, len, &res) == APPMSG_OK) {
            if (appmsg_result_encode(res, &again, &again_len) != APPMSG_OK) {
                abort();
            }
            same(buf, len, again, again_len);
            app_result_free(res);
        } else if (res != NULL) {
            abort();
        }
    }
    free(again);
    free(buf);
    return 0;
}
