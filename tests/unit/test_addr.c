/* The endpoint parser (node/net/addr.c): the kinds of host, wildcards,
 * ports, refusals, classification, equality, the text and sockaddr forms.
 * The wire's own table of good and bad endpoints is in test_wire.c; both
 * go through this parser. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"

static addr_t
parsed(const char *ep)
{
    addr_t a;
    addr_err_t err = addr_parse(ep, &a);
    if (err != ADDR_OK) {
        fail_msg("refused \"%s\": %s", ep, addr_strerror(err));
    }
    return a;
}

static void
test_kinds(void **state)
{
    (void)state;
    addr_t a = parsed("tcp://192.0.2.1:7470");
    assert_int_equal(a.kind, ADDR_IPV4);
    assert_string_equal(a.host, "192.0.2.1");
    assert_int_equal(a.port, 7470);
    static const uint8_t v4[4] = {192, 0, 2, 1};
    assert_memory_equal(a.ip, v4, 4);

    a = parsed("tcp://[2001:db8::1]:1");
    assert_int_equal(a.kind, ADDR_IPV6);
    assert_string_equal(a.host, "2001:db8::1");
    assert_int_equal(a.ip[0], 0x20);
    assert_int_equal(a.ip[15], 1);
    assert_int_equal(a.port, 1);

    a = parsed("tcp://Node.Example.org:65535");
    assert_int_equal(a.kind, ADDR_NAME);
    assert_string_equal(a.host, "Node.Example.org");
    assert_int_equal(a.port, 65535);

    /* What a listener on every address is bound to. */
    const char *wild[] = {"tcp://*:7470", "tcp://0.0.0.0:7470", "tcp://[::]:7470",
                          "tcp://[0:0::0]:7470"};
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++) {
        a = parsed(wild[i]);
        assert_int_equal(a.kind, ADDR_WILDCARD);
        assert_int_equal(a.port, 7470);
        assert_int_equal(addr_class(&a), ADDR_ANY);
        /* ... which no peer can be dialled at. */
        assert_false(addr_endpoint_valid(wild[i]));
    }
    assert_true(addr_endpoint_valid("tcp://192.0.2.1:7470"));
}

static void
test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *ep;
        addr_err_t err;
    } bad[] = {
        {"", ADDR_ESYNTAX},
        {"192.0.2.1:7470", ADDR_ESYNTAX},
        {"udp://192.0.2.1:7470", ADDR_ESYNTAX},
        {"tcp://192.0.2.1", ADDR_ESYNTAX},
        {"tcp://192.0.2.1:", ADDR_EPORT},
        {"tcp://192.0.2.1:0", ADDR_EPORT},
        {"tcp://192.0.2.1:65536", ADDR_EPORT},
        {"tcp://192.0.2.1:07470", ADDR_EPORT},
        {"tcp://192.0.2.1:+1", ADDR_EPORT},
        {"tcp://:7470", ADDR_EHOST},
        {"tcp://010.0.0.1:7470", ADDR_EHOST}, /* octal to the C resolver */
        {"tcp://256.0.0.1:7470", ADDR_EHOST},
        {"tcp://1.2.3:7470", ADDR_EHOST},
        {"tcp://1.2.3.4.5:7470", ADDR_EHOST},
        {"tcp://2001:db8::1:7470", ADDR_EHOST}, /* IPv6 without brackets */
        {"tcp://[2001:db8::1:7470", ADDR_EHOST},
        {"tcp://[fe80::1%eth0]:1", ADDR_EHOST},
        {"tcp://[::g]:1", ADDR_EHOST},
        {"tcp://-a.example:1", ADDR_EHOST},
        {"tcp://a..example:1", ADDR_EHOST},
        {"tcp://a_b.example:1", ADDR_EHOST},
        {"tcp://caf\xc3\xa9.example:1", ADDR_ESYNTAX},
        {"tcp://a b:1", ADDR_EHOST},
        {"tcp://a\tb:1", ADDR_ESYNTAX},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        addr_t a;
        memset(&a, 0x5a, sizeof a);
        addr_err_t err = addr_parse(bad[i].ep, &a);
        if (err != bad[i].err) {
            fail_msg("\"%s\": %s, not %s", bad[i].ep, addr_strerror(err),
                     addr_strerror(bad[i].err));
        }
        assert_int_equal(a.port, 0); /* zeroed on error */
        assert_false(addr_endpoint_valid(bad[i].ep));
    }
    addr_t a;
    assert_int_equal(addr_parse(NULL, &a), ADDR_ESYNTAX);
    assert_false(addr_endpoint_valid(NULL));

    /* The length limit counts the whole endpoint. */
    char e[ADDR_ENDPOINT_MAX + 2];
    memset(e, 'a', sizeof e);
    memcpy(e, "tcp://", 6);
    memcpy(e + ADDR_ENDPOINT_MAX - 2, ":1", 3);
    e[60] = e[100] = '.'; /* labels of at most 63 bytes */
    assert_int_equal(strlen(e), ADDR_ENDPOINT_MAX);
    assert_int_equal(addr_parse(e, &a), ADDR_OK);
    memcpy(e + ADDR_ENDPOINT_MAX - 2, "a:1", 4);
    assert_int_equal(addr_parse(e, &a), ADDR_ETOOLONG);
}

