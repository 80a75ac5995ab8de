/* tu_alloc: the allocation-failure pass. Fails the Nth allocation made by
 * code linked statically into a test (our libraries and the test itself),
 * so each path that allocates can be made to fail in turn.
 *
 * A test that uses it links the object library sz_tu_alloc (see
 * tests/CMakeLists.txt), which passes -Wl,--wrap for malloc, calloc and
 * realloc: the linker sends our calls to the __wrap_ functions here. Calls
 * made inside shared libraries (libc's own, libsodium, libuv, libzmq,
 * LevelDB's C++ `new`) are not counted and never fail: what this covers is
 * every allocation samizdat's own code makes. ASan (LeakSanitizer) finds
 * what a failure path leaks. Test state only: the library under test has
 * none. */
#ifndef SAMIZDAT_TU_ALLOC_H
#define SAMIZDAT_TU_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Starts counting allocations from 0; the one numbered fail_at fails
 * (returns NULL), every other succeeds. fail_at -1: none fails. */
void tu_alloc_start(long fail_at);
/* Stops counting; returns how many allocations were made (the failed one
 * included) since tu_alloc_start. */
long tu_alloc_stop(void);
/* Whether the allocation numbered fail_at was reached (and failed). */
bool tu_alloc_failed(void);
/* Pauses and resumes counting, for test fakes called back from the code
 * under test (their allocations are not under test). Nests. */
void tu_alloc_pause(void);
void tu_alloc_resume(void);

/* The pass itself: calls run(ud, n) for n = 0, 1, 2, ... with allocation n
 * failing. run calls tu_alloc_start(n) and tu_alloc_stop() around the call
 * under test, checks what a failure must give (its ENOMEM error, nothing
 * half made), cleans up, and returns whether the call succeeded. The pass
 * ends with the first round in which allocation n was never reached: that
 * call must have succeeded. Fails the test if it takes more than max_n
 * rounds. Returns the number of rounds in which an allocation failed. */
typedef bool (*tu_alloc_run_fn)(void *ud, long n);
long tu_alloc_pass(tu_alloc_run_fn run, void *ud, long max_n);

#endif
