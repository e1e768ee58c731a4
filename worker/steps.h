/*
 * steps - a job's script as visible steps: the script the shell runs, and
 * which step was running when the job ended.
 *
 * Each entry of a job's `script` list is one step. The shell (`sh -e -c`,
 * on every engine) runs a script that prints each step before running it:
 *
 *   $ first line of the entry
 *   > each further line of a multi-line entry
 *
 * on stdout, then the entry itself, byte for byte as written (quotes, `$`,
 * backslashes, here-documents). The echo is a `printf` of a single-quoted
 * copy, so nothing of the entry is read as shell code twice.
 *
 * The worker reads the job's output for those echo lines (steps_feed) to
 * know which step ran last, so that a failed job's error names it:
 * `line 2 "test -f configure" exited with code 1`.
 */
#ifndef GW_STEPS_H
#define GW_STEPS_H

#include <stddef.h>

typedef struct steps steps_t;

/* The script for entries lines[0..n): each echoed, then run (caller
 * frees). */
char *steps_script(char *const *lines, size_t n);

/* A tracker of the steps of lines[0..n) (borrowed: they must outlive it).
 * Free with steps_free; steps_free(NULL) is a no-op. */
steps_t *steps_new(char *const *lines, size_t n);
void steps_free(steps_t *s);
/* Output of the job, in order, in pieces of any size. */
void steps_feed(steps_t *s, const char *data, size_t len);
/* The step whose echo came last (0-based), or -1 before the first. */
int steps_current(const steps_t *s);
/* The error of a job that exited with exit_code: `line N "TEXT" exited
 * with code C` once a step was seen, else `exited with code C` (caller
 * frees). TEXT is the step's first line, shortened and marked with "..."
 * when it is long or has more lines. s may be NULL. */
char *steps_error(const steps_t *s, int exit_code);

#endif