static addr_class_t
class_of(const char *ep)
{
    addr_t a = parsed(ep);
    return addr_class(&a);
}

static void
test_classes(void **state)
{
    (void)state;
    assert_int_equal(class_of("tcp://127.0.0.1:1"), ADDR_LOOPBACK);
    assert_int_equal(class_of("tcp://127.255.0.9:1"), ADDR_LOOPBACK);
    assert_int_equal(class_of("tcp://[::1]:1"), ADDR_LOOPBACK);
    assert_int_equal(class_of("tcp://[::ffff:127.0.0.1]:1"), ADDR_LOOPBACK);
    assert_int_equal(class_of("tcp://LocalHost:1"), ADDR_LOOPBACK);
    assert_int_equal(class_of("tcp://10.1.2.3:1"), ADDR_PRIVATE);
    assert_int_equal(class_of("tcp://172.16.0.1:1"), ADDR_PRIVATE);
    assert_int_equal(class_of("tcp://172.31.255.1:1"), ADDR_PRIVATE);
    assert_int_equal(class_of("tcp://172.32.0.1:1"), ADDR_PUBLIC);
    assert_int_equal(class_of("tcp://192.168.1.1:1"), ADDR_PRIVATE);
    assert_int_equal(class_of("tcp://[fd00::1]:1"), ADDR_PRIVATE);
    assert_int_equal(class_of("tcp://[fc00::1]:1"), ADDR_PRIVATE);
    assert_int_equal(class_of("tcp://169.254.1.1:1"), ADDR_LINK_LOCAL);
    assert_int_equal(class_of("tcp://[fe80::1]:1"), ADDR_LINK_LOCAL);
    assert_int_equal(class_of("tcp://[febf::1]:1"), ADDR_LINK_LOCAL);
    assert_int_equal(class_of("tcp://[fec0::1]:1"), ADDR_PUBLIC);
    assert_int_equal(class_of("tcp://192.0.2.1:1"), ADDR_PUBLIC);
    assert_int_equal(class_of("tcp://[2001:db8::1]:1"), ADDR_PUBLIC);
    assert_int_equal(class_of("tcp://node.example.org:1"), ADDR_PUBLIC);
}

