/* appmsg: the encoding of application requests and results on the control
 * socket (docs/INTERNALS.md section 2 is normative).
 *
 * A message is a body; on the socket each goes behind a u32 big-endian
 * length. Integers are big-endian. Every count and length is checked
 * against its cap and against the bytes that are left before anything is
 * allocated: a count is a claim, not a fact. */
#ifndef SAMIZDAT_APPMSG_H
#define SAMIZDAT_APPMSG_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"

enum {
    APPMSG_VERSION = 2, /* 1 was the argv-and-stdout format */
    APPMSG_REQUEST_MAX = APP_IMPORT_DATA_MAX + 64 * 1024,
    APPMSG_RESULT_MAX = 256 * 1024 * 1024,
    APPMSG_LIST_MAX = 1000000, /* authors, peers, forks in one result */
};

typedef enum {
    APPMSG_OK = 0,
    APPMSG_ENOMEM,
    APPMSG_EMALFORMED, /* truncated, trailing bytes, a bad field or a count over its cap */
    APPMSG_EVERSION,   /* another version of the format */
    APPMSG_ETOOLARGE,  /* the encoding would pass its cap */
} appmsg_err_t;

const char *appmsg_strerror(appmsg_err_t err);

/* Encodes a request body. *out returned; caller frees with free(). */
appmsg_err_t appmsg_request_encode(const app_request_t *req, uint8_t **out, size_t *len);

/* Decodes a request body. The strings and text of *out point into buf,
 * which is borrowed and must outlive *out. On error *out is unspecified. */
appmsg_err_t appmsg_request_decode(const uint8_t *buf, size_t len, app_request_t *out);

/* Encodes a result body. *out returned; caller frees with free(). */
appmsg_err_t appmsg_result_encode(const app_result_t *res, uint8_t **out, size_t *len);

/* Decodes a result body into a new result (caller frees with
 * app_result_free). buf borrowed for the call. NULL on error. */
appmsg_err_t appmsg_result_decode(const uint8_t *buf, size_t len, app_result_t **out);

#endif
