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
 * Which step runs is not read from the output, which the job writes: the
 * shell also reports each step, out of band, as its number on descriptor 3
 * (a channel of the worker's: a pipe of its own for the local engine, the
 * container's stderr for the docker engine, whose shell writes stdout and
 * stderr both to stdout), and the step runs in `{ ...; } 3>&-`, so that
 * nothing the step runs holds that descriptor (the shell's saved copy is
 * close-on-exec). The worker feeds the channel to steps_feed, so that a
 * failed job's error names the step that ran:
 * `line 2 "test -f configure" exited with code 1`, whatever the job printed.
 *
 *   printf '%s\n' '$ make test'      the echo, in the log
 *   echo 2 >&3                        the report, out of band
 *   { :
 *   make test
 *   } 3>&-                            the entry
 */
#ifndef GW_STEPS_H
#define GW_STEPS_H

#include <stddef.h>

typedef struct steps steps_t;

/* The script for entries lines[0..n): each echoed, reported on
 * descriptor 3, then run (caller frees). The shell must have descriptor 3
 * open. */
char *steps_script(char *const *lines, size_t n);

/* A tracker of the steps of lines[0..n) (borrowed: they must outlive it).
 * Free with steps_free; steps_free(NULL) is a no-op. */
steps_t *steps_new(char *const *lines, size_t n);
void steps_free(steps_t *s);
/* What the job's shell wrote to descriptor 3, in order, in pieces of any
 * size: a step's number (from 1) per line. Only the next step's number
 * moves the tracker; anything else is ignored. */
void steps_feed(steps_t *s, const char *data, size_t len);
/* The step reported last (0-based), or -1 before the first. */
int steps_current(const steps_t *s);
/* The error of a job that exited with exit_code: `line N "TEXT" exited
 * with code C` once a step was seen, else `exited with code C` (caller
 * frees). TEXT is the step's first line, shortened and marked with "..."
 * when it is long or has more lines. s may be NULL. */
char *steps_error(const steps_t *s, int exit_code);

#endif
