/* libFuzzer target for the feed-file reader. Feed files come on USB sticks
 * from strangers, so any bytes must be read or refused without a crash,
 * and the answer must not depend on how the bytes arrive: the input is read
 * once whole and once in chunks of sizes drawn from the input itself, and
 * both readings must yield the same records and end on the same fault at
 * the same offset. Every record must be in range, and writing the records
 * back must give the input's bytes up to the fault. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "feedfile.h"

/* A digest of what a reading yielded, so two readings compare in O(1)
 * memory however many records there are. */
typedef struct {
    crypto_generichash_state h;
    uint64_t records;
    feedfile_err_t err;
    feedfile_problem_t problem;
    uint64_t taken;
} reading_t;

/* Deterministic chunk sizes: a small generator seeded from the input, so
 * a crash reproduces from the saved input alone. */
static size_t
next_chunk(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    uint64_t x = *s >> 33;
    /* Mostly small chunks (they split headers and lengths), some large. */
    return (x & 3) == 0 ? (size_t)(x % 2000) : (size_t)(x % 5);
}

static void
record_seen(reading_t *rd, const feedfile_record_t *rec)
{
    if (rec->len < POST_MIN_SIZE || rec->len > POST_MAX_SIZE || rec->number != rd->records + 1) {
        abort();
    }
    uint8_t meta[16];
    for (int i = 0; i < 8; i++) {
        meta[i] = (uint8_t)(rec->offset >> (8 * i));
        meta[8 + i] = (uint8_t)(rec->len >> (8 * i));
    }
    crypto_generichash_update(&rd->h, meta, sizeof meta);
    crypto_generichash_update(&rd->h, rec->post, rec->len);
    rd->records++;
}

/* Reads data; chunked uses the generator, otherwise all at once. Also
 * rebuilds the good part of the file into out (the caller's buffer of at
 * least size bytes) with the writer. */
static void
read_input(reading_t *rd, const uint8_t *data, size_t size, uint64_t seed, bool chunked,
           uint8_t *out, size_t *out_len)
{
    memset(rd, 0, sizeof *rd);
    crypto_generichash_init(&rd->h, NULL, 0, 32);
    feedfile_reader_t *r = NULL;
    if (feedfile_reader_new(&r) != FEEDFILE_OK) {
        abort();
    }
    size_t off = 0, w = 0;
    feedfile_err_t err = FEEDFILE_OK;
    while (err == FEEDFILE_OK && off < size) {
        size_t n = size - off;
        if (chunked) {
            size_t c = next_chunk(&seed);
            n = c < n ? c : n;
        }
        size_t pos = 0;
        do {
            size_t used = 0;
            bool got = false;
            feedfile_record_t rec;
            err = feedfile_reader_push(r, data + off + pos, n - pos, &used, &rec, &got);
            if (used > n - pos || (!got && err == FEEDFILE_OK && pos + used != n)) {
                abort();
            }
            pos += used;
            if (!got) {
                break;
            }
            record_seen(rd, &rec);
            if (out != NULL) {
                if (w == 0) {
                    feedfile_header(out);
                    w = FEEDFILE_MAGIC_SIZE;
                }
                size_t len = 0;
                if (feedfile_record(out + w, size - w, rec.post, rec.len, &len) != FEEDFILE_OK) {
                    abort();
                }
                w += len;
            }
        } while (err == FEEDFILE_OK);
        off += pos;
    }
    if (err == FEEDFILE_OK) {
        err = feedfile_reader_finish(r);
    }
    rd->err = err;
    feedfile_reader_problem(r, &rd->problem);
    rd->taken = feedfile_reader_offset(r);
    if (rd->problem.err != err || rd->taken != off) {
        abort();
    }
    feedfile_reader_free(r);
    if (out_len != NULL) {
        *out_len = w;
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = size;
    for (size_t i = 0; i < size && i < 16; i++) {
        seed = seed * 131 + data[size - 1 - i];
    }
    uint8_t *out = malloc(size > 0 ? size : 1);
    if (out == NULL) {
        return 0;
    }
    reading_t whole, chunked;
    size_t w = 0;
    read_input(&whole, data, size, seed, false, out, &w);
    read_input(&chunked, data, size, seed, true, NULL, NULL);

    uint8_t h1[32], h2[32];
    crypto_generichash_final(&whole.h, h1, sizeof h1);
    crypto_generichash_final(&chunked.h, h2, sizeof h2);
    if (whole.records != chunked.records || memcmp(h1, h2, sizeof h1) != 0 ||
        whole.err != chunked.err || whole.problem.offset != chunked.problem.offset ||
        whole.problem.number != chunked.problem.number ||
        whole.problem.length != chunked.problem.length ||
        whole.problem.present != chunked.problem.present || whole.taken != chunked.taken) {
        abort();
    }
    /* The records written back are exactly the bytes read before the
     * fault (a fault after the magic leaves the magic and whole records;
     * a clean file is all records). */
    if (whole.records > 0 && (w > size || memcmp(out, data, w) != 0)) {
        abort();
    }
    if (whole.err == FEEDFILE_OK && size >= FEEDFILE_MAGIC_SIZE &&
        (whole.records == 0 ? size != FEEDFILE_MAGIC_SIZE : w != size)) {
        abort();
    }
    char line[256];
    feedfile_problem_describe(line, sizeof line, &whole.problem);
    free(out);
    return 0;
}
