/* libFuzzer target for the web front end's readers: a query or form body
 * and a JSON body, both from any program that can reach the port. Nothing
 * may crash; a form or object that reads must give fields whose values lie
 * inside the one allocation and whose names are unique. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wbuf.h"
#include "webin.h"

static void
check(const webin_t *in)
{
    for (size_t i = 0; i < in->n; i++) {
        if (in->f[i].value[in->f[i].len] != '\0' || in->f[i].name[0] == '\0') {
            abort();
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(in->f[i].name, in->f[j].name) == 0) {
                abort();
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    webin_t in;
    if (webin_form(&in, (const char *)data, size) == WEBIN_OK) {
        check(&in);
        webin_free(&in);
    }
    if (webin_json(&in, (const char *)data, size) == WEBIN_OK) {
        check(&in);
        webin_free(&in);
    }
    /* The escaper must never let a '<' through. */
    wbuf_t b;
    wbuf_init(&b, 16 * size + 16);
    wbuf_html(&b, (const char *)data, size);
    if (b.failed || (b.p != NULL && (strchr(b.p, '<') != NULL || strchr(b.p, '"') != NULL))) {
        abort();
    }
    wbuf_free(&b);
    return 0;
}
