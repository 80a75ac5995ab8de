/* libFuzzer target for the gossip message codec. Each input is read twice:
 * as a whole frame (header and payload), and as a type byte followed by a
 * payload. Either way it must decode or be refused without a crash, what
 * decodes must encode back to the same bytes (one message, one encoding),
 * and every borrowed pointer must lie inside the input. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "gossipmsg.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

static void
inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
    if (n > 0 && (p < base || p + n > base + len)) {
        abort();
    }
}

static void
check_bounds(const gossip_msg_t *m, const uint8_t *base, size_t len)
{
    switch (m->type) {
    case GOSSIP_SUBSCRIBE:
        inside(m->u.subscribe.authors, (size_t)m->u.subscribe.n * 32, base, len);
        break;
    case GOSSIP_POST:
        inside(m->u.post.p, m->u.post.len, base, len);
        break;
    case GOSSIP_IHAVE:
    case GOSSIP_HEADS:
        inside(m->u.refs.refs, (size_t)m->u.refs.n * GOSSIP_REF_SIZE, base, len);
        break;
    case GOSSIP_RANGE:
        if (m->u.range.n > GOSSIP_RANGE_MAX) {
            abort();
        }
        for (size_t i = 0; i < m->u.range.n; i++) {
            inside(m->u.range.posts[i].p, m->u.range.posts[i].len, base, len);
        }
        break;
    case GOSSIP_FORK:
        inside(m->u.fork.a.p, m->u.fork.a.len, base, len);
        inside(m->u.fork.b.p, m->u.fork.b.len, base, len);
        break;
    default:
        break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Off the stack: a message holds 64 post references, and a
     * re-encoding may be as large as the input. */
    gossip_msg_t *m = malloc(sizeof *m);
    uint8_t *again = malloc(size > 0 ? size : 1);
    if (m == NULL || again == NULL) {
        abort();
    }
    size_t len = 0;
    if (gossip_msg_decode(m, data, size) == GOSSIP_MSG_OK) {
        check_bounds(m, data, size);
        if (gossip_msg_encode(m, again, size, &len) != GOSSIP_MSG_OK || len != size ||
            memcmp(again, data, size) != 0) {
            abort();
        }
    }
    if (size >= 1 &&
        gossip_msg_decode_payload(m, data[0], 7, data + 1, size - 1) == GOSSIP_MSG_OK) {
        check_bounds(m, data + 1, size - 1);
        if (gossip_msg_encode_payload(m, again, size, &len) != GOSSIP_MSG_OK || len != size - 1 ||
            memcmp(again, data + 1, size - 1) != 0) {
            abort();
        }
    }
    free(again);
    free(m);
    return 0;
}
