/* feedfile: the feed-file writer and the incremental reader, against the
 * example of docs/PROTOCOL.md section 5 and against files broken at every
 * place a reader must notice, each fed whole, byte by byte and in odd
 * chunks. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "feedfile.h"
#include "post.h"

enum { FILE_MAX = 4096, RECORDS_MAX = 8 };

/* The bytes of one vector, decoded from hex. */
typedef struct {
    uint8_t b[FILE_MAX];
    size_t n;
} blob_t;

typedef struct {
    blob_t post1, post2, file;
    blob_t bad[5];
    char fault[5][32];
} doc_t;

static const char *const BAD_NAMES[5] = {"bad_magic", "bad_version", "bad_length", "short_post",
                                         "short_length"};

static void
set_hex(blob_t *b, const char *hex)
{
    size_t n = strlen(hex);
    assert_true(n % 2 == 0 && n / 2 <= sizeof b->b);
    assert_true(bytes_from_hex(b->b, n / 2, hex));
    b->n = n / 2;
}

static void
on_post_vector(void *ud, const char *name, const char *value)
{
    doc_t *d = ud;
    if (strcmp(name, "post1") == 0) {
        set_hex(&d->post1, value);
    } else if (strcmp(name, "post2") == 0) {
        set_hex(&d->post2, value);
    }
}

static void
on_feed_vector(void *ud, const char *name, const char *value)
{
    doc_t *d = ud;
    if (strcmp(name, "file") == 0) {
        set_hex(&d->file, value);
        return;
    }
    for (int i = 0; i < 5; i++) {
        char fault[48];
        snprintf(fault, sizeof fault, "%s_fault", BAD_NAMES[i]);
        if (strcmp(name, BAD_NAMES[i]) == 0) {
            set_hex(&d->bad[i], value);
            return;
        }
        if (strcmp(name, fault) == 0) {
            snprintf(d->fault[i], sizeof d->fault[i], "%s", value);
            return;
        }
    }
    fail_msg("unexpected feedfile vector %s", name);
}

static doc_t *
load_doc(void)
{
    doc_t *d = calloc(1, sizeof *d);
    assert_non_null(d);
    char *text = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", NULL);
    assert_non_null(text);
    tu_doc_vectors(text, "vectors", on_post_vector, d);
    tu_doc_vectors(text, "feedfile", on_feed_vector, d);
    free(text);
    assert_true(d->post1.n > 0 && d->post2.n > 0 && d->file.n > 0);
    for (int i = 0; i < 5; i++) {
        assert_true(d->bad[i].n > 0 && d->fault[i][0] != '\0');
    }
    return d;
}

/* What a reader made of a whole file. */
typedef struct {
    size_t n;
    uint8_t post[RECORDS_MAX][POST_MAX_SIZE];
    size_t len[RECORDS_MAX];
    uint64_t number[RECORDS_MAX];
    uint64_t offset[RECORDS_MAX];
    feedfile_err_t err;
    feedfile_problem_t problem;
} result_t;

/* Feeds p[0..n) in chunks of chunk bytes (0: all at once), then finishes. */
static void
read_all(result_t *res, const uint8_t *p, size_t n, size_t chunk)
{
    memset(res, 0, sizeof *res);
    feedfile_reader_t *r = NULL;
    assert_int_equal(feedfile_reader_new(&r), FEEDFILE_OK);
    size_t off = 0;
    feedfile_err_t err = FEEDFILE_OK;
    while (err == FEEDFILE_OK && off < n) {
        size_t want = chunk == 0 || n - off < chunk ? n - off : chunk;
        size_t pos = 0;
        while (err == FEEDFILE_OK) {
            size_t used = 0;
            bool got = false;
            feedfile_record_t rec;
            err = feedfile_reader_push(r, p + off + pos, want - pos, &used, &rec, &got);
            assert_true(used <= want - pos);
            pos += used;
            if (!got) {
                /* Without a record, a push takes everything or stops on a fault. */
                assert_true(err != FEEDFILE_OK || pos == want);
                break;
            }
            assert_true(res->n < RECORDS_MAX);
            assert_true(rec.len >= POST_MIN_SIZE && rec.len <= POST_MAX_SIZE);
            memcpy(res->post[res->n], rec.post, rec.len);
            res->len[res->n] = rec.len;
            res->number[res->n] = rec.number;
            res->offset[res->n] = rec.offset;
            res->n++;
        }
        off += pos;
        assert_int_equal(feedfile_reader_offset(r), off);
    }
    if (err == FEEDFILE_OK) {
        err = feedfile_reader_finish(r);
    }
    res->err = err;
    feedfile_reader_problem(r, &res->problem);
    assert_int_equal(res->problem.err, err);
    /* The error is sticky. */
    if (err != FEEDFILE_OK) {
        size_t used = 1;
        bool got = true;
        feedfile_record_t rec;
        assert_int_equal(feedfile_reader_push(r, p, n, &used, &rec, &got), err);
        assert_int_equal(used, 0);
        assert_false(got);
        assert_int_equal(feedfile_reader_finish(r), err);
    }
    feedfile_reader_free(r);
}

