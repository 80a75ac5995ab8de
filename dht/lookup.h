/* lookup: the shortlist of one iterative lookup (internal to dht/).
 *
 * Candidates sorted by XOR distance to the target, each NEW (known, not
 * asked), INFLIGHT, SUSPECT (asked and slow to answer: the dht sends the
 * request again, and a late answer still counts), ANSWERED or FAILED. The
 * window is the k closest candidates that are neither FAILED nor SUSPECT.
 * The lookup asks the closest NEW candidate in the window next, and is
 * done when no candidate in the window is in flight and none is NEW (or
 * the query budget is spent), and no suspect closer than the window's end
 * still has a fresh send that may be answered: then the k closest nodes
 * that work have all answered.
 *
 * A node is asked once per lookup (plus retransmissions of that request
 * while it stays silent, which the dht sends): asked candidates are never
 * dropped from the list, so one that comes back in a later answer is
 * recognised and not asked again. The list holds at most 3k + queries_max candidates; when it
 * is full a newcomer replaces the farthest NEW candidate if it is closer.
 * Each answer may add at most new_max candidates (its closest new ones),
 * so one peer answering with junk cannot fill the list.
 *
 * At most per_group candidates that have not failed share a network group
 * (rtable.h: a /24, a /64, a host name): a newcomer of a group at its
 * share takes the place of that group's farthest NEW candidate if it is
 * closer, else it is left out. So ids ground next to a target from a few
 * networks hold only part of the window, and the honest nodes closest to
 * the target are asked too (the Sybil defence; S/Kademlia bounds a
 * lookup's paths by disjointness, this bounds them by network).
 *
 * Pure data structure: the dht sends the requests. */
#ifndef SAMIZDAT_LOOKUP_H
#define SAMIZDAT_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht.h"
#include "rtable.h"

typedef enum {
    DHT_CAND_NEW = 0,
    DHT_CAND_INFLIGHT,
    DHT_CAND_SUSPECT,
    DHT_CAND_ANSWERED,
    DHT_CAND_FAILED,
} dht_cand_state_t;

typedef struct {
    uint8_t id[DHT_KEY_SIZE];
    dht_contact_t c;
    uint8_t state;       /* dht_cand_state_t */
    uint8_t depth;       /* 0: from our own table; d + 1: from the answer of a depth-d node */
    uint8_t outstanding; /* sends to it without an outcome (the dht keeps count) */
    uint8_t fresh;       /* of those, the ones not yet past their stall time */
    uint8_t awaited;     /* of those, the ones not yet past their give-up time */
    bool grouped;        /* group is set (the endpoint has a group) */
    uint8_t group[DHT_RT_GROUP_SIZE];
} dht_cand_t;

typedef struct {
    uint8_t target[DHT_KEY_SIZE];
    uint8_t self[DHT_KEY_SIZE]; /* never a candidate */
    unsigned k;
    unsigned queries_max;
    unsigned new_max;
    int per_group; /* < 0: no bound */
    dht_cand_t *c; /* sorted, closest first */
    size_t n, cap;
    unsigned queries; /* nodes asked (first sends; retransmissions are not counted) */
} dht_shortlist_t;

/* DHT_OK or DHT_ENOMEM. target and self borrowed for the call. */
dht_err_t dht_sl_init(dht_shortlist_t *s, const uint8_t target[static DHT_KEY_SIZE],
                      const uint8_t self[static DHT_KEY_SIZE], unsigned k, unsigned queries_max,
                      unsigned new_max, int per_group);
/* Frees the candidates; accepts a zeroed or freed list. */
void dht_sl_free(dht_shortlist_t *s);

/* Adds one candidate unless known, our own, or its group is at its share
 * and it is not closer than the group's farthest NEW candidate (which it
 * then replaces). True when it was added. */
bool dht_sl_add(dht_shortlist_t *s, const uint8_t id[static DHT_KEY_SIZE], const dht_contact_t *c,
                uint8_t depth);
/* Adds the closest new_max new contacts of an answer. cs borrowed for the
 * call; ids are derived from the keys. Returns how many were added. */
size_t dht_sl_add_answer(dht_shortlist_t *s, const dht_contact_t *cs, size_t n, uint8_t depth);

/* The candidate with this id, or NULL. Borrowed until the list changes. */
dht_cand_t *dht_sl_find(dht_shortlist_t *s, const uint8_t id[static DHT_KEY_SIZE]);
/* Index of the next candidate to ask, or -1 (nothing to ask in the window,
 * or the budget is spent). The caller marks it INFLIGHT and counts the
 * query. */
int dht_sl_next(const dht_shortlist_t *s);
/* The same with the window widened by spare candidates: those asked as
 * spares stand in for window members that turn out to be gone. */
int dht_sl_next_beyond(const dht_shortlist_t *s, unsigned spare);
bool dht_sl_done(const dht_shortlist_t *s);
/* True when the n closest candidates in the window have all answered
 * (all of them, if the window holds fewer): the lookup has converged on
 * its target, and what is left is to hear the rest of the k closest. */
bool dht_sl_settled(const dht_shortlist_t *s, unsigned n);
/* Whether a candidate closer than c (a candidate of s) has answered. */
bool dht_sl_behind_answer(const dht_shortlist_t *s, const dht_cand_t *c);

#endif
