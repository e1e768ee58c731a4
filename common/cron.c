/*
 * cron - five-field cron expressions: parsing into bit sets, and the fire
 * times next to a given time (cron.h). Dates are computed from day numbers
 * (days since 1970-01-01) with the proleptic Gregorian calendar, so no
 * time zone and no libc time function is involved.
 */
#include "cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* How far cron_next and cron_prev look: the Gregorian cycle of 400 years,
 * in which every date falls on every day of the week. A day-of-month that
 * must also be a given day of the week may match once in a dozen years or
 * more; an expression that cron_parse takes matches within the cycle. */
#define CRON_SEARCH_DAYS 146097

/* err = the message, cut on a whole UTF-8 character (it may quote the
 * expression). */
static void GW_PRINTF(3, 4) cron_fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    utf8_trim(err);
}

typedef struct {
    const char *name;
    int lo, hi;
} cron_field_t;

static const cron_field_t cron_fields[5] = {
    {"minute", 0, 59}, {"hour", 0, 23},       {"day-of-month", 1, 31},
    {"month", 1, 12},  {"day-of-week", 0, 7},
};

/* Read a decimal number of at most three digits at *p. Returns 0 with *v,
 * or -1. */
static int
cron_number(const char **p, int *v)
{
    int n = 0, digits = 0;

    while (**p >= '0' && **p <= '9') {
        if (++digits > 3)
            return -1;
        n = n * 10 + (**p - '0');
        (*p)++;
    }
    if (digits == 0)
        return -1;
    *v = n;
    return 0;
}

/* One field of len bytes at s into *bits (bit v for each value v that
 * matches). Returns 0, or -1 with err. */
static int
cron_field(const char *s, size_t len, const cron_field_t *f, uint64_t *bits, char *err, size_t n)
{
    char text[CRON_MAX_TEXT + 1];
    const char *p = text;

    memcpy(text, s, len);
    text[len] = '\0';
    *bits = 0;
    for (;;) {
        int lo, hi, step = 1;
        bool star = false, range = false;

        if (*p == '*') {
            star = true;
            lo = f->lo;
            hi = f->hi;
            p++;
        } else if (cron_number(&p, &lo) < 0) {
            cron_fail(err, n, "%s: \"%s\" is not a number, a range or *", f->name, text);
            return -1;
        } else {
            hi = lo;
            if (*p == '-') {
                range = true;
                p++;
                if (cron_number(&p, &hi) < 0) {
                    cron_fail(err, n, "%s: a range needs a number after \"-\"", f->name);
                    return -1;
                }
            }
        }
        if (!star && (lo < f->lo || hi > f->hi || lo > f->hi)) {
            cron_fail(err, n, "%s: %d is out of range %d-%d", f->name,
                      lo < f->lo || lo > f->hi ? lo : hi, f->lo, f->hi);
            return -1;
        }
        if (lo > hi) {
            cron_fail(err, n, "%s: the range %d-%d runs backwards", f->name, lo, hi);
            return -1;
        }
        if (*p == '/') {
            p++;
            if (cron_number(&p, &step) < 0 || step < 1 || step > f->hi - f->lo + 1) {
                cron_fail(err, n, "%s: a step is a number from 1 to %d", f->name,
                          f->hi - f->lo + 1);
                return -1;
            }
            /* N/STEP runs from N to the end of the range. */
            if (!star && !range)
                hi = f->hi;
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= UINT64_C(1) << v;
        if (*p == '\0')
            return 0;
        if (*p != ',') {
            /* The whole character, when it is not ASCII. */
            size_t need = 0, width = 1;
            unsigned char first_lo, first_hi;
            if (utf8_lead((unsigned char)*p, &need, &first_lo, &first_hi))
                width = strnlen(p, need + 1);
            cron_fail(err, n, "%s: unexpected \"%.*s\" in \"%s\"", f->name, (int)width, p, text);
            return -1;
        }
        p++;
    }
}

/* The length of month m (1-12) in year y. */
static int
cron_month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

int
cron_parse(const char *text, cron_t *out, char *err, size_t n)
{
    const char *p = text;
    uint64_t bits[5];
    int count = 0;

    memset(out, 0, sizeof(*out));
    if (strlen(text) > CRON_MAX_TEXT) {
        cron_fail(err, n, "is longer than %d bytes", CRON_MAX_TEXT);
        return -1;
    }
    for (;;) {
        const char *start;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        start = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
        if (count == 5) {
            count++;
            break;
        }
        if (count == 2)
            out->mday_star = *start == '*';
        if (count == 4)
            out->wday_star = *start == '*';
        if (cron_field(start, (size_t)(p - start), &cron_fields[count], &bits[count], err, n) < 0)
            return -1;
        count++;
    }
    if (count != 5) {
        cron_fail(err, n, "has %s five fields (minute hour day-of-month month day-of-week)",
                  count < 5 ? "fewer than" : "more than");
        return -1;
    }
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint32_t)bits[3];
    /* 7 is Sunday too. */
    out->wdays = (uint32_t)((bits[4] | bits[4] >> 7) & 0x7f);
    if (!out->mday_star && out->wday_star) {
        /* Some day must fall in some month (February counts 29). */
        for (int m = 1; m <= 12; m++) {
            if ((out->months >> m & 1) &&
                (out->mdays & ((UINT32_C(2) << cron_month_days(2000, m)) - 1)))
                return 0;
        }
        cron_fail(err, n, "day-of-month: no day given falls in the months given");
        return -1;
    }
    return 0;
}

