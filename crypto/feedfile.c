#include "feedfile.h"

#include <stdlib.h>
#include <string.h>

const uint8_t FEEDFILE_MAGIC[FEEDFILE_MAGIC_SIZE] = {'S', 'Z', 'F',  'E',
                                                     'E', 'D', 0x00, FEEDFILE_VERSION};

/* The byte of the magic that carries the format version. */
enum { VERSION_AT = FEEDFILE_MAGIC_SIZE - 1 };

const char *
feedfile_strerror(feedfile_err_t err)
{
    switch (err) {
    case FEEDFILE_OK:
        return "ok";
    case FEEDFILE_EMAGIC:
        return "not a samizdat feed file (bad magic)";
    case FEEDFILE_EVERSION:
        return "unsupported feed file version";
    case FEEDFILE_ETRUNC_MAGIC:
        return "the file ends inside the magic";
    case FEEDFILE_ETRUNC_LENGTH:
        return "the file ends inside a record length";
    case FEEDFILE_ELENGTH:
        return "record length out of range";
    case FEEDFILE_ETRUNC_POST:
        return "the file ends inside a post";
    case FEEDFILE_EBUFSZ:
        return "buffer too small";
    case FEEDFILE_EIO:
        return "write failed";
    case FEEDFILE_ENOMEM:
        return "out of memory";
    }
    return "unknown error";
}

void
feedfile_header(uint8_t out[static FEEDFILE_MAGIC_SIZE])
{
    memcpy(out, FEEDFILE_MAGIC, FEEDFILE_MAGIC_SIZE);
}

static bool
length_ok(size_t len)
{
    return len >= POST_MIN_SIZE && len <= POST_MAX_SIZE;
}

feedfile_err_t
feedfile_record(uint8_t *out, size_t cap, const uint8_t *post, size_t len, size_t *out_len)
{
    if (!length_ok(len)) {
        return FEEDFILE_ELENGTH;
    }
    if (cap < FEEDFILE_LENGTH_SIZE + len) {
        return FEEDFILE_EBUFSZ;
    }
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
    memcpy(out + FEEDFILE_LENGTH_SIZE, post, len);
    *out_len = FEEDFILE_LENGTH_SIZE + len;
    return FEEDFILE_OK;
}

feedfile_err_t
feedfile_write_header(FILE *f)
{
    return fwrite(FEEDFILE_MAGIC, 1, FEEDFILE_MAGIC_SIZE, f) == FEEDFILE_MAGIC_SIZE ? FEEDFILE_OK
                                                                                    : FEEDFILE_EIO;
}

feedfile_err_t
feedfile_write_record(FILE *f, const uint8_t *post, size_t len)
{
    if (!length_ok(len)) {
        return FEEDFILE_ELENGTH;
    }
    uint8_t hdr[FEEDFILE_LENGTH_SIZE] = {(uint8_t)(len >> 8), (uint8_t)len};
    if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr || fwrite(post, 1, len, f) != len) {
        return FEEDFILE_EIO;
    }
    return FEEDFILE_OK;
}

/* What the reader is collecting. */
typedef enum {
    AT_MAGIC,
    AT_LENGTH,
    AT_POST,
} part_t;

struct feedfile_reader {
    part_t part;
    size_t have;   /* bytes of the current part collected */
    size_t length; /* AT_POST: the record's length, already checked */
    uint8_t length_bytes[FEEDFILE_LENGTH_SIZE];
    uint64_t offset;        /* bytes of the file taken */
    uint64_t record_offset; /* where the current record's length field starts */
    uint64_t number;        /* records begun, the current one included */
    feedfile_problem_t problem;
    /* The one record held: a length is checked before any byte lands here,
     * so it never holds more than POST_MAX_SIZE. */
    uint8_t post[POST_MAX_SIZE];
};

feedfile_err_t
feedfile_reader_new(feedfile_reader_t **out)
{
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        return FEEDFILE_ENOMEM;
    }
    (*out)->part = AT_MAGIC;
    return FEEDFILE_OK;
}

void
feedfile_reader_free(feedfile_reader_t *r)
{
    free(r);
}

static feedfile_err_t
fail(feedfile_reader_t *r, feedfile_err_t err, uint64_t offset)
{
    r->problem.err = err;
    r->problem.offset = offset;
    r->problem.number = r->part == AT_MAGIC ? 0 : r->number;
    r->problem.length = r->part == AT_POST || err == FEEDFILE_ELENGTH ? r->length : 0;
    r->problem.present = r->have;
    return err;
}

/* Takes bytes of the magic; each byte is checked as it arrives, so a file
 * of the wrong kind is refused at its first wrong byte. */
static feedfile_err_t
take_magic(feedfile_reader_t *r, const uint8_t *p, size_t n, size_t *i)
{
    while (*i < n && r->have < FEEDFILE_MAGIC_SIZE) {
        uint8_t b = p[*i];
        (*i)++;
        r->offset++;
        if (b != FEEDFILE_MAGIC[r->have]) {
            if (r->have == VERSION_AT) {
                return fail(r, FEEDFILE_EVERSION, VERSION_AT);
            }
            return fail(r, FEEDFILE_EMAGIC, 0);
        }
        r->have++;
    }
    if (r->have == FEEDFILE_MAGIC_SIZE) {
        r->part = AT_LENGTH;
        r->have = 0;
        r->record_offset = r->offset;
    }
    return FEEDFILE_OK;
}

