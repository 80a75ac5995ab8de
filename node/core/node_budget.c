/* node_budget: what one peer may make the node do (docs/SECURITY.md
 * section 2). Every message a key sends, of any type, takes a token from
 * that key's bucket before any work is done on it (decoding, a LevelDB
 * write for HELLO, a routing-table walk for FIND_NODE, an ERROR answer).
 * A message without a token is dropped unread; a key that keeps sending
 * at several times the rate is flooding, and is banned like a peer that
 * misbehaved (its connection shut, its key and address refused), since
 * even dropping costs the node a CurveZMQ decryption per message. */
#include <sodium.h>
#include <string.h>

#include "log.h"
#include "node_int.h"

enum { PROBE = 8 };

static size_t
slot_of(const node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, KEYS_PUBLIC_SIZE, n->budget_salt);
    uint64_t v = 0;
    memcpy(&v, h, sizeof v);
    return (size_t)(v % NODE_BUDGET_KEYS);
}

/* The key's budget: found, or a slot taken for it (the least recently
 * used of its probe range when they are all taken). */
static key_budget_t *
budget_of(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], uint64_t now)
{
    size_t at = slot_of(n, key);
    key_budget_t *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        key_budget_t *b = &n->budgets[(at + i) % NODE_BUDGET_KEYS];
        if (b->used && memcmp(b->key, key, KEYS_PUBLIC_SIZE) == 0) {
            return b;
        }
        if (victim == NULL || !b->used || (victim->used && b->used_ms < victim->used_ms)) {
            victim = b;
        }
    }
    memset(victim, 0, sizeof *victim);
    victim->used = true;
    memcpy(victim->key, key, KEYS_PUBLIC_SIZE);
    victim->milli = (uint64_t)NODE_PEER_MSGS_BURST * 1000;
    victim->last_ms = now;
    victim->window_ms = now;
    return victim;
}

static void
flooded(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], uint32_t dropped)
{
    char k[24];
    node_short_key(k, key);
    log_line(node_log(n), LOG_LEVEL_WARN,
             "peer %s sent %u messages over its budget of %d a second within %d ms: banned", k,
             dropped, NODE_PEER_MSGS_PER_S, NODE_FLOOD_WINDOW_MS);
    (void)transport_ban(n->transport, key, NODE_BAN_MS);
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        if (memcmp(p->key, key, KEYS_PUBLIC_SIZE) == 0) {
            node_drop_peer(n, p, "flooded");
        }
    }
}

bool
node_msg_allowed(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    if (n->budget_off) {
        return true;
    }
    uint64_t now = node_mono_ms(n);
    key_budget_t *b = budget_of(n, key, now);
    b->used_ms = now;
    uint64_t cap = (uint64_t)NODE_PEER_MSGS_BURST * 1000;
    b->milli += (now - b->last_ms) * NODE_PEER_MSGS_PER_S;
    b->milli = b->milli > cap ? cap : b->milli;
    b->last_ms = now;
    if (b->milli >= 1000) {
        b->milli -= 1000;
        return true;
    }
    n->msgs_limited++;
    if (now - b->window_ms >= NODE_FLOOD_WINDOW_MS) {
        b->window_ms = now;
        b->dropped = 0;
    }
    if (++b->dropped >= NODE_FLOOD_DROPS) {
        uint32_t dropped = b->dropped;
        b->used = false; /* banned now: its budget starts afresh after the ban */
        flooded(n, key, dropped);
    }
    return false;
}
