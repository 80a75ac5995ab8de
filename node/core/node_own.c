/* node_own: never sign a number the network already holds (docs/SECURITY.md
 * section 4). A store that came back from a crash without its newest
 * posts, or a restored backup, or the key used on a second computer, leaves
 * the store's own feed below what followers hold; signing "the next
 * number" then signs a second post with a used number, a fork that breaks
 * the feed for good. So after a start the node asks before the first own
 * post: the peers it connects to answer its SUBSCRIBE with their heads of
 * its feed (gossip), and the DHT holds its signed head. While either says
 * more than the store has, the node fetches (gossip pulls its own feed like
 * any other; a DHT head above the store also looks up the feed's replicas)
 * and the application layer refuses to publish. */
#include <string.h>

#include "gossip.h"
#include "log.h"
#include "node_int.h"
#include "store.h"

static void
on_own_head(void *ud, const dht_result_t *r)
{
    node_t *n = ud;
    n->own.dht = OWN_DHT_DONE;
    if (r->status == DHT_ECANCELED) {
        return; /* the node is closing */
    }
    if (r->status == DHT_OK && r->head_seq > n->own.dht_seq) {
        n->own.dht_seq = r->head_seq;
    }
    uint64_t top = 0;
    if (store_own_top(n->cfg.store, n->cfg.author->pk, &top) == STORE_OK && n->own.dht_seq > top) {
        log_line(node_log(n), LOG_LEVEL_WARN,
                 "the DHT holds your signed head at post #%llu, but this store has your feed "
                 "only up to #%llu (restored from a backup, or this key used on another "
                 "computer?): fetching your posts from the nodes that keep them; posting waits "
                 "until they are here",
                 (unsigned long long)n->own.dht_seq, (unsigned long long)top);
        node_find_replicas(n, n->cfg.author->pk);
    }
}

void
node_own_tick(node_t *n, uint64_t now)
{
    if (n->own.off || n->own.dht != OWN_DHT_IDLE || n->dht == NULL) {
        return;
    }
    if (dht_table_size(n->dht) == 0) {
        if (now - n->started_ms >= NODE_OWN_CHECK_MS) {
            n->own.dht = OWN_DHT_DONE; /* nobody to ask */
        }
        return;
    }
    if (node_find_head(n, n->cfg.author->pk, on_own_head, n) == NODE_OK) {
        n->own.dht = OWN_DHT_RUNNING;
    }
}

node_own_t
node_own_check(node_t *n, uint64_t top, uint64_t *network)
{
    *network = top;
    if (n->own.off) {
        return NODE_OWN_READY;
    }
    size_t pending = 0;
    uint64_t claimed = 0;
    if (n->gossip != NULL) {
        gossip_head_news(n->gossip, n->cfg.author->pk, node_mono_ms(n), &pending, &claimed);
    }
    uint64_t known = n->own.dht_seq > claimed ? n->own.dht_seq : claimed;
    if (known > top) {
        *network = known;
        return NODE_OWN_BEHIND;
    }
    if (node_mono_ms(n) - n->started_ms >= NODE_OWN_CHECK_MS) {
        return NODE_OWN_READY; /* asked long enough: what did not answer may never */
    }
    peertab_counts_t c;
    peertab_counts(n->peers, &c);
    bool dht_waits = n->own.dht == OWN_DHT_RUNNING ||
                     (n->own.dht == OWN_DHT_IDLE && n->dht != NULL && dht_table_size(n->dht) > 0);
    if (pending > 0 || c.all > c.ready || dht_waits) {
        return NODE_OWN_CHECKING;
    }
    return NODE_OWN_READY;
}