static void
test_equal_and_format(void **state)
{
    (void)state;
    addr_t a = parsed("tcp://192.0.2.1:7470");
    addr_t b = parsed("tcp://[::ffff:192.0.2.1]:7470");
    assert_true(addr_equal(&a, &b));
    b = parsed("tcp://192.0.2.1:7471");
    assert_false(addr_equal(&a, &b));
    a = parsed("tcp://[2001:DB8:0:0::1]:1");
    b = parsed("tcp://[2001:db8::1]:1");
    assert_true(addr_equal(&a, &b));
    a = parsed("tcp://Node.Example.ORG:1");
    b = parsed("tcp://node.example.org:1");
    assert_true(addr_equal(&a, &b));
    b = parsed("tcp://other.example.org:1");
    assert_false(addr_equal(&a, &b));

    char out[ADDR_ENDPOINT_MAX + 1];
    a = parsed("tcp://[2001:DB8:0:0::1]:1");
    assert_int_equal(addr_format(&a, out, sizeof out), ADDR_OK);
    assert_string_equal(out, "tcp://[2001:db8::1]:1"); /* one spelling */
    a = parsed("tcp://[::ffff:192.0.2.1]:9");
    addr_unmap(&a);
    assert_int_equal(a.kind, ADDR_IPV4);
    assert_int_equal(addr_format(&a, out, sizeof out), ADDR_OK);
    assert_string_equal(out, "tcp://192.0.2.1:9");
    a = parsed("tcp://Node.Example.org:7470");
    assert_int_equal(addr_format(&a, out, sizeof out), ADDR_OK);
    assert_string_equal(out, "tcp://Node.Example.org:7470");
    a = parsed("tcp://[::]:7470");
    assert_int_equal(addr_format(&a, out, sizeof out), ADDR_OK);
    assert_string_equal(out, "tcp://[::]:7470");
    /* Too small a buffer: refused, and out left empty. */
    a = parsed("tcp://192.0.2.1:7470");
    assert_int_equal(addr_format(&a, out, 10), ADDR_ETOOLONG);
    assert_string_equal(out, "");
}

static void
test_other_forms(void **state)
{
    (void)state;
    addr_t a;
    char out[ADDR_ENDPOINT_MAX + 1];
    /* As the transport reports a peer's address. */
    assert_int_equal(addr_from_ip("::ffff:192.0.2.7", 7470, &a), ADDR_OK);
    assert_int_equal(a.kind, ADDR_IPV4);
    assert_int_equal(addr_format(&a, out, sizeof out), ADDR_OK);
    assert_string_equal(out, "tcp://192.0.2.7:7470");
    assert_int_equal(addr_from_ip("2001:db8::7", 1, &a), ADDR_OK);
    assert_int_equal(addr_format(&a, out, sizeof out), ADDR_OK);
    assert_string_equal(out, "tcp://[2001:db8::7]:1");
    assert_int_equal(addr_from_ip("fe80::1%eth0", 1, &a), ADDR_EHOST);
    assert_int_equal(addr_from_ip("example.org", 1, &a), ADDR_EHOST);
    assert_int_equal(addr_from_ip("192.0.2.1", 0, &a), ADDR_EPORT);
    assert_int_equal(addr_from_ip(NULL, 1, &a), ADDR_EHOST);

    /* sockaddr and back. */
    struct sockaddr_storage ss;
    socklen_t len = 0;
    a = parsed("tcp://192.0.2.1:7470");
    assert_int_equal(addr_to_sockaddr(&a, &ss, &len), ADDR_OK);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)&ss;
    assert_int_equal(s4->sin_family, AF_INET);
    assert_int_equal(ntohs(s4->sin_port), 7470);
    addr_t b;
    assert_int_equal(addr_from_sockaddr((const struct sockaddr *)&ss, 0, &b), ADDR_OK);
    assert_true(addr_equal(&a, &b));
    /* A port given wins over the sockaddr's (a LAN beacon names its TCP port). */
    assert_int_equal(addr_from_sockaddr((const struct sockaddr *)&ss, 9, &b), ADDR_OK);
    assert_int_equal(b.port, 9);

    a = parsed("tcp://[2001:db8::1]:1");
    assert_int_equal(addr_to_sockaddr(&a, &ss, &len), ADDR_OK);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(addr_from_sockaddr((const struct sockaddr *)&ss, 0, &b), ADDR_OK);
    assert_true(addr_equal(&a, &b));

    a = parsed("tcp://node.example.org:1");
    assert_int_equal(addr_to_sockaddr(&a, &ss, &len), ADDR_EHOST);
    a = parsed("tcp://*:1");
    assert_int_equal(addr_to_sockaddr(&a, &ss, &len), ADDR_EHOST);
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    assert_int_equal(addr_from_sockaddr((const struct sockaddr *)&ss, 1, &b), ADDR_EHOST);
}

