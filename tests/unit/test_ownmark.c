/* ownmark: the fsynced high-water mark of the own feed (store/ownmark.h,
 * docs/INTERNALS.md section 1.5). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keytext.h"
#include "ownmark.h"

typedef struct {
    char dir[400];
    char path[600];
    uint8_t pk[KEYS_PUBLIC_SIZE];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, OWNMARK_FILE);
    memset(f->pk, 0x42, sizeof f->pk);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static void
test_missing_is_zero(void **state)
{
    fixture_t *f = *state;
    uint64_t seq = 99;
    assert_int_equal(ownmark_read(f->dir, f->pk, &seq), OWNMARK_OK);
    assert_int_equal(seq, 0);
}

static void
test_write_read(void **state)
{
    fixture_t *f = *state;
    uint64_t values[] = {1, 7, UINT64_MAX, 0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        assert_int_equal(ownmark_write(f->dir, f->pk, values[i]), OWNMARK_OK);
        uint64_t seq = 99;
        assert_int_equal(ownmark_read(f->dir, f->pk, &seq), OWNMARK_OK);
        assert_int_equal(seq, values[i]);
    }
    /* The file is the documented line, and nothing is left beside it. */
    assert_int_equal(ownmark_write(f->dir, f->pk, 12), OWNMARK_OK);
    char *text = tu_read_file(f->path, NULL);
    char key[KEYTEXT_BUFSZ], want[256];
    keytext_encode(key, KEYTEXT_AUTHOR, f->pk);
    snprintf(want, sizeof want, "samizdat-own-seq-v1 %s 12\n", key);
    assert_string_equal(text, want);
    free(text);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.new", f->path);
    assert_null(tu_read_file(tmp, NULL));
}

static void
test_other_author_is_zero(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(ownmark_write(f->dir, f->pk, 5), OWNMARK_OK);
    uint8_t other[KEYS_PUBLIC_SIZE];
    memset(other, 0x43, sizeof other);
    uint64_t seq = 99;
    assert_int_equal(ownmark_read(f->dir, other, &seq), OWNMARK_OK);
    assert_int_equal(seq, 0);
}

static void
test_damaged_files_refused(void **state)
{
    fixture_t *f = *state;
    char key[KEYTEXT_BUFSZ];
    keytext_encode(key, KEYTEXT_AUTHOR, f->pk);
    char good[256];
    snprintf(good, sizeof good, "samizdat-own-seq-v1 %s 12\n", key);
    char bad[10][600];
    snprintf(bad[0], sizeof bad[0], "%s", "");
    snprintf(bad[1], sizeof bad[1], "samizdat-own-seq-v1 %s 12", key);    /* no newline */
    snprintf(bad[2], sizeof bad[2], "samizdat-own-seq-v2 %s 12\n", key);  /* other version */
    snprintf(bad[3], sizeof bad[3], "samizdat-own-seq-v1 %s 012\n", key); /* leading zero */
    snprintf(bad[4], sizeof bad[4], "samizdat-own-seq-v1 %s \n", key);    /* no number */
    snprintf(bad[5], sizeof bad[5], "samizdat-own-seq-v1 %s 18446744073709551616\n", key);
    snprintf(bad[6], sizeof bad[6], "samizdat-own-seq-v1 %s 1x\n", key);
    snprintf(bad[7], sizeof bad[7], "%s", good);
    bad[7][25] = bad[7][25] == 'q' ? 'p' : 'q'; /* a mistyped key */
    snprintf(bad[8], sizeof bad[8], "samizdat-own-seq-v1 %s12\n", key);
    snprintf(bad[9], sizeof bad[9], "%s%s", good, good); /* trailing bytes */
    for (size_t i = 0; i < 10; i++) {
        tu_write_file(f->path, bad[i], strlen(bad[i]));
        uint64_t seq = 99;
        assert_int_equal(ownmark_read(f->dir, f->pk, &seq), OWNMARK_EDAMAGED);
    }
    /* Larger than any mark: refused without reading it all. */
    char big[4096];
    memset(big, '1', sizeof big);
    tu_write_file(f->path, big, sizeof big);
    uint64_t seq = 0;
    assert_int_equal(ownmark_read(f->dir, f->pk, &seq), OWNMARK_EDAMAGED);
    tu_write_file(f->path, good, strlen(good));
    assert_int_equal(ownmark_read(f->dir, f->pk, &seq), OWNMARK_OK);
    assert_int_equal(seq, 12);
}

static void
test_bad_directory(void **state)
{
    fixture_t *f = *state;
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no/such/dir", f->dir);
    assert_int_equal(ownmark_write(missing, f->pk, 3), OWNMARK_EIO);
    uint64_t seq = 0;
    assert_int_equal(ownmark_read(NULL, f->pk, &seq), OWNMARK_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_author_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
