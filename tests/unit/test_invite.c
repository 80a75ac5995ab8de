/* Invites: the text form round-trips, the test vector of docs/PROTOCOL.md
 * section 12 holds, and every kind of damage is refused with its reason. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "invite.h"

/* The vector of PROTOCOL.md section 12: node key 0x01 x 32, author key
 * 0x02 x 32, two endpoints. */
static const char VECTOR_TEXT[] =
    "szi1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgzqgpq"
    "yqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgppgarrwqaz7te38yez"
    "uvpwxghrww3hxsmnqxr5vdcr5te0tverqvp38fjxywp68gm46w3hxsmnqfnwrtt";

static void
vector_invite(invite_t *inv)
{
    memset(inv, 0, sizeof *inv);
    memset(inv->node_key, 0x01, sizeof inv->node_key);
    inv->has_author = true;
    memset(inv->author, 0x02, sizeof inv->author);
    inv->n_endpoints = 2;
    strcpy(inv->endpoints[0], "tcp://192.0.2.7:7470");
    strcpy(inv->endpoints[1], "tcp://[2001:db8::7]:7470");
}

static void
test_vector(void **state)
{
    (void)state;
    invite_t inv;
    vector_invite(&inv);
    char text[INVITE_TEXT_MAX];
    assert_int_equal(invite_encode(&inv, text), INVITE_OK);
    printf("vector: %s\n", text);
    assert_string_equal(text, VECTOR_TEXT);
    invite_t back;
    assert_int_equal(invite_decode(VECTOR_TEXT, &back, NULL), INVITE_OK);
    assert_memory_equal(&back, &inv, sizeof inv);
}

static void
test_round_trip_without_author_and_upper_case(void **state)
{
    (void)state;
    invite_t inv = {.n_endpoints = 1};
    randombytes_buf(inv.node_key, sizeof inv.node_key);
    strcpy(inv.endpoints[0], "tcp://node.example.org:7470");
    char text[INVITE_TEXT_MAX];
    assert_int_equal(invite_encode(&inv, text), INVITE_OK);
    assert_memory_equal(text, "szi1", 4);
    for (char *p = text; *p; p++) {
        *p = (char)((*p >= 'a' && *p <= 'z') ? *p - 'a' + 'A' : *p);
    }
    invite_t back;
    assert_int_equal(invite_decode(text, &back, NULL), INVITE_OK);
    assert_false(back.has_author);
    assert_memory_equal(&back, &inv, sizeof inv);
}

static void
test_largest_invite_fits(void **state)
{
    (void)state;
    invite_t inv = {.has_author = true, .n_endpoints = INVITE_ENDPOINTS_MAX};
    for (size_t i = 0; i < INVITE_ENDPOINTS_MAX; i++) {
        /* tcp://aaaa...:7470, exactly ADDR_ENDPOINT_MAX bytes */
        char *ep = inv.endpoints[i];
        strcpy(ep, "tcp://");
        size_t host = ADDR_ENDPOINT_MAX - strlen("tcp://") - strlen(":7470");
        for (size_t k = 0; k < host; k++) {
            ep[6 + k] = (k % 60 == 59) ? '.' : 'a';
        }
        strcpy(ep + 6 + host, ":7470");
        assert_true(addr_endpoint_valid(ep));
    }
    char text[INVITE_TEXT_MAX];
    assert_int_equal(invite_encode(&inv, text), INVITE_OK);
    assert_int_equal(strlen(text) + 1, INVITE_TEXT_MAX);
    invite_t back;
    assert_int_equal(invite_decode(text, &back, NULL), INVITE_OK);
    assert_memory_equal(&back, &inv, sizeof inv);
}

static void
test_encode_refuses_bad_invites(void **state)
{
    (void)state;
    invite_t inv = {.n_endpoints = 0};
    char text[INVITE_TEXT_MAX];
    assert_int_equal(invite_encode(&inv, text), INVITE_ETOOMANY);
    assert_string_equal(text, "");
    inv.n_endpoints = INVITE_ENDPOINTS_MAX + 1;
    assert_int_equal(invite_encode(&inv, text), INVITE_ETOOMANY);
    inv.n_endpoints = 1;
    strcpy(inv.endpoints[0], "tcp://*:7470");
    assert_int_equal(invite_encode(&inv, text), INVITE_EENDPOINT);
}