static const size_t CHUNKS[] = {0, 1, 2, 3, 7, 8, 9, 10, 163, 164, 165, 1000};

static void
test_doc_example_reads(void **state)
{
    (void)state;
    doc_t *d = load_doc();
    for (size_t c = 0; c < sizeof CHUNKS / sizeof CHUNKS[0]; c++) {
        result_t *res = malloc(sizeof *res);
        assert_non_null(res);
        read_all(res, d->file.b, d->file.n, CHUNKS[c]);
        assert_int_equal(res->err, FEEDFILE_OK);
        assert_int_equal(res->n, 2);
        assert_int_equal(res->len[0], d->post1.n);
        assert_memory_equal(res->post[0], d->post1.b, d->post1.n);
        assert_int_equal(res->len[1], d->post2.n);
        assert_memory_equal(res->post[1], d->post2.b, d->post2.n);
        assert_int_equal(res->number[0], 1);
        assert_int_equal(res->number[1], 2);
        assert_int_equal(res->offset[0], 8);
        assert_int_equal(res->offset[1], 8 + 2 + d->post1.n);
        /* The records are the posts of section 11: they decode and verify. */
        post_t p;
        assert_int_equal(post_decode(&p, res->post[0], res->len[0], POST_VERIFY), POST_OK);
        assert_int_equal(p.seq, 1);
        assert_int_equal(post_decode(&p, res->post[1], res->len[1], POST_VERIFY), POST_OK);
        assert_int_equal(p.seq, 2);
        free(res);
    }
    free(d);
}

static void
test_doc_example_writes(void **state)
{
    (void)state;
    doc_t *d = load_doc();
    uint8_t out[FILE_MAX];
    size_t n = 0, len = 0;
    feedfile_header(out);
    n = FEEDFILE_MAGIC_SIZE;
    assert_int_equal(feedfile_record(out + n, sizeof out - n, d->post1.b, d->post1.n, &len),
                     FEEDFILE_OK);
    n += len;
    assert_int_equal(feedfile_record(out + n, sizeof out - n, d->post2.b, d->post2.n, &len),
                     FEEDFILE_OK);
    n += len;
    assert_int_equal(n, d->file.n);
    assert_memory_equal(out, d->file.b, n);

    /* The FILE writer gives the same bytes. */
    char *mem = NULL;
    size_t mem_len = 0;
    FILE *f = open_memstream(&mem, &mem_len);
    assert_non_null(f);
    assert_int_equal(feedfile_write_header(f), FEEDFILE_OK);
    assert_int_equal(feedfile_write_record(f, d->post1.b, d->post1.n), FEEDFILE_OK);
    assert_int_equal(feedfile_write_record(f, d->post2.b, d->post2.n), FEEDFILE_OK);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(mem_len, d->file.n);
    assert_memory_equal(mem, d->file.b, mem_len);
    free(mem);
    free(d);
}

static feedfile_err_t
fault_err(const char *word)
{
    static const struct {
        const char *word;
        feedfile_err_t err;
    } MAP[] = {
        {"magic", FEEDFILE_EMAGIC},
        {"version", FEEDFILE_EVERSION},
        {"length", FEEDFILE_ELENGTH},
        {"truncated-post", FEEDFILE_ETRUNC_POST},
        {"truncated-length", FEEDFILE_ETRUNC_LENGTH},
    };
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++) {
        if (strcmp(word, MAP[i].word) == 0) {
            return MAP[i].err;
        }
    }
    fail_msg("unknown fault %s", word);
    return FEEDFILE_OK;
}

