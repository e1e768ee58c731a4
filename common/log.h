/*
 * log - one line per event on stderr:
 *   2026-11-26T09:00:00.123Z info worker claimed run run=... attempt=1
 * The level comes from GITWEAVE_LOG_LEVEL (debug, info, warn, error).
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include "util.h"

typedef enum { GW_LOG_DEBUG, GW_LOG_INFO, GW_LOG_WARN, GW_LOG_ERROR } gw_log_level_t;

/* Read the level from the environment; call once at start. */
void gw_log_init(void);
/* The level named s ("debug", "info", "warn", "error"), or -1. */
int gw_log_level_parse(const char *s);
void gw_log_set_level(gw_log_level_t level);
void gw_log(gw_log_level_t level, const char *component, const char *fmt, ...) GW_PRINTF(3, 4);

#define log_debug(comp, ...) gw_log(GW_LOG_DEBUG, comp, __VA_ARGS__)
#define log_info(comp, ...) gw_log(GW_LOG_INFO, comp, __VA_ARGS__)
#define log_warn(comp, ...) gw_log(GW_LOG_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) gw_log(GW_LOG_ERROR, comp, __VA_ARGS__)

#endif
