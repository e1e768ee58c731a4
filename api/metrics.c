/*
 * metrics - GET /metrics in the Prometheus text format (0.0.4).
 *
 * Three parts. The database's figures (queue, runs, counters, histograms,
 * runners) come from one statement on the view metrics_samples, whose
 * result is kept for METRICS_CACHE_MS so that several scrapers cost one
 * statement a second. The API's own requests are counted here, in the
 * process, by route pattern (never the raw path, so the number of series
 * is bounded by the route table). The process figures are read from /proc
 * at each scrape.
 */
#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/http.h>

#include "handlers.h"
#include "queries.h"

#define METRICS_CACHE_MS 1000
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds of the request duration buckets, in seconds. */
static const double metrics_http_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10};
#define METRICS_NLE GW_ARRAY_LEN(metrics_http_le)

/* Replies by method, route and status code. */
typedef struct {
    const char *method;
    const char *route;
    int code;
    uint64_t count;
} metrics_counter_t;

/* Reply durations by method and route. */
typedef struct {
    const char *method;
    const char *route;
    uint64_t bucket[METRICS_NLE]; /* observations <= le, each counted once */
    uint64_t count;
    double sum;
} metrics_histogram_t;

/* The API serves from one thread: no locking. */
static struct {
    metrics_counter_t *counters;
    size_t ncounters;
    metrics_histogram_t *histograms;
    size_t nhistograms;
    char *db_text; /* the database part as last rendered */
    int64_t db_at_ms;
} metrics;

static const struct {
    const char *name;
    const char *type;
    const char *help;
} metrics_families[] = {
    {"gitweave_queue_depth", "gauge", "Runs waiting in the queue."},
    {"gitweave_queue_oldest_seconds", "gauge",
     "Age of the oldest queued run, 0 when the queue is empty."},
    {"gitweave_runs_running", "gauge", "Runs being executed."},
    {"gitweave_runs_total", "counter", "Runs that reached a final status, by status."},
    {"gitweave_jobs_total", "counter", "Jobs that reached a final status, by status."},
    {"gitweave_runs_lost_total", "counter",
     "Runs failed as runner lost: their runner stopped renewing its lease."},
    {"gitweave_pickup_seconds", "histogram",
     "Time from queued to claimed, of the runs that ended in the last hour."},
    {"gitweave_run_duration_seconds", "histogram",
     "Time from claimed to ended, of the runs that ended in the last hour, by status."},
    {"gitweave_runners", "gauge",
     "Registered runners by status (offline: not seen within "
     "its lease)."},
    {"gitweave_runner_paused", "gauge", "1 when the runner is paused."},
    {"gitweave_runner_slots", "gauge", "Runs the runner can execute at once."},
    {"gitweave_runner_busy_slots", "gauge", "Runs the runner is executing."},
    {"gitweave_runs_waiting", "gauge", "Queued runs by the reason they wait."},
    {"gitweave_runner_labels", "gauge", "1 per runner, its labels comma-separated."},
    {"gitweave_log_stored_bytes", "gauge", "Bytes the logs table takes on disk, with its TOAST."},
    {"gitweave_log_stored_rows", "gauge", "Stored log chunks (the planner's estimate)."},
    {"gitweave_log_search_index_bytes", "gauge", "Bytes of the log search index."},
};

/* Method names as labels: a fixed set, whatever a client sends. */
static const char *
metrics_method(const http_req_t *r)
{
    switch (r->method_bit) {
    case EVHTTP_REQ_GET:
        return strcmp(r->method, "HEAD") == 0 ? "HEAD" : "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    default:
        return "other";
    }
}