static void
test_doc_faults(void **state)
{
    (void)state;
    doc_t *d = load_doc();
    for (int i = 0; i < 5; i++) {
        char word[32];
        unsigned long long at = 0;
        assert_int_equal(sscanf(d->fault[i], "%31s %llu", word, &at), 2);
        for (size_t c = 0; c < sizeof CHUNKS / sizeof CHUNKS[0]; c++) {
            result_t *res = malloc(sizeof *res);
            assert_non_null(res);
            read_all(res, d->bad[i].b, d->bad[i].n, CHUNKS[c]);
            if (res->err != fault_err(word) || res->problem.offset != at) {
                fail_msg("%s in chunks of %zu: got %s at %llu, want %s at %llu", BAD_NAMES[i],
                         CHUNKS[c], feedfile_strerror(res->err),
                         (unsigned long long)res->problem.offset, word, at);
            }
            /* short_length holds one good record before its fault. */
            assert_int_equal(res->n, strcmp(BAD_NAMES[i], "short_length") == 0 ? 1 : 0);
            free(res);
        }
    }
    free(d);
}

/* A file of the magic and one record of len bytes (the post bytes are
 * filler: the reader checks framing only). */
static size_t
make_file(uint8_t *out, size_t len)
{
    memcpy(out, FEEDFILE_MAGIC, FEEDFILE_MAGIC_SIZE);
    out[8] = (uint8_t)(len >> 8);
    out[9] = (uint8_t)len;
    for (size_t i = 0; i < len; i++) {
        out[10 + i] = (uint8_t)(i * 7 + 1);
    }
    return 10 + len;
}

static void
test_length_bounds(void **state)
{
    (void)state;
    static uint8_t buf[10 + 0xffff];
    result_t *res = malloc(sizeof *res);
    assert_non_null(res);
    const size_t good[] = {POST_MIN_SIZE, POST_MIN_SIZE + 1, POST_MAX_SIZE};
    for (size_t i = 0; i < 3; i++) {
        size_t n = make_file(buf, good[i]);
        read_all(res, buf, n, 0);
        assert_int_equal(res->err, FEEDFILE_OK);
        assert_int_equal(res->n, 1);
        assert_int_equal(res->len[0], good[i]);
        assert_memory_equal(res->post[0], buf + 10, good[i]);
    }
    const size_t bad[] = {0, 1, POST_MIN_SIZE - 1, POST_MAX_SIZE + 1, 0xffff};
    for (size_t i = 0; i < 5; i++) {
        size_t n = make_file(buf, bad[i]);
        read_all(res, buf, n, 0);
        assert_int_equal(res->err, FEEDFILE_ELENGTH);
        assert_int_equal(res->problem.offset, 8);
        assert_int_equal(res->problem.number, 1);
        assert_int_equal(res->problem.length, bad[i]);
        assert_int_equal(res->n, 0);
    }
    free(res);
}

/* The reader stops at the length it refuses and takes none of the bytes
 * the length claims, however many are offered. */
static void
test_stops_at_fault(void **state)
{
    (void)state;
    static uint8_t buf[10 + 0xffff];
    size_t n = make_file(buf, 0xffff);
    feedfile_reader_t *r = NULL;
    assert_int_equal(feedfile_reader_new(&r), FEEDFILE_OK);
    size_t used = 0;
    bool got = true;
    feedfile_record_t rec;
    assert_int_equal(feedfile_reader_push(r, buf, n, &used, &rec, &got), FEEDFILE_ELENGTH);
    assert_int_equal(used, 10);
    assert_false(got);
    assert_int_equal(feedfile_reader_offset(r), 10);
    feedfile_reader_free(r);

    /* A push that completes a record stops there and leaves the rest. */
    n = make_file(buf, POST_MIN_SIZE);
    memcpy(buf + n, buf + 8, n - 8); /* a second record */
    assert_int_equal(feedfile_reader_new(&r), FEEDFILE_OK);
    assert_int_equal(feedfile_reader_push(r, buf, 2 * n - 8, &used, &rec, &got), FEEDFILE_OK);
    assert_true(got);
    assert_int_equal(used, n);
    assert_int_equal(rec.number, 1);
    assert_int_equal(feedfile_reader_push(r, buf + used, n - 8, &used, &rec, &got), FEEDFILE_OK);
    assert_true(got);
    assert_int_equal(rec.number, 2);
    assert_int_equal(rec.offset, n);
    assert_int_equal(used, n - 8);
    /* Nothing left: an empty push is fine and yields nothing. */
    assert_int_equal(feedfile_reader_push(r, buf, 0, &used, &rec, &got), FEEDFILE_OK);
    assert_false(got);
    assert_int_equal(used, 0);
    assert_int_equal(feedfile_reader_finish(r), FEEDFILE_OK);
    feedfile_reader_free(r);
}

