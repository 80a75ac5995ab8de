/* webin: the readers of what a browser or an app sends: a query string or
 * a form body (application/x-www-form-urlencoded), and a flat JSON object
 * (the API's request bodies). Both give the same list of named values.
 * Nothing here trusts the input: sizes are capped, a field appears at most
 * once, names are plain, and a malformed input is refused as a whole. */
#ifndef SAMIZDAT_WEBIN_H
#define SAMIZDAT_WEBIN_H

#include <stdbool.h>
#include <stddef.h>

enum {
    WEBIN_FIELDS_MAX = 16,
    WEBIN_NAME_MAX = 32,
    WEBIN_INPUT_MAX = 64 * 1024, /* bytes of a form or JSON body */
};

typedef enum {
    WEBIN_OK = 0,
    WEBIN_ENOMEM,
    WEBIN_ETOOBIG,    /* longer than WEBIN_INPUT_MAX, or too many fields */
    WEBIN_EMALFORMED, /* not a form / not a flat JSON object */
    WEBIN_EDUP,       /* a field named twice */
} webin_err_t;

typedef enum {
    WEBIN_STRING = 0, /* a form value, or a JSON string */
    WEBIN_NUMBER,     /* JSON: the number's text as written */
    WEBIN_BOOL,       /* JSON: "true" or "false" */
    WEBIN_NULL,       /* JSON: "null" */
} webin_type_t;

typedef struct {
    char name[WEBIN_NAME_MAX + 1];
    webin_type_t type;
    char *value; /* NUL-terminated, inside the fields' one allocation */
    size_t len;  /* bytes of value: a decoded value may hold a NUL */
} webin_field_t;

typedef struct {
    size_t n;
    webin_field_t f[WEBIN_FIELDS_MAX];
    char *mem;
} webin_t;

const char *webin_strerror(webin_err_t err);

/* Parses a query string or form body (name=value&...; '+' is a space,
 * %XX a byte). An empty input has no fields. On error out is empty. */
webin_err_t webin_form(webin_t *out, const char *s, size_t len);

/* Parses a JSON object whose members are strings, numbers, true, false or
 * null (no nesting); strings are decoded to UTF-8 (\u escapes included;
 * a lone surrogate is refused). On error out is empty. */
webin_err_t webin_json(webin_t *out, const char *s, size_t len);

/* The field named name, or NULL. */
const webin_field_t *webin_get(const webin_t *in, const char *name);

void webin_free(webin_t *in);

#endif