void
metrics_observe(const http_req_t *r, int status, int64_t ms)
{
    const char *method = metrics_method(r);
    /* Patterns are static strings of the route table: compared by address. */
    const char *route = r->route != NULL ? r->route : "none";
    metrics_counter_t *c = NULL;
    metrics_histogram_t *h = NULL;
    double secs = (double)ms / 1000.0;

    for (size_t i = 0; i < metrics.ncounters && c == NULL; i++)
        if (metrics.counters[i].route == route && metrics.counters[i].method == method &&
            metrics.counters[i].code == status)
            c = &metrics.counters[i];
    if (c == NULL) {
        metrics.counters =
            xrealloc(metrics.counters, (metrics.ncounters + 1) * sizeof(*metrics.counters));
        c = &metrics.counters[metrics.ncounters++];
        *c = (metrics_counter_t){.method = method, .route = route, .code = status};
    }
    c->count++;

    for (size_t i = 0; i < metrics.nhistograms && h == NULL; i++)
        if (metrics.histograms[i].route == route && metrics.histograms[i].method == method)
            h = &metrics.histograms[i];
    if (h == NULL) {
        metrics.histograms =
            xrealloc(metrics.histograms, (metrics.nhistograms + 1) * sizeof(*metrics.histograms));
        h = &metrics.histograms[metrics.nhistograms++];
        *h = (metrics_histogram_t){.method = method, .route = route};
    }
    for (size_t i = 0; i < METRICS_NLE; i++)
        if (secs <= metrics_http_le[i]) {
            h->bucket[i]++;
            break;
        }
    h->count++;
    h->sum += secs;
}

static void
metrics_render_http(buf_t *b)
{
    buf_puts(b, "# HELP gitweave_http_requests_total Replies of the API by method, route "
                "pattern and status code.\n# TYPE gitweave_http_requests_total counter\n");
    for (size_t i = 0; i < metrics.ncounters; i++) {
        const metrics_counter_t *c = &metrics.counters[i];
        buf_printf(b, "gitweave_http_requests_total{method=\"%s\",route=\"%s\",code=\"%d\"} %llu\n",
                   c->method, c->route, c->code, (unsigned long long)c->count);
    }
    buf_puts(b, "# HELP gitweave_http_request_duration_seconds Time from a request's arrival "
                "to its reply, by method and route pattern.\n"
                "# TYPE gitweave_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < metrics.nhistograms; i++) {
        const metrics_histogram_t *h = &metrics.histograms[i];
        uint64_t cum = 0;

        for (size_t k = 0; k < METRICS_NLE; k++) {
            cum += h->bucket[k];
            buf_printf(b,
                       "gitweave_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                       "le=\"%g\"} %llu\n",
                       h->method, h->route, metrics_http_le[k], (unsigned long long)cum);
        }
        buf_printf(b,
                   "gitweave_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                   "le=\"+Inf\"} %llu\n",
                   h->method, h->route, (unsigned long long)h->count);
        buf_printf(b,
                   "gitweave_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n",
                   h->method, h->route, h->sum);
        buf_printf(b,
                   "gitweave_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} "
                   "%llu\n",
                   h->method, h->route, (unsigned long long)h->count);
    }
}

