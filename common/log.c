/*
 * log - leveled one-line logging to stderr.
 */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static gw_log_level_t log_level = GW_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

int
gw_log_level_parse(const char *s)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(level_names); i++)
        if (strcmp(s, level_names[i]) == 0)
            return (int)i;
    return -1;
}

/* An unknown name keeps the default; config_load refuses it. */
void
gw_log_init(void)
{
    const char *s = getenv("GITWEAVE_LOG_LEVEL");
    int level = s != NULL ? gw_log_level_parse(s) : -1;

    if (level >= 0)
        log_level = (gw_log_level_t)level;
}

void
gw_log_set_level(gw_log_level_t level)
{
    log_level = level;
}

void
gw_log(gw_log_level_t level, const char *component, const char *fmt, ...)
{
    struct timeval tv;
    struct tm tm;
    char ts[32];
    char line[4096];
    va_list ap;

    if (level < log_level)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One fprintf per line so that lines of concurrent processes do not mix. */
    fprintf(stderr, "%s.%03dZ %s %s %s\n", ts, (int)(tv.tv_usec / 1000), level_names[level],
            component, line);
}
