/* bytes: the one bounds-checked reader and the matching writer.
 *
 * Every byte that comes from outside the process (the network, a file, the
 * store) is read through bytes_reader_t. The reader has a sticky error flag:
 * a read past the end, or a length claim larger than what is left, sets the
 * flag, returns zeros, and every later read fails too. Callers read straight
 * through and check bytes_reader_ok() once at the end.
 *
 * All integers are big-endian. */
#ifndef SAMIZDAT_BYTES_H
#define SAMIZDAT_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p; /* borrowed for the reader's lifetime */
    size_t len;
    size_t off;
    bool err;
} bytes_reader_t;

typedef struct {
    uint8_t *p; /* borrowed for the writer's lifetime */
    size_t cap;
    size_t len;
    bool err; /* set when a write would pass cap; nothing past cap is written */
} bytes_writer_t;

void bytes_reader_init(bytes_reader_t *r, const uint8_t *p, size_t len);
uint8_t bytes_get_u8(bytes_reader_t *r);
uint16_t bytes_get_u16(bytes_reader_t *r);
uint32_t bytes_get_u32(bytes_reader_t *r);
uint64_t bytes_get_u64(bytes_reader_t *r);
/* Copies n bytes into out; on error out is zero-filled. */
void bytes_get(bytes_reader_t *r, uint8_t *out, size_t n);
/* Returns a pointer into the buffer for n bytes, or NULL (and sets the error). */
const uint8_t *bytes_get_ref(bytes_reader_t *r, size_t n);
size_t bytes_remaining(const bytes_reader_t *r);
/* True when no read failed so far. */
bool bytes_reader_ok(const bytes_reader_t *r);
/* True when no read failed and every byte was consumed. */
bool bytes_reader_done(const bytes_reader_t *r);

/* A message of u8-length-prefixed fields: the reader plus the two faults it
 * cannot see. A count or length over its cap is found as soon as it is read
 * (too_large; the decoder may also set it for a field rule of its own), and
 * a NUL inside a string, which the NUL-terminated copy would otherwise hide
 * from the field rules. After too_large every count reads as 0, so the
 * reads that depend on it do nothing. */
typedef struct {
    bytes_reader_t r;
    bool too_large;
    bool nul;
} bytes_fields_t;

/* How a fields message ended, the first fault first. */
typedef enum {
    BYTES_FIELDS_OK,
    BYTES_FIELDS_TOO_LARGE,
    BYTES_FIELDS_TRUNCATED,
    BYTES_FIELDS_TRAILING,
    BYTES_FIELDS_NUL,
} bytes_fields_end_t;

void bytes_fields_init(bytes_fields_t *f, const uint8_t *p, size_t len);
/* A u8 count or length; over max it sets too_large and returns 0. */
size_t bytes_get_count(bytes_fields_t *f, size_t max);
/* A u8 length (at most max) and that many bytes into dst, which holds
 * max + 1 and is NUL-terminated. */
void bytes_get_string(bytes_fields_t *f, char *dst, size_t max);
bytes_fields_end_t bytes_fields_end(const bytes_fields_t *f);

void bytes_writer_init(bytes_writer_t *w, uint8_t *p, size_t cap);
void bytes_put_u8(bytes_writer_t *w, uint8_t v);
void bytes_put_u16(bytes_writer_t *w, uint16_t v);
void bytes_put_u32(bytes_writer_t *w, uint32_t v);
void bytes_put_u64(bytes_writer_t *w, uint64_t v);
void bytes_put(bytes_writer_t *w, const uint8_t *p, size_t n);
bool bytes_writer_ok(const bytes_writer_t *w);

/* Big-endian helpers for fixed buffers (store keys). Cannot fail. */
void bytes_be64_put(uint8_t out[static 8], uint64_t v);
uint64_t bytes_be64_get(const uint8_t in[static 8]);

/* Lower-case hex. hex_out must hold 2 * n + 1 bytes; cannot fail. */
void bytes_to_hex(char *hex_out, const uint8_t *p, size_t n);
/* Parses exactly 2 * n hex digits (either case) into out. Returns false on any
 * other input; out is then unspecified. */
bool bytes_from_hex(uint8_t *out, size_t n, const char *hex);

#endif