static void
test_mistyped_and_cut_short(void **state)
{
    (void)state;
    char text[INVITE_TEXT_MAX];
    strcpy(text, VECTOR_TEXT);
    invite_t inv;
    keytext_err_t kerr = KEYTEXT_OK;
    /* Each single changed character is caught by the checksum. */
    size_t len = strlen(text);
    for (size_t i = 4; i < len; i++) {
        char was = text[i];
        text[i] = was == 'q' ? 'p' : 'q';
        assert_int_equal(invite_decode(text, &inv, &kerr), INVITE_ETEXT);
        assert_int_equal(kerr, KEYTEXT_ECHECKSUM);
        text[i] = was;
    }
    text[len - 1] = '\0';
    assert_int_equal(invite_decode(text, &inv, &kerr), INVITE_ETEXT);
    assert_true(kerr == KEYTEXT_ECHECKSUM || kerr == KEYTEXT_ELENGTH ||
                kerr == KEYTEXT_EPADDING);
    assert_int_equal(invite_decode("szi1", &inv, &kerr), INVITE_ETEXT);
    assert_int_equal(kerr, KEYTEXT_ELENGTH);
    assert_int_equal(invite_decode("", &inv, &kerr), INVITE_ETEXT);
    assert_int_equal(invite_decode(NULL, &inv, &kerr), INVITE_ETEXT);
    /* A node key is not an invite. */
    uint8_t k[KEYS_PUBLIC_SIZE] = {0};
    char key[KEYTEXT_BUFSZ];
    keytext_encode(key, KEYTEXT_NODE, k);
    assert_int_equal(invite_decode(key, &inv, &kerr), INVITE_ETEXT);
    assert_int_equal(kerr, KEYTEXT_EPREFIX);
    assert_non_null(strstr(invite_text_strerror(kerr), "szi1"));
    /* Far too long: refused by length before any work. */
    char big[4096];
    memset(big, 'q', sizeof big - 1);
    memcpy(big, "szi1", 4);
    big[sizeof big - 1] = '\0';
    assert_int_equal(invite_decode(big, &inv, &kerr), INVITE_ETEXT);
    assert_int_equal(kerr, KEYTEXT_ELENGTH);
}

/* Bytes inside a valid checksum that do not make an invite. */
static invite_err_t
decode_bytes(const uint8_t *b, size_t n)
{
    char text[INVITE_TEXT_MAX + 64];
    assert_int_equal(keytext_long_encode(text, sizeof text, INVITE_PREFIX, b, n), KEYTEXT_OK);
    invite_t inv;
    invite_err_t err = invite_decode(text, &inv, NULL);
    if (err != INVITE_OK) {
        invite_t zero;
        memset(&zero, 0, sizeof zero);
        assert_memory_equal(&inv, &zero, sizeof inv);
    }
    return err;
}

static size_t
good_bytes(uint8_t *b, uint8_t flags, const char *ep)
{
    size_t n = 0;
    b[n++] = INVITE_VERSION;
    b[n++] = flags;
    memset(b + n, 7, KEYS_PUBLIC_SIZE);
    n += KEYS_PUBLIC_SIZE;
    if (flags & INVITE_FLAG_AUTHOR) {
        memset(b + n, 8, KEYS_PUBLIC_SIZE);
        n += KEYS_PUBLIC_SIZE;
    }
    b[n++] = 1;
    b[n++] = (uint8_t)strlen(ep);
    memcpy(b + n, ep, strlen(ep));
    return n + strlen(ep);
}