static void
test_short_files(void **state)
{
    (void)state;
    result_t *res = malloc(sizeof *res);
    assert_non_null(res);

    read_all(res, (const uint8_t *)"", 0, 0);
    assert_int_equal(res->err, FEEDFILE_ETRUNC_MAGIC);
    assert_int_equal(res->problem.present, 0);

    read_all(res, FEEDFILE_MAGIC, 3, 0);
    assert_int_equal(res->err, FEEDFILE_ETRUNC_MAGIC);
    assert_int_equal(res->problem.present, 3);
    assert_int_equal(res->problem.offset, 0);

    /* The magic alone: a feed of no posts. */
    read_all(res, FEEDFILE_MAGIC, FEEDFILE_MAGIC_SIZE, 1);
    assert_int_equal(res->err, FEEDFILE_OK);
    assert_int_equal(res->n, 0);

    /* A wrong first byte is found at once, before the rest arrives. */
    uint8_t x = 'X';
    read_all(res, &x, 1, 0);
    assert_int_equal(res->err, FEEDFILE_EMAGIC);
    assert_int_equal(res->problem.offset, 0);

    /* A truncated post reports how much of it was there. */
    uint8_t buf[FEEDFILE_RECORD_MAX + FEEDFILE_MAGIC_SIZE];
    size_t n = make_file(buf, 200);
    read_all(res, buf, n - 1, 5);
    assert_int_equal(res->err, FEEDFILE_ETRUNC_POST);
    assert_int_equal(res->problem.length, 200);
    assert_int_equal(res->problem.present, 199);
    assert_int_equal(res->problem.number, 1);
    free(res);
}

static void
test_writer_refuses(void **state)
{
    (void)state;
    uint8_t post[POST_MAX_SIZE + 1] = {0};
    uint8_t out[FEEDFILE_RECORD_MAX + 1];
    memset(out, 0xa5, sizeof out);
    size_t len = 99;
    assert_int_equal(feedfile_record(out, sizeof out, post, POST_MIN_SIZE - 1, &len),
                     FEEDFILE_ELENGTH);
    assert_int_equal(feedfile_record(out, sizeof out, post, POST_MAX_SIZE + 1, &len),
                     FEEDFILE_ELENGTH);
    assert_int_equal(feedfile_record(out, POST_MIN_SIZE + 1, post, POST_MIN_SIZE, &len),
                     FEEDFILE_EBUFSZ);
    assert_int_equal(len, 99);
    assert_int_equal(out[0], 0xa5);
    assert_int_equal(feedfile_record(out, POST_MIN_SIZE + 2, post, POST_MIN_SIZE, &len),
                     FEEDFILE_OK);
    assert_int_equal(len, POST_MIN_SIZE + 2);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], POST_MIN_SIZE);

    /* A FILE that takes nothing. */
    FILE *f = fopen("/dev/full", "wb");
    if (f != NULL) {
        setvbuf(f, NULL, _IONBF, 0);
        assert_int_equal(feedfile_write_record(f, post, POST_MIN_SIZE), FEEDFILE_EIO);
        fclose(f);
    }
    assert_int_equal(feedfile_write_record(stdout, post, 3), FEEDFILE_ELENGTH);
}

static void
test_describe(void **state)
{
    (void)state;
    char out[160];
    feedfile_problem_t p = {.err = FEEDFILE_ELENGTH, .offset = 2056, .number = 3, .length = 40};
    feedfile_problem_describe(out, sizeof out, &p);
    assert_string_equal(out, "record 3 at byte 2056 claims 40 bytes, outside 148..1237 (not a "
                             "feed file, or corrupt)");
    p = (feedfile_problem_t){
        .err = FEEDFILE_ETRUNC_POST, .offset = 8, .number = 1, .length = 163, .present = 10};
    feedfile_problem_describe(out, sizeof out, &p);
    assert_string_equal(out, "record 1 at byte 8 claims 163 bytes but the file ends after 10 "
                             "of them (truncated)");
    p = (feedfile_problem_t){.err = FEEDFILE_ETRUNC_MAGIC};
    feedfile_problem_describe(out, sizeof out, &p);
    assert_string_equal(out, "the file is empty (a feed file starts with SZFEED)");
    /* Cut to the buffer, always terminated. */
    char small[8];
    int full = feedfile_problem_describe(small, sizeof small, &p);
    assert_true(full > (int)sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_example_reads), cmocka_unit_test(test_doc_example_writes),
        cmocka_unit_test(test_doc_faults),        cmocka_unit_test(test_length_bounds),
        cmocka_unit_test(test_stops_at_fault),    cmocka_unit_test(test_short_files),
        cmocka_unit_test(test_writer_refuses),    cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
