/* appjson: the one JSON encoder of application results, one shape per
 * record kind (docs/JSON.md). The command line's --json prints these, and a
 * web API will return the same. Each writes one value, no newline. */
#ifndef SAMIZDAT_APPJSON_H
#define SAMIZDAT_APPJSON_H

#include <stdio.h>

#include "app.h"

/* Records. */
void app_json_post(FILE *f, const app_post_t *p);
void app_json_author(FILE *f, const app_author_t *a);
void app_json_peer(FILE *f, const app_peer_t *p);
void app_json_lookup(FILE *f, const app_lookup_t *l);

/* A whole result of a successful call (res->err == APP_OK), for any op.
 * path_hint names the file of an import report (may be NULL). */
void app_json_result(FILE *f, const app_result_t *res, const char *path_hint);

/* The words of a DHT status ("ok", "not found", ...). */
const char *app_dht_status_word(int status);
/* The words of a reachability state (app_status_t.reach): "reachable",
 * "not reachable", "checking", "unchecked". */
const char *app_reach_word(uint8_t reach);

#endif
