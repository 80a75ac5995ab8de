/* socks5: a small SOCKS5 relay (RFC 1928, CONNECT only; no authentication,
 * or a username and password, RFC 1929, as Tor takes them to keep streams
 * apart) running in threads of the test process, so a test can check that
 * a node started with --socks5 really makes its connections through the
 * proxy, and with which username each. */
#ifndef SAMIZDAT_SOCKS5_H
#define SAMIZDAT_SOCKS5_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

enum { TU_SOCKS5_RECORDS = 64 };

typedef struct {
    int listen_fd;
    int port; /* the port it listens on, on 127.0.0.1 */
    pthread_t thread;
    atomic_bool stop;
    atomic_int connections; /* CONNECT requests relayed */
    atomic_int refused;     /* malformed requests or unreachable targets */
    atomic_int by_name;     /* requests naming the host (no resolution by the client) */
    atomic_int by_address;  /* requests giving an IPv4 or IPv6 address */
    /* Each CONNECT: the target "HOST:PORT" and the username ("" without one),
     * the first TU_SOCKS5_RECORDS of them. */
    pthread_mutex_t lock;
    int n_records;
    struct {
        char host[272];
        char user[256];
    } records[TU_SOCKS5_RECORDS];
} tu_socks5_t;

/* How the usernames of the CONNECTs so far split over their targets:
 * *hosts distinct targets, *users distinct usernames; true when each target
 * always came with one username, and no username with two targets (every
 * peer its own Tor circuit). */
bool tu_socks5_isolation(tu_socks5_t *p, int *hosts, int *users);

/* Starts the relay on an ephemeral loopback port. Fails the test on error. */
void tu_socks5_start(tu_socks5_t *p);
/* Stops accepting and waits for the accept thread; relays in progress end
 * when either side closes. */
void tu_socks5_stop(tu_socks5_t *p);

/* The client side, for a relay run in the test process on loop: asks the
 * SOCKS5 server on 127.0.0.1:port to CONNECT to the domain name, running
 * loop while it waits up to ms for the reply's first 4 bytes (into
 * reply). Returns how many came (fewer than 4: no reply in time); *fd_out
 * gets the connection, left open. */
size_t tu_socks5_ask(uv_loop_t *loop, uint16_t port, const char *name, int ms, uint8_t reply[4],
                     int *fd_out);

#endif
