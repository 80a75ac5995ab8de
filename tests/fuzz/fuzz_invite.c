/* libFuzzer target for invites, which arrive from strangers in chat
 * messages and QR codes. Two ways in: the input as invite text, and the
 * input as the bytes inside a valid checksum (so the fuzzer reaches the
 * field decoder without having to find checksums). Nothing may crash; what
 * decodes must encode back to the same text in lower case, and decode again
 * to the same invite. */
#include <stdlib.h>
#include <string.h>

#include "invite.h"

static void
lower(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s >= 'A' && *s <= 'Z') {
            *s = (char)(*s - 'A' + 'a');
        }
    }
}

static void
check_round_trip(const char *text, const invite_t *inv)
{
    char again[INVITE_TEXT_MAX];
    if (invite_encode(inv, again) != INVITE_OK) {
        abort();
    }
    char low[INVITE_TEXT_MAX];
    size_t n = strlen(text);
    if (n >= sizeof low) {
        abort();
    }
    memcpy(low, text, n + 1);
    lower(low);
    if (strcmp(again, low) != 0) {
        abort();
    }
    invite_t back;
    if (invite_decode(again, &back, NULL) != INVITE_OK || memcmp(&back, inv, sizeof back) != 0) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[INVITE_TEXT_MAX + 64];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    invite_t inv;
    if (invite_decode(text, &inv, NULL) == INVITE_OK) {
        check_round_trip(text, &inv);
    }
    if (size <= INVITE_BYTES_MAX &&
        keytext_long_encode(text, sizeof text, INVITE_PREFIX, data, size) == KEYTEXT_OK &&
        invite_decode(text, &inv, NULL) == INVITE_OK) {
        check_round_trip(text, &inv);
    }
    return 0;
}