/* The process metrics every Prometheus client library exports, from /proc. */
static void
metrics_render_process(buf_t *b)
{
    long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
    unsigned long long vm_pages = 0, rss_pages = 0, utime = 0, stime = 0, start = 0, btime = 0;
    char line[1024];
    FILE *f;
    DIR *d;
    struct rlimit rl;
    long fds = 0;

    if ((f = fopen("/proc/self/statm", "r")) != NULL) {
        if (fscanf(f, "%llu %llu", &vm_pages, &rss_pages) != 2)
            vm_pages = rss_pages = 0;
        fclose(f);
    }
    /* Fields after the command name (which may hold spaces): the 14th and
     * 15th of the line are the CPU times, the 22nd the start in ticks
     * after boot. */
    if ((f = fopen("/proc/self/stat", "r")) != NULL) {
        if (fgets(line, sizeof(line), f) != NULL) {
            const char *p = strrchr(line, ')');
            if (p == NULL ||
                sscanf(p + 2,
                       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
                       "%*d %*d %*d %llu",
                       &utime, &stime, &start) != 3)
                utime = stime = start = 0;
        }
        fclose(f);
    }
    if ((f = fopen("/proc/stat", "r")) != NULL) {
        while (fgets(line, sizeof(line), f) != NULL)
            if (sscanf(line, "btime %llu", &btime) == 1)
                break;
        fclose(f);
    }
    if ((d = opendir("/proc/self/fd")) != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                fds++;
        closedir(d);
        fds--; /* the directory's own descriptor */
    }
    buf_printf(b,
               "# HELP process_cpu_seconds_total User and system CPU time spent.\n"
               "# TYPE process_cpu_seconds_total counter\n"
               "process_cpu_seconds_total %.2f\n",
               (double)(utime + stime) / (double)ticks);
    buf_printf(b,
               "# HELP process_resident_memory_bytes Resident memory size.\n"
               "# TYPE process_resident_memory_bytes gauge\n"
               "process_resident_memory_bytes %llu\n"
               "# HELP process_virtual_memory_bytes Virtual memory size.\n"
               "# TYPE process_virtual_memory_bytes gauge\n"
               "process_virtual_memory_bytes %llu\n",
               rss_pages * (unsigned long long)page, vm_pages * (unsigned long long)page);
    buf_printf(b,
               "# HELP process_open_fds Open file descriptors.\n"
               "# TYPE process_open_fds gauge\n"
               "process_open_fds %ld\n",
               fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        buf_printf(b,
                   "# HELP process_max_fds Limit of open file descriptors.\n"
                   "# TYPE process_max_fds gauge\n"
                   "process_max_fds %llu\n",
                   (unsigned long long)rl.rlim_cur);
    buf_printf(b,
               "# HELP process_start_time_seconds Start of the process since the Unix epoch.\n"
               "# TYPE process_start_time_seconds gauge\n"
               "process_start_time_seconds %.2f\n",
               (double)btime + (double)start / (double)ticks);
}

/* The rows of metrics_samples (family, sample, labels, value) as text,
 * with HELP and TYPE before each family. */
static char *
metrics_render_db(const PGresult *res)
{
    const char *family = "";
    buf_t b;

    buf_init(&b);
    for (int i = 0; i < PQntuples(res); i++) {
        const char *fam = PQgetvalue(res, i, 0), *labels = PQgetvalue(res, i, 2);

        if (strcmp(fam, family) != 0) {
            family = fam;
            for (size_t k = 0; k < GW_ARRAY_LEN(metrics_families); k++)
                if (strcmp(metrics_families[k].name, fam) == 0)
                    buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", fam, metrics_families[k].help,
                               fam, metrics_families[k].type);
        }
        buf_puts(&b, PQgetvalue(res, i, 1));
        if (labels[0] != '\0')
            buf_printf(&b, "{%s}", labels);
        buf_printf(&b, " %s\n", PQgetvalue(res, i, 3));
    }
    return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

static void
metrics_reply(http_req_t *r)
{
    buf_t b;

    buf_init(&b);
    buf_puts(&b, metrics.db_text);
    metrics_render_http(&b);
    metrics_render_process(&b);
    http_reply_raw(r, 200, METRICS_CONTENT_TYPE, b.data, b.len);
    buf_free(&b);
}

static void
metrics_db_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res == NULL)
        return;
    free(metrics.db_text);
    metrics.db_text = metrics_render_db(res);
    metrics.db_at_ms = gw_now_ms();
    metrics_reply(r);
}

void
metrics_get(http_req_t *r)
{
    if (metrics.db_text != NULL && gw_now_ms() - metrics.db_at_ms < METRICS_CACHE_MS) {
        metrics_reply(r);
        return;
    }
    http_db_async(r, "read metrics", STMT_METRICS, 0, NULL, metrics_db_done, NULL);
}