static void
test_contents_checked(void **state)
{
    (void)state;
    uint8_t b[INVITE_BYTES_MAX + 8];
    size_t n = good_bytes(b, 0, "tcp://10.0.0.1:7470");
    assert_int_equal(decode_bytes(b, n), INVITE_OK);
    b[n] = 0;
    assert_int_equal(decode_bytes(b, n + 1), INVITE_EFORMAT); /* trailing byte */
    assert_int_equal(decode_bytes(b, n - 1), INVITE_EFORMAT); /* cut short */
    b[0] = 2;
    assert_int_equal(decode_bytes(b, n), INVITE_EVERSION);
    b[0] = INVITE_VERSION;
    b[1] = 0x80;
    assert_int_equal(decode_bytes(b, n), INVITE_EFORMAT); /* unknown flag */
    b[1] = 0;
    b[2 + KEYS_PUBLIC_SIZE] = 0;
    assert_int_equal(decode_bytes(b, n), INVITE_EFORMAT); /* no endpoint */
    b[2 + KEYS_PUBLIC_SIZE] = INVITE_ENDPOINTS_MAX + 1;
    assert_int_equal(decode_bytes(b, n), INVITE_EFORMAT);
    n = good_bytes(b, 0, "tcp://0.0.0.0:7470");
    assert_int_equal(decode_bytes(b, n), INVITE_EENDPOINT);
    /* A relayed endpoint is accepted (PROTOCOL.md 6, "Relays"); its
     * wildcard or a scheme nobody knows is not. */
    n = good_bytes(b, 0, "relay://198.51.100.7:7471");
    assert_int_equal(decode_bytes(b, n), INVITE_OK);
    n = good_bytes(b, 0, "relay://0.0.0.0:7471");
    assert_int_equal(decode_bytes(b, n), INVITE_EENDPOINT);
    n = good_bytes(b, 0, "udp://198.51.100.7:7471");
    assert_int_equal(decode_bytes(b, n), INVITE_EENDPOINT);
    n = good_bytes(b, 0, "tcp://10.0.0.1:7470");
    b[n - 3] = '\0'; /* a NUL inside */
    assert_int_equal(decode_bytes(b, n), INVITE_EENDPOINT);
    n = good_bytes(b, INVITE_FLAG_AUTHOR, "tcp://10.0.0.1:7470");
    assert_int_equal(decode_bytes(b, n), INVITE_OK);
    assert_int_equal(decode_bytes(b, 1), INVITE_EFORMAT);
    assert_int_equal(decode_bytes(b, 0), INVITE_EFORMAT);
}

typedef struct {
    char payload[2 * INVITE_BYTES_MAX + 1];
    char invite[INVITE_TEXT_MAX];
} doc_t;

static void
doc_cb(void *ud, const char *name, const char *value)
{
    doc_t *d = ud;
    if (strcmp(name, "payload") == 0) {
        snprintf(d->payload, sizeof d->payload, "%s", value);
    } else if (strcmp(name, "invite") == 0) {
        snprintf(d->invite, sizeof d->invite, "%s", value);
    } else {
        fail_msg("unknown vector %s", name);
    }
}

/* The block in docs/PROTOCOL.md section 12.4 says what this program does. */
static void
test_doc_vector(void **state)
{
    (void)state;
    char *text = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", NULL);
    assert_non_null(text);
    doc_t d = {"", ""};
    tu_doc_vectors(text, "invite-vectors", doc_cb, &d);
    free(text);
    assert_string_equal(d.invite, VECTOR_TEXT);
    uint8_t bytes[INVITE_BYTES_MAX];
    size_t n = 0;
    assert_int_equal(keytext_long_decode(bytes, sizeof bytes, &n, INVITE_PREFIX, d.invite),
                     KEYTEXT_OK);
    char hex[2 * INVITE_BYTES_MAX + 1];
    bytes_to_hex(hex, bytes, n);
    assert_string_equal(hex, d.payload);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_doc_vector),
        cmocka_unit_test(test_round_trip_without_author_and_upper_case),
        cmocka_unit_test(test_largest_invite_fits),
        cmocka_unit_test(test_encode_refuses_bad_invites),
        cmocka_unit_test(test_mistyped_and_cut_short),
        cmocka_unit_test(test_contents_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
