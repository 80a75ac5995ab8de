/* json: the few pieces of JSON output the CLI needs. Writes to a FILE. */
#ifndef SAMIZDAT_JSON_H
#define SAMIZDAT_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal (quotes included), escaping '"', '\\' and
 * control characters; other bytes (UTF-8) pass through. */
void json_string(FILE *f, const char *s);

#endif
