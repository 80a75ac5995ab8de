/* A stranger tries to take a relay's capacity (docs/PROTOCOL.md 6,
 * "Relays"; defence "relaycaps", docs/SECURITY.md): from one IP address it
 * asks for many reservations, and it opens many circuits to one reserved
 * node (left unclaimed, so each holds a slot until its handshake times
 * out). With the caps, the third reservation from the address is BUSY and
 * the fifth circuit to one node is refused (SOCKS5 reply 4); with
 * SAMIZDAT_DEFENCE_OFF=relaycaps (the relay's config string, as the node
 * passes it from the environment) every one is granted. Runs the relay in
 * process, on loopback, with a real SOCKS5 client. */
#include "testutil.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "relay.h"
#include "socks5.h"

enum { ASKS = 8, CIRCUIT_ASKS = 20 };

/* Asks the relay for name in SOCKS5; the reply code, or -1 when none came
 * in 300 ms (the circuit waits for its claim). The connection stays open. */
static int
socks_ask(uv_loop_t *loop, uint16_t port, const char *name, int *fd_out)
{
    uint8_t reply[4];
    return tu_socks5_ask(loop, port, name, 300, reply, fd_out) == 4 ? reply[3] : -1;
}

static void
on_circuit(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], uint32_t circuit,
           const uint8_t nonce[WIRE_CIRCUIT_NONCE])
{
    (void)key;
    (void)circuit;
    (void)nonce;
    (*(int *)ud)++; /* the reserved node never claims: each circuit holds its slot */
}

static void
on_closed(void *ud)
{
    (*(int *)ud)++;
}

/* Runs both attacks; *granted gets the reservations granted to one address
 * out of ASKS, *waiting the circuits accepted to one node out of CIRCUIT_ASKS. */
static void
attack(const char *defences_off, int *granted, int *waiting)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    int circuits = 0;
    relay_config_t rc = {.on_circuit = on_circuit, .ud = &circuits, .defences_off = defences_off};
    relay_t *r = NULL;
    assert_int_equal(relay_new(&r, &loop, &rc), RELAY_OK);
    assert_int_equal(relay_listen(r, "127.0.0.1", 0), RELAY_OK);

    uint8_t keys[ASKS][KEYS_PUBLIC_SIZE];
    *granted = 0;
    for (int i = 0; i < ASKS; i++) {
        randombytes_buf(keys[i], KEYS_PUBLIC_SIZE);
        wire_msg_t m;
        wire_init(&m, WIRE_RESERVED, 1);
        relay_reserve(r, keys[i], "192.0.2.7", uv_now(&loop), &m);
        *granted += m.u.reserved.status == WIRE_RESERVE_OK;
        if (i >= RELAY_RESERVATIONS_PER_IP && defences_off == NULL) {
            assert_int_equal(m.u.reserved.status, WIRE_RESERVE_BUSY);
        }
    }
    /* Another address is not held back by this one. */
    uint8_t other[KEYS_PUBLIC_SIZE];
    randombytes_buf(other, sizeof other);
    wire_msg_t m;
    relay_reserve(r, other, "198.51.100.1", uv_now(&loop), &m);
    assert_int_equal(m.u.reserved.status, WIRE_RESERVE_OK);

    char name[RELAY_SOCKS_NAME_LEN + 1];
    relay_socks_name(keys[0], name);
    int fds[CIRCUIT_ASKS];
    *waiting = 0;
    for (int i = 0; i < CIRCUIT_ASKS; i++) {
        int code = socks_ask(&loop, relay_port(r), name, &fds[i]);
        *waiting += code == -1;
        if (defences_off == NULL) {
            assert_int_equal(code, i < RELAY_CIRCUITS_PER_RESERVATION ? -1 : 4);
        }
    }
    assert_int_equal(circuits, *waiting);
    /* A name with no reservation is refused either way. */
    uint8_t none[KEYS_PUBLIC_SIZE];
    randombytes_buf(none, sizeof none);
    relay_socks_name(none, name);
    int fd = -1;
    assert_int_equal(socks_ask(&loop, relay_port(r), name, &fd), 4);
    close(fd);
    for (int i = 0; i < CIRCUIT_ASKS; i++) {
        close(fds[i]);
    }
    int closed = 0;
    relay_close(r, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_relay_caps(void **state)
{
    (void)state;
    int granted = 0, waiting = 0;
    attack(NULL, &granted, &waiting);
    printf("relaycaps on:  %d of %d reservations from one address granted, %d of %d circuits "
           "to one node accepted\n",
           granted, ASKS, waiting, CIRCUIT_ASKS);
    assert_int_equal(granted, RELAY_RESERVATIONS_PER_IP);
    assert_int_equal(waiting, RELAY_CIRCUITS_PER_RESERVATION);
    attack("relaycaps", &granted, &waiting);
    printf("relaycaps off: %d of %d reservations from one address granted, %d of %d circuits "
           "to one node accepted\n",
           granted, ASKS, waiting, CIRCUIT_ASKS);
    assert_int_equal(granted, ASKS);
    assert_int_equal(waiting, CIRCUIT_ASKS);
}

int
main(void)
{
    assert_int_equal(sodium_init() >= 0, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
