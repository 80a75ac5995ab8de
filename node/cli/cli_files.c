/* export and import: a feed as a file, so feeds can travel on a USB stick.
 *
 * Feed file format (docs/PROTOCOL.md, "Feed files"): the 8 bytes
 * "SZFEED" 0x00 0x01, then records of u16 big-endian length followed by that
 * many bytes of one encoded post, until the end of the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "cli_int.h"
#include "json.h"
#include "keytext.h"

static const uint8_t MAGIC[8] = {'S', 'Z', 'F', 'E', 'E', 'D', 0x00, 0x01};
enum { REPORT_MAX = 10 };

typedef struct {
    FILE *f;
    uint64_t count;
    bool failed;
} export_t;

static bool
write_record(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len)
{
    (void)p;
    export_t *ex = ud;
    uint8_t len[2] = {(uint8_t)(raw_len >> 8), (uint8_t)raw_len};
    if (fwrite(len, 1, 2, ex->f) != 2 || fwrite(raw, 1, raw_len, ex->f) != raw_len) {
        ex->failed = true;
        return false;
    }
    ex->count++;
    return true;
}

/* A temporary file beside the target, renamed over it when complete, so a
 * full disk or a crash never leaves half a feed under the real name. */
static FILE *
open_temp(const char *path, char *tmp, size_t cap)
{
    if (snprintf(tmp, cap, "%s.tmp-XXXXXX", path) >= (int)cap) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        return NULL;
    }
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        close(fd);
        unlink(tmp);
    }
    return f;
}

static int
finish_file(cli_t *c, FILE *f, const char *tmp, const char *path, bool ok)
{
    int saved = errno;
    if (ok && (fflush(f) != 0 || fsync(fileno(f)) != 0)) {
        ok = false;
        saved = errno;
    }
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        return cli_fail(c, CLI_EXIT_ERROR, "cannot write %s: %s", path, strerror(saved));
    }
    return CLI_EXIT_OK;
}

static int
export_to(cli_t *c, const uint8_t author[static 32], const char *path, bool force,
          export_t *ex)
{
    bool to_stdout = strcmp(path, "-") == 0;
    struct stat st;
    if (!to_stdout && !force && stat(path, &st) == 0) {
        return cli_fail(c, CLI_EXIT_ERROR, "%s exists; use --force to replace it", path);
    }
    char tmp[DATADIR_PATH_MAX];
    ex->f = to_stdout ? c->out : open_temp(path, tmp, sizeof tmp);
    if (ex->f == NULL) {
        return cli_fail(c, CLI_EXIT_ERROR, "cannot create %s: %s", path, strerror(errno));
    }
    ex->failed = fwrite(MAGIC, 1, sizeof MAGIC, ex->f) != sizeof MAGIC;
    store_err_t err = STORE_OK;
    if (!ex->failed) {
        err = store_feed_forward(c->store, author, 1, 0, write_record, ex);
    }
    if (to_stdout) {
        return (ex->failed || fflush(c->out) != 0)
                   ? cli_fail(c, CLI_EXIT_ERROR, "cannot write standard output")
                   : (err == STORE_OK ? CLI_EXIT_OK : cli_store_error(c, err, "export"));
    }
    if (err != STORE_OK) {
        fclose(ex->f);
        unlink(tmp);
        return cli_store_error(c, err, "export");
    }
    return finish_file(c, ex->f, tmp, path, !ex->failed);
}

int
cli_cmd_export(cli_t *c, cli_args_t *a)
{
    bool force = cli_flag(a, "--force");
    const char *unknown = cli_unknown_option(a);
    const char *pos[2];
    if (unknown != NULL || cli_positional(a, pos, 2) != 2) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat export AUTHOR FILE [--force]");
    }
    uint8_t author[32];
    int rc = cli_parse_author(c, pos[0], author);
    if (rc == CLI_EXIT_OK) {
        rc = cli_open_store(c);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    export_t ex = {0};
    rc = export_to(c, author, pos[1], force, &ex);
    if (rc == CLI_EXIT_OK && strcmp(pos[1], "-") != 0) {
        if (c->json) {
            fputs("{\"file\":", c->out);
            json_string(c->out, pos[1]);
            fprintf(c->out, ",\"posts\":%llu}\n", (unsigned long long)ex.count);
        } else {
            fprintf(c->out, "exported %llu posts to %s\n", (unsigned long long)ex.count, pos[1]);
        }
    }
    return rc;
}

typedef struct {
    uint64_t records;
    uint64_t counts[STORE_INGEST_INVALID + 1];
    const char *malformed; /* why the file stopped making sense, or NULL */
} import_t;

