#include "app_files.h"

#include <string.h>

#include "bytes.h"
#include "post.h"

static const uint8_t MAGIC[APP_FEEDFILE_MAGIC_SIZE] = {'S', 'Z', 'F', 'E', 'E', 'D', 0x00, 0x01};

bool
app_feedfile_read_magic(FILE *f)
{
    uint8_t m[APP_FEEDFILE_MAGIC_SIZE];
    return fread(m, 1, sizeof m, f) == sizeof m && memcmp(m, MAGIC, sizeof m) == 0;
}

app_feedfile_next_t
app_feedfile_next(FILE *f, uint8_t *buf, size_t *len, const char **why)
{
    uint8_t hdr[2];
    size_t got = fread(hdr, 1, 2, f);
    if (got == 0 && feof(f)) {
        return APP_FEEDFILE_END;
    }
    if (got != 2) {
        *why = "the file ends in the middle of a record length";
        return APP_FEEDFILE_BAD;
    }
    bytes_reader_t r;
    bytes_reader_init(&r, hdr, sizeof hdr);
    *len = bytes_get_u16(&r);
    if (!bytes_reader_done(&r) || *len < POST_MIN_SIZE || *len > POST_MAX_SIZE) {
        *why = "a record length is out of range (not a feed file, or corrupt)";
        return APP_FEEDFILE_BAD;
    }
    if (fread(buf, 1, *len, f) != *len) {
        *why = "the file ends in the middle of a post (truncated)";
        return APP_FEEDFILE_BAD;
    }
    return APP_FEEDFILE_RECORD;
}

bool
app_feedfile_write_magic(FILE *f)
{
    return fwrite(MAGIC, 1, sizeof MAGIC, f) == sizeof MAGIC;
}

bool
app_feedfile_write_record(FILE *f, const uint8_t *raw, size_t len)
{
    if (len > UINT16_MAX) {
        return false;
    }
    uint8_t hdr[2];
    bytes_writer_t w;
    bytes_writer_init(&w, hdr, sizeof hdr);
    bytes_put_u16(&w, (uint16_t)len);
    return fwrite(hdr, 1, 2, f) == 2 && fwrite(raw, 1, len, f) == len;
}
