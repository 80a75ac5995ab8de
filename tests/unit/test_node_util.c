/* node/ helpers: the data directory rules and JSON string output. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"
#include "defence.h"
#include "json.h"

static void
test_resolve_precedence(void **state)
{
    (void)state;
    char out[DATADIR_PATH_MAX];
    setenv("SAMIZDAT_DATA", "/env/data", 1);
    setenv("XDG_DATA_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    assert_int_equal(datadir_resolve(out, sizeof out, "/opt/d"), DATADIR_OK);
    assert_string_equal(out, "/opt/d");
    assert_int_equal(datadir_resolve(out, sizeof out, NULL), DATADIR_OK);
    assert_string_equal(out, "/env/data");
    unsetenv("SAMIZDAT_DATA");
    assert_int_equal(datadir_resolve(out, sizeof out, NULL), DATADIR_OK);
    assert_string_equal(out, "/xdg/samizdat");
    setenv("XDG_DATA_HOME", "", 1);
    assert_int_equal(datadir_resolve(out, sizeof out, ""), DATADIR_OK);
    assert_string_equal(out, "/home/u/.local/share/samizdat");
    unsetenv("XDG_DATA_HOME");
    unsetenv("HOME");
    assert_int_equal(datadir_resolve(out, sizeof out, NULL), DATADIR_ENOHOME);
    char small[8];
    assert_int_equal(datadir_resolve(small, sizeof small, "/a/long/path"), DATADIR_ETOOLONG);
}

static void
test_ensure_modes(void **state)
{
    (void)state;
    char tmp[512], dir[600];
    tu_mkdtemp(tmp, sizeof tmp);
    snprintf(dir, sizeof dir, "%s/a/b/samizdat", tmp);
    assert_int_equal(datadir_ensure(dir), DATADIR_OK);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(datadir_ensure(dir), DATADIR_OK); /* again: fine */
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(datadir_ensure(dir), DATADIR_EMODE);
    assert_int_equal(chmod(dir, 0700), 0);
    char file[700];
    snprintf(file, sizeof file, "%s/plain", dir);
    tu_write_file(file, "x", 1);
    assert_int_equal(datadir_ensure(file), DATADIR_ENOTDIR);
    char joined[16];
    assert_int_equal(datadir_path(joined, sizeof joined, "/d", "author.key"), DATADIR_OK);
    assert_string_equal(joined, "/d/author.key");
    assert_int_equal(datadir_path(joined, sizeof joined, "/longer/dir", "author.key"),
                     DATADIR_ETOOLONG);
    tu_rmtree(tmp);
}

static void
test_json_escaping(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    json_string(f, "a\"b\\c\nd\te\x01 \xc3\xa9");
    fclose(f);
    assert_string_equal(buf, "\"a\\\"b\\\\c\\nd\\te\\u0001 \xc3\xa9\"");
    free(buf);
}

static void
test_defence_names(void **state)
{
    (void)state;
    assert_false(defence_off(NULL, "ban"));
    assert_false(defence_off("", "ban"));
    assert_true(defence_off("ban", "ban"));
    assert_true(defence_off("flood-budget,ban", "ban"));
    assert_true(defence_off(" ban , x", "ban"));
    assert_false(defence_off("banned", "ban"));
    assert_false(defence_off("ba", "ban"));
    assert_false(defence_off("flood-budget", "ban"));
    assert_true(defence_off("all", "anything"));
    assert_false(defence_off("all", ""));
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_precedence),
        cmocka_unit_test(test_ensure_modes),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_defence_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
