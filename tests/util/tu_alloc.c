/* tu_alloc: see tu_alloc.h. */
#include "tu_alloc.h"

#include <stdlib.h>

#include "testutil.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

/* The state of the pass: a test runs one pass at a time on one thread.
 * Whether counting is on, how deep the pauses are, which allocation fails
 * (-1: none), how many were made and whether the failure was reached. */
static bool counting;
static int paused;
static long fail_at = -1;
static long allocs;
static bool failed;

static bool
fail_now(void)
{
    if (!counting || paused > 0) {
        return false;
    }
    if (allocs++ == fail_at) {
        failed = true;
        return true;
    }
    return false;
}

void *
__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
    /* realloc(p, 0) may free; failing it would not be an allocation failure. */
    if (n == 0) {
        return __real_realloc(p, n);
    }
    return fail_now() ? NULL : __real_realloc(p, n);
}

void
tu_alloc_start(long n)
{
    fail_at = n;
    allocs = 0;
    failed = false;
    paused = 0;
    counting = true;
}

long
tu_alloc_stop(void)
{
    counting = false;
    return allocs;
}

bool
tu_alloc_failed(void)
{
    return failed;
}

void
tu_alloc_pause(void)
{
    paused++;
}

void
tu_alloc_resume(void)
{
    paused--;
}

long
tu_alloc_pass(tu_alloc_run_fn run, void *ud, long max_n)
{
    for (long n = 0; n <= max_n; n++) {
        bool ok = run(ud, n);
        if (!tu_alloc_failed()) {
            if (!ok) {
                fail_msg("the call failed with no allocation failing (round %ld)", n);
            }
            return n;
        }
    }
    fail_msg("still failing after %ld allocation failures", max_n);
    return -1;
}
