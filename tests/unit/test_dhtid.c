/* DHT ids: derivation and XOR distance. */
#include "testutil.h"

#include <sodium.h>
#include <string.h>

#include "dhtid.h"

static void
test_distance_and_prefix(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0}, d[32];
    assert_int_equal(dhtid_common_prefix(a, b), 256);
    b[0] = 0x80;
    assert_int_equal(dhtid_common_prefix(a, b), 0);
    b[0] = 0x01;
    assert_int_equal(dhtid_common_prefix(a, b), 7);
    b[0] = 0;
    b[31] = 0x01;
    assert_int_equal(dhtid_common_prefix(a, b), 255);
    dhtid_distance(d, a, b);
    assert_int_equal(d[31], 1);
    /* Symmetry: d(a, b) = d(b, a). */
    uint8_t e[32];
    dhtid_distance(e, b, a);
    assert_memory_equal(d, e, 32);
}

static void
test_closer(void **state)
{
    (void)state;
    uint8_t t[32] = {0}, a[32] = {0}, b[32] = {0};
    a[5] = 0x01; /* distance 2^... smaller */
    b[4] = 0x01;
    assert_int_equal(dhtid_closer(t, a, b), -1);
    assert_int_equal(dhtid_closer(t, b, a), 1);
    assert_int_equal(dhtid_closer(t, a, a), 0);
}

static void
test_ids_are_tagged_hashes(void **state)
{
    (void)state;
    uint8_t pk[32], id1[32], id2[32], want[32];
    memset(pk, 0x42, sizeof pk);
    dhtid_from_node_key(id1, pk);
    dhtid_from_author(id2, pk);
    /* The two domains never give the same id for the same 32 bytes. */
    assert_memory_not_equal(id1, id2, 32);
    uint8_t msg[sizeof DHTID_TAG - 1 + 32];
    memcpy(msg, DHTID_TAG, sizeof DHTID_TAG - 1);
    memcpy(msg + sizeof DHTID_TAG - 1, pk, 32);
    crypto_generichash(want, 32, msg, sizeof msg, NULL, 0);
    assert_memory_equal(id1, want, 32);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance_and_prefix),
        cmocka_unit_test(test_closer),
        cmocka_unit_test(test_ids_are_tagged_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
