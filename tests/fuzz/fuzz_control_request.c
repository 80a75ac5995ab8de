/* libFuzzer target for the control-socket request decoder, which writes into
 * its buffer: it runs on a writable copy of exactly the input's size, so a
 * write or read past the end is caught. When a request decodes, argc is
 * within its cap, every argv[i] is a NUL-terminated string inside the buffer
 * with no two overlapping, argv[argc] is NULL, standard input lies inside the
 * buffer, and encoding the request again gives back the input. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "control.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

static void
check(const uint8_t *data, size_t size, const uint8_t *buf, const control_request_t *r)
{
    if (r->argc < 0 || r->argc > CONTROL_ARGS_MAX || r->argv[r->argc] != NULL) {
        abort();
    }
    const char *lo = (const char *)buf;
    const char *hi = lo + size;
    const char *prev_end = lo;
    for (int i = 0; i < r->argc; i++) {
        const char *a = r->argv[i];
        /* In order, each after the previous one's terminator. */
        if (a == NULL || a < prev_end || a >= hi) {
            abort();
        }
        const char *nul = memchr(a, '\0', (size_t)(hi - a));
        if (nul == NULL) {
            abort();
        }
        prev_end = nul + 1;
    }
    if (r->in_len > size || (r->in_len > 0 && (r->in == NULL || r->in < buf ||
                                               r->in_len > (size_t)(buf + size - r->in) ||
                                               (const char *)r->in < prev_end))) {
        abort();
    }

    /* The same request, encoded again from what was decoded. */
    uint8_t *again = malloc(size > 0 ? size : 1);
    if (again == NULL) {
        abort();
    }
    bytes_writer_t w;
    bytes_writer_init(&w, again, size);
    bytes_put_u8(&w, CONTROL_VERSION);
    bytes_put_u8(&w, (uint8_t)r->argc);
    for (int i = 0; i < r->argc; i++) {
        size_t n = strlen(r->argv[i]);
        if (n > 0xffff) {
            abort();
        }
        bytes_put_u16(&w, (uint16_t)n);
        bytes_put(&w, (const uint8_t *)r->argv[i], n);
    }
    bytes_put_u32(&w, (uint32_t)r->in_len);
    if (r->in_len > 0) {
        bytes_put(&w, r->in, r->in_len);
    }
    if (!bytes_writer_ok(&w) || w.len != size || memcmp(again, data, size) != 0) {
        abort();
    }
    free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size > 0 ? size : 1);
    control_request_t *r = malloc(sizeof *r);
    if (buf == NULL || r == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(buf, data, size);
    }
    memset(r, 0xa5, sizeof *r);
    if (control_request_decode(buf, size, r)) {
        check(data, size, buf, r);
    }
    free(r);
    free(buf);
    return 0;
}
