/* swarm: many real samizdat processes on loopback for gossip tests and
 * benchmarks: one joins from nothing, the others from it; one author,
 * every other node following it; posts published and their arrival at
 * every follower measured from the followers' logs. */
#ifndef SAMIZDAT_SWARM_H
#define SAMIZDAT_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodes.h"

enum { SWARM_AUTHOR = 1 };

typedef struct {
    char root[400];
    char network[40];
    char list[600];
    int count;
    tn_node_t *n;        /* count nodes */
    int posts;           /* published so far */
    int posts_cap;
    uint64_t *posted_ms; /* by seq, 1..posts */
    /* What swarm_start took, in seconds: creating the keys (samizdat init
     * and whoami, one node after another), starting the nodes (node 0,
     * then all the others at once, until each control socket answers), and
     * the follows (one `follow` process each, all at once) until every
     * node has a ready peer. */
    double init_s, start_s, follow_s;
} swarm_t;

/* Creates count nodes with fresh keys, starts them (node 0 from an empty
 * list, the others from node 0) and has every node but SWARM_AUTHOR follow
 * it. posts_cap: the most posts the swarm will publish. */
void swarm_start(swarm_t *s, int count, int posts_cap);
/* Stops every node (killing those that do not stop) and removes the
 * directory unless SAMIZDAT_KEEP_TEST_DIRS is set. */
void swarm_stop(swarm_t *s);

/* Publishes count posts at the author, one after another. */
void swarm_publish(swarm_t *s, int count);
/* The highest seq of the author's feed that node i holds. */
long swarm_head(swarm_t *s, int i);
/* Waits until every running follower holds posts 1..seq; *behind gets how
 * many do not when it gives up after seconds. */
bool swarm_wait_all(swarm_t *s, long seq, int seconds, int *behind);

typedef struct {
    size_t deliveries;      /* (follower, post) pairs seen in the logs */
    unsigned p50_ms, p99_ms, max_ms;
    long received;          /* post copies the followers received */
    long stored;            /* new posts they stored */
    long bytes_in;          /* gossip bytes they received */
} swarm_report_t;

/* Propagation of posts from_seq..to_seq to every follower, from the post's
 * signing to its storing at the follower (read from the logs), and the
 * gossip counters of the followers. */
void swarm_measure(swarm_t *s, int from_seq, int to_seq, swarm_report_t *out);

#endif
