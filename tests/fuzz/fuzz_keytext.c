/* libFuzzer target for the key text decoder: any input must decode or be
 * refused without a crash, never decode as two kinds at once, and whatever
 * decodes must encode back to the same text in lower case (one value, one
 * text: the padding bits and the letter case are the only freedoms, and
 * decoding refuses non-zero padding). */
#include <stdlib.h>
#include <string.h>

#include "keytext.h"

enum { INPUT_CAP = 200 };

/* Lower-cases ASCII letters only: the text form is ASCII. */
static void
lower(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s >= 'A' && *s <= 'Z') {
            *s = (char)(*s - 'A' + 'a');
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const keytext_kind_t kinds[] = {KEYTEXT_AUTHOR, KEYTEXT_NODE, KEYTEXT_POST};
    char text[INPUT_CAP + 1];
    size_t n = size < INPUT_CAP ? size : INPUT_CAP;
    memcpy(text, data, n);
    text[n] = '\0';
    int decoded = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        uint8_t value[32];
        if (keytext_decode(value, kinds[k], text) != KEYTEXT_OK) {
            continue;
        }
        decoded++;
        char again[KEYTEXT_BUFSZ];
        char want[INPUT_CAP + 1];
        keytext_encode(again, kinds[k], value);
        memcpy(want, text, n + 1);
        lower(want);
        if (strcmp(again, want) != 0) {
            abort();
        }
    }
    if (decoded > 1) {
        abort();
    }
    return 0;
}