/* Relayed endpoints: the tcp rules for HOST:PORT, after "relay://"; they
 * are dialable, but not tcp endpoints (never in HELLO, PEERS, the DHT). */
static void
test_relay_endpoints(void **state)
{
    (void)state;
    addr_t a;
    assert_int_equal(addr_relay_parse("relay://198.51.100.7:7471", &a), ADDR_OK);
    assert_int_equal(a.kind, ADDR_IPV4);
    assert_int_equal(a.port, 7471);
    assert_int_equal(addr_relay_parse("relay://[2001:db8::7]:1", &a), ADDR_OK);
    assert_int_equal(a.kind, ADDR_IPV6);
    assert_int_equal(addr_relay_parse("relay://relay.example.org:65535", &a), ADDR_OK);
    const char *bad[] = {"relay://",
                         "relay://0.0.0.0:1",
                         "relay://*:1",
                         "relay://1.2.3.4",
                         "relay://1.2.3.4:0",
                         "relay://1.2.3.4:07",
                         "RELAY://1.2.3.4:1",
                         "tcp://1.2.3.4:1",
                         "relay://host name:1",
                         NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(addr_relay_parse(bad[i], &a), ADDR_OK);
        assert_false(addr_relay_valid(bad[i]));
    }
    assert_true(addr_dialable("relay://198.51.100.7:7471"));
    assert_true(addr_dialable("tcp://198.51.100.7:7470"));
    assert_false(addr_endpoint_valid("relay://198.51.100.7:7471"));
    char longest[ADDR_ENDPOINT_MAX + 2];
    memset(longest, 'a', sizeof longest);
    memcpy(longest, "relay://", 8);
    memcpy(longest + ADDR_ENDPOINT_MAX - 2, ":1", 3);
    assert_int_equal(strlen(longest), ADDR_ENDPOINT_MAX);
    /* Labels of 63: a name of many labels up to the cap. */
    for (size_t i = 8 + 60; i < ADDR_ENDPOINT_MAX - 2; i += 61) {
        longest[i] = '.';
    }
    assert_true(addr_relay_valid(longest));
    longest[ADDR_ENDPOINT_MAX] = '1';
    longest[ADDR_ENDPOINT_MAX + 1] = '\0';
    assert_int_equal(addr_relay_parse(longest, &a), ADDR_ETOOLONG);
}

/* An onion name (any case) is told apart from other names and addresses,
 * so that a node without Tor never hands one to the resolver. */
static void
test_onion(void **state)
{
    (void)state;
    const struct {
        const char *ep;
        bool onion;
    } cases[] = {
        {"tcp://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion:7470", true},
        {"tcp://Example.ONION:1", true},
        {"tcp://onion:7470", false},
        {"tcp://.onion:7470", false},
        {"tcp://example.onion.net:7470", false},
        {"tcp://localhost:7470", false},
        {"tcp://192.0.2.1:7470", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        addr_t a;
        if (addr_parse(cases[i].ep, &a) != ADDR_OK) {
            assert_false(cases[i].onion);
            continue;
        }
        assert_int_equal(addr_is_onion(&a), cases[i].onion);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),       cmocka_unit_test(test_refused),
        cmocka_unit_test(test_classes),     cmocka_unit_test(test_equal_and_format),
        cmocka_unit_test(test_other_forms), cmocka_unit_test(test_relay_endpoints),
        cmocka_unit_test(test_onion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