/* The civil date of day number z (days since 1970-01-01); H. Hinnant's
 * days-to-civil. */
static void
cron_civil(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t
cron_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Whether day number day matches the month and day fields. */
static bool
cron_day_matches(const cron_t *c, int64_t day)
{
    int64_t y;
    int m, d;
    int wd = (int)(((day % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    bool mday, wday;

    cron_civil(day, &y, &m, &d);
    if (!(c->months >> m & 1))
        return false;
    mday = c->mdays >> d & 1;
    wday = c->wdays >> wd & 1;
    return c->mday_star || c->wday_star ? mday && wday : mday || wday;
}

/* The first (dir 1) or last (dir -1) matching minute of the day, counting
 * from minute `from` of it (0-1439) in that direction; -1 if none. */
static int
cron_day_minute(const cron_t *c, int from, int dir)
{
    for (int t = from; t >= 0 && t < 1440; t += dir) {
        if ((c->hours >> (t / 60) & 1) && (c->minutes >> (t % 60) & 1))
            return t;
    }
    return -1;
}

/* Search from minute t (a whole minute) in direction dir. */
static int64_t
cron_search(const cron_t *c, int64_t t, int dir)
{
    int64_t day = cron_floor_div(t, 86400);
    int from = (int)((t - day * 86400) / 60);

    for (int i = 0; i < CRON_SEARCH_DAYS; i++, day += dir) {
        if (cron_day_matches(c, day)) {
            int m = cron_day_minute(c, from, dir);
            if (m >= 0)
                return day * 86400 + (int64_t)m * 60;
        }
        from = dir > 0 ? 0 : 1439;
    }
    return -1;
}

int64_t
cron_next(const cron_t *c, int64_t after)
{
    return cron_search(c, cron_floor_div(after, 60) * 60 + 60, 1);
}

int64_t
cron_prev(const cron_t *c, int64_t at)
{
    int64_t t = cron_search(c, cron_floor_div(at, 60) * 60, -1);

    return t < 0 ? -1 : t;
}

void
cron_format(int64_t t, char out[CRON_TIME_LEN])
{
    int64_t day = cron_floor_div(t, 86400), y;
    int64_t s = t - day * 86400;
    int m, d;

    cron_civil(day, &y, &m, &d);
    snprintf(out, CRON_TIME_LEN, "%04lld-%02d-%02dT%02d:%02d:%02d.000000Z", (long long)y, m, d,
             (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
}