/* Reads one record. 1: got one, 0: clean end of file, -1: malformed. */
static int
read_record(FILE *f, uint8_t *buf, size_t *len, import_t *im)
{
    uint8_t hdr[2];
    size_t got = fread(hdr, 1, 2, f);
    if (got == 0 && feof(f)) {
        return 0;
    }
    if (got != 2) {
        im->malformed = "the file ends in the middle of a record length";
        return -1;
    }
    *len = (size_t)hdr[0] << 8 | hdr[1];
    if (*len < POST_MIN_SIZE || *len > POST_MAX_SIZE) {
        im->malformed = "a record length is out of range (not a feed file, or corrupt)";
        return -1;
    }
    if (fread(buf, 1, *len, f) != *len) {
        im->malformed = "the file ends in the middle of a post (truncated)";
        return -1;
    }
    return 1;
}

static void
report_refused(cli_t *c, uint64_t n, const store_ingest_info_t *info)
{
    const char *why = info->result == STORE_INGEST_INVALID ? post_strerror(info->post_err)
                                                          : store_ingest_name(info->result);
    fprintf(c->err, "samizdat: record %llu refused: %s\n", (unsigned long long)n, why);
}

static int
import_records(cli_t *c, FILE *f, import_t *im)
{
    uint8_t buf[POST_MAX_SIZE];
    size_t len = 0;
    uint64_t refused = 0;
    int r;
    while ((r = read_record(f, buf, &len, im)) == 1) {
        store_ingest_info_t info;
        store_err_t err = store_ingest(c->store, buf, len, cli_now_ms(), &info);
        if (err != STORE_OK) {
            return cli_store_error(c, err, "import");
        }
        im->records++;
        im->counts[info.result]++;
        bool bad = info.result == STORE_INGEST_INVALID || info.result == STORE_INGEST_FUTURE ||
                   info.result == STORE_INGEST_BLOCKED;
        if (bad && refused++ < REPORT_MAX) {
            report_refused(c, im->records, &info);
        }
    }
    if (ferror(f)) {
        return cli_fail(c, CLI_EXIT_ERROR, "read error: %s", strerror(errno));
    }
    return CLI_EXIT_OK;
}

static void
print_import(cli_t *c, const char *path, const import_t *im)
{
    const uint64_t *n = im->counts;
    uint64_t added = n[STORE_INGEST_EXTENDED] + n[STORE_INGEST_AHEAD];
    uint64_t refused = n[STORE_INGEST_INVALID] + n[STORE_INGEST_FUTURE] + n[STORE_INGEST_BLOCKED];
    if (c->json) {
        fprintf(c->out,
                "{\"records\":%llu,\"added\":%llu,\"duplicates\":%llu,\"forks\":%llu,"
                "\"refused\":%llu,\"complete\":%s}\n",
                (unsigned long long)im->records, (unsigned long long)added,
                (unsigned long long)n[STORE_INGEST_DUPLICATE],
                (unsigned long long)n[STORE_INGEST_FORK], (unsigned long long)refused,
                im->malformed ? "false" : "true");
        return;
    }
    fprintf(c->out,
            "%s: %llu posts read: %llu added, %llu already here, %llu kept as fork evidence, "
            "%llu refused\n",
            path, (unsigned long long)im->records, (unsigned long long)added,
            (unsigned long long)n[STORE_INGEST_DUPLICATE], (unsigned long long)n[STORE_INGEST_FORK],
            (unsigned long long)refused);
}

static int
check_magic(cli_t *c, FILE *f, const char *path)
{
    uint8_t m[sizeof MAGIC];
    if (fread(m, 1, sizeof m, f) != sizeof m || memcmp(m, MAGIC, sizeof m) != 0) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "%s is not a samizdat feed file", path);
    }
    return CLI_EXIT_OK;
}

int
cli_cmd_import(cli_t *c, cli_args_t *a)
{
    const char *unknown = cli_unknown_option(a);
    const char *pos[1];
    if (unknown != NULL || cli_positional(a, pos, 1) != 1) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat import FILE");
    }
    bool from_stdin = strcmp(pos[0], "-") == 0;
    FILE *f = from_stdin ? c->in : fopen(pos[0], "rb");
    if (f == NULL) {
        return cli_fail(c, errno == ENOENT ? CLI_EXIT_NOTFOUND : CLI_EXIT_ERROR, "%s: %s",
                        pos[0], strerror(errno));
    }
    int rc = check_magic(c, f, pos[0]);
    if (rc == CLI_EXIT_OK) {
        rc = cli_open_store(c);
    }
    import_t im = {0};
    if (rc == CLI_EXIT_OK) {
        rc = import_records(c, f, &im);
    }
    if (!from_stdin) {
        fclose(f);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    print_import(c, pos[0], &im);
    uint64_t refused = im.counts[STORE_INGEST_INVALID] + im.counts[STORE_INGEST_FUTURE] +
                       im.counts[STORE_INGEST_BLOCKED];
    if (im.malformed != NULL) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "%s: stopped after record %llu: %s", pos[0],
                        (unsigned long long)im.records, im.malformed);
    }
    return refused > 0 ? CLI_EXIT_BADINPUT : CLI_EXIT_OK;
}