static feedfile_err_t
take_length(feedfile_reader_t *r, const uint8_t *p, size_t n, size_t *i)
{
    if (r->have == 0 && *i < n) {
        r->number++;
        r->record_offset = r->offset;
    }
    while (*i < n && r->have < FEEDFILE_LENGTH_SIZE) {
        r->length_bytes[r->have++] = p[(*i)++];
        r->offset++;
    }
    if (r->have < FEEDFILE_LENGTH_SIZE) {
        return FEEDFILE_OK;
    }
    r->length = (size_t)r->length_bytes[0] << 8 | r->length_bytes[1];
    if (!length_ok(r->length)) {
        return fail(r, FEEDFILE_ELENGTH, r->record_offset);
    }
    r->part = AT_POST;
    r->have = 0;
    return FEEDFILE_OK;
}

feedfile_err_t
feedfile_reader_push(feedfile_reader_t *r, const uint8_t *p, size_t n, size_t *used,
                     feedfile_record_t *rec, bool *got)
{
    *used = 0;
    *got = false;
    if (r->problem.err != FEEDFILE_OK) {
        return r->problem.err;
    }
    size_t i = 0;
    feedfile_err_t err = FEEDFILE_OK;
    while (i < n && err == FEEDFILE_OK && !*got) {
        switch (r->part) {
        case AT_MAGIC:
            err = take_magic(r, p, n, &i);
            break;
        case AT_LENGTH:
            err = take_length(r, p, n, &i);
            break;
        case AT_POST: {
            size_t want = r->length - r->have;
            size_t take = n - i < want ? n - i : want;
            memcpy(r->post + r->have, p + i, take);
            r->have += take;
            r->offset += take;
            i += take;
            if (r->have == r->length) {
                rec->post = r->post;
                rec->len = r->length;
                rec->number = r->number;
                rec->offset = r->record_offset;
                *got = true;
                r->part = AT_LENGTH;
                r->have = 0;
            }
            break;
        }
        }
    }
    *used = i;
    return err;
}

feedfile_err_t
feedfile_reader_finish(feedfile_reader_t *r)
{
    if (r->problem.err != FEEDFILE_OK) {
        return r->problem.err;
    }
    switch (r->part) {
    case AT_MAGIC:
        return fail(r, FEEDFILE_ETRUNC_MAGIC, 0);
    case AT_LENGTH:
        return r->have == 0 ? FEEDFILE_OK : fail(r, FEEDFILE_ETRUNC_LENGTH, r->record_offset);
    case AT_POST:
        return fail(r, FEEDFILE_ETRUNC_POST, r->record_offset);
    }
    return FEEDFILE_OK;
}

void
feedfile_reader_problem(const feedfile_reader_t *r, feedfile_problem_t *out)
{
    *out = r->problem;
}

uint64_t
feedfile_reader_offset(const feedfile_reader_t *r)
{
    return r->offset;
}

int
feedfile_problem_describe(char *out, size_t cap, const feedfile_problem_t *p)
{
    unsigned long long at = (unsigned long long)p->offset;
    unsigned long long num = (unsigned long long)p->number;
    switch (p->err) {
    case FEEDFILE_OK:
        return snprintf(out, cap, "no problem");
    case FEEDFILE_EMAGIC:
        return snprintf(out, cap, "not a samizdat feed file (it does not start with SZFEED)");
    case FEEDFILE_EVERSION:
        return snprintf(out, cap,
                        "a samizdat feed file of another format version (byte %llu), which "
                        "this version cannot read",
                        at);
    case FEEDFILE_ETRUNC_MAGIC:
        if (p->present == 0) {
            return snprintf(out, cap, "the file is empty (a feed file starts with SZFEED)");
        }
        return snprintf(out, cap, "the file ends after %zu bytes, inside the 8-byte magic",
                        p->present);
    case FEEDFILE_ETRUNC_LENGTH:
        return snprintf(out, cap,
                        "record %llu at byte %llu: the file ends inside its 2-byte length "
                        "(truncated)",
                        num, at);
    case FEEDFILE_ELENGTH:
        return snprintf(out, cap,
                        "record %llu at byte %llu claims %zu bytes, outside %d..%d (not a "
                        "feed file, or corrupt)",
                        num, at, p->length, (int)POST_MIN_SIZE, (int)POST_MAX_SIZE);
    case FEEDFILE_ETRUNC_POST:
        return snprintf(out, cap,
                        "record %llu at byte %llu claims %zu bytes but the file ends after "
                        "%zu of them (truncated)",
                        num, at, p->length, p->present);
    case FEEDFILE_EBUFSZ:
    case FEEDFILE_EIO:
    case FEEDFILE_ENOMEM:
        break;
    }
    return snprintf(out, cap, "%s", feedfile_strerror(p->err));
}
