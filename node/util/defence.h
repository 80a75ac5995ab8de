/* defence: the test-only switch that turns named defences off.
 *
 * Every defence against an attack has a test that runs the attack twice:
 * once against the node as shipped, and once with that defence switched off,
 * to show the attack then succeeds (a defence whose control does not fail
 * proves nothing). The daemon reads the list from $SAMIZDAT_DEFENCE_OFF at
 * start, warns loudly when it is set, and passes it down in the configs of
 * the modules; each module decides at creation which of its own defences
 * are on. The names are listed in docs/SECURITY.md. Nobody runs a node
 * with this set except a test. */
#ifndef SAMIZDAT_DEFENCE_H
#define SAMIZDAT_DEFENCE_H

#include <stdbool.h>

/* The environment variable the daemon reads. */
#define DEFENCE_ENV "SAMIZDAT_DEFENCE_OFF"
/* Test only: milliseconds after which a quiet inbound connection is closed
 * (TRANSPORT_IDLE_MS otherwise), so a test need not wait a minute and a half. */
#define DEFENCE_IDLE_ENV "SAMIZDAT_IDLE_CLOSE_MS"

/* Whether the defence called name is switched off by list: a comma- or
 * space-separated list of names, or "all". NULL or empty: every defence
 * is on. Names are compared whole and case-sensitively. */
bool defence_off(const char *list, const char *name);

#endif
