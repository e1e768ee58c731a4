/*
 * cron - five-field cron expressions (a template's on.schedule), in UTC.
 *
 *   minute hour day-of-month month day-of-week
 *   0-59   0-23 1-31         1-12  0-7 (0 and 7 are Sunday)
 *
 * A field is a comma-separated list of items; an item is `*`, a number N,
 * or a range N-M, each optionally followed by /STEP (every STEP-th value
 * from the start: `*`/15 is 0,15,30,45; 5/20 is 5,25,45). Names (JAN,
 * MON), `?`, `L`, `W`, `#` and macros (@daily) are not taken.
 *
 * Days follow the usual cron rule: when both day-of-month and day-of-week
 * are restricted (neither field starts with `*`), a day matches if either
 * does; otherwise it must match both. An expression whose day-of-month
 * never falls in its months (`0 0 30 2 *`) is refused.
 *
 * No clock and no I/O: times are seconds since the epoch, UTC, given by
 * the caller; fire times are whole minutes.
 */
#ifndef GW_CRON_H
#define GW_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The longest expression taken, in bytes. */
#define CRON_MAX_TEXT 256
/* Room for an error message. */
#define CRON_ERR_LEN 160
/* Room for a time as cron_format writes it, with its NUL. */
#define CRON_TIME_LEN 32

/* A parsed expression: one bit per value that matches. */
typedef struct {
    uint64_t minutes; /* bit 0-59 */
    uint32_t hours;   /* bit 0-23 */
    uint32_t mdays;   /* bit 1-31 */
    uint32_t months;  /* bit 1-12 */
    uint32_t wdays;   /* bit 0-6, Sunday 0 */
    bool mday_star;   /* the day-of-month field starts with `*` */
    bool wday_star;   /* the day-of-week field starts with `*` */
} cron_t;

/*
 * Parse text into *out. Returns 0, or -1 with err (n bytes) saying what is
 * wrong ("hour: 24 is out of range 0-23"), lowercase, without the text.
 */
int cron_parse(const char *text, cron_t *out, char *err, size_t n) GW_MUST_CHECK;

/* The first fire time strictly after `after`. Every expression that
 * cron_parse takes has one (it looks 400 years ahead, the Gregorian
 * cycle; -1 if not). */
int64_t cron_next(const cron_t *c, int64_t after);

/* The last fire time at or before `at`, or -1 when there is none since
 * the epoch. */
int64_t cron_prev(const cron_t *c, int64_t at);

/* t (seconds since the epoch) as RFC 3339 UTC with microseconds, as the
 * API writes every time: 2026-12-07T11:15:00.000000Z. */
void cron_format(int64_t t, char out[CRON_TIME_LEN]);

#endif
