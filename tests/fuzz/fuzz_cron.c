/*
 * fuzz_cron - a schedule's cron expression (common/cron.c), as a template's
 * on.schedule holds it.
 *
 * Input: eight bytes of a time (seconds since the epoch, kept within the
 * years 1970 to 2200), then the expression (valid UTF-8, as a template's
 * strings are). Invariants:
 *  - a refused expression has a message that is valid UTF-8 and says
 *    something;
 *  - a taken one has at least one value in every field, its days within
 *    their ranges;
 *  - the next fire time is a whole minute after the time, and nothing
 *    fires between them (the last fire time at or before next - 1 is at or
 *    before the time); the previous one is a whole minute at or before the
 *    time, and the next after it is past the time;
 *  - the expression fires at least once in 400 years (cron_parse refuses
 *    days that never come), so next is always found.
 */
#include "fuzz_util.h"

#include <string.h>

#include "cron.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[CRON_MAX_TEXT * 2];
    char err[CRON_ERR_LEN];
    uint64_t raw = 0;
    int64_t t, next, prev;
    cron_t c;

    if (size < 8 || size - 8 >= sizeof(text))
        return 0;
    for (int i = 0; i < 8; i++)
        raw = raw << 8 | data[i];
    /* 1970 to about 2200. */
    t = (int64_t)(raw % UINT64_C(7258118400));
    memcpy(text, data + 8, size - 8);
    text[size - 8] = '\0';
    if (strlen(text) != size - 8 || !fuzz_utf8_valid(text, size - 8))
        return 0;
    err[0] = '\0';
    if (cron_parse(text, &c, err, sizeof(err)) < 0) {
        FUZZ_CHECK(err[0] != '\0', "a refusal says why");
        FUZZ_CHECK(fuzz_utf8_valid(err, strlen(err)), "the message is valid UTF-8");
        return 0;
    }
    FUZZ_CHECK(c.minutes != 0 && c.hours != 0 && c.mdays != 0 && c.months != 0 && c.wdays != 0,
               "every field has a value");
    FUZZ_CHECK((c.minutes >> 60) == 0 && (c.hours >> 24) == 0 && (c.mdays & 1) == 0 &&
                   (c.months & 1) == 0 && (c.months >> 13) == 0 && (c.wdays >> 7) == 0,
               "values within their ranges");
    next = cron_next(&c, t);
    FUZZ_CHECK(next > t && next % 60 == 0, "next is a whole minute after the time");
    FUZZ_CHECK(cron_prev(&c, next) == next, "next is a fire time");
    FUZZ_CHECK(cron_prev(&c, next - 1) <= t, "nothing fires before next");
    prev = cron_prev(&c, t);
    if (prev >= 0) {
        FUZZ_CHECK(prev <= t && prev % 60 == 0, "prev is a whole minute at or before the time");
        FUZZ_CHECK(cron_next(&c, prev) > t, "nothing fires after prev");
    }
    return 0;
}
