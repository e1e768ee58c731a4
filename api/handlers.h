/*
 * handlers - the API's endpoints, one group per resource file.
 *
 * Each handler answers its request with exactly one reply (http.h). Path
 * parameters are in r->params, already decoded and validated by the router
 * (names with gw_name_valid, ids with gw_uuid_valid); the query string is
 * in r->query.
 */
#ifndef GW_API_HANDLERS_H
#define GW_API_HANDLERS_H

#include "http.h"

/* health.c: GET /healthz, GET /readyz */
void health_live(http_req_t *r);
void health_ready(http_req_t *r);

/* repos.c: GET /repos, GET|PUT|DELETE /repos/{repo} */
void repos_list(http_req_t *r);
void repos_get(http_req_t *r);
void repos_put(http_req_t *r);
void repos_delete(http_req_t *r);
/* An http_db_fn: 200 with the repo JSON of row 0, or 404 for r->params[0]. */
void repos_get_done(http_req_t *r, const PGresult *res, void *ctx);

/* templates.c: GET /templates, GET|PUT|DELETE /templates/{template} */
void templates_list(http_req_t *r);
void templates_get(http_req_t *r);
void templates_put(http_req_t *r);
void templates_delete(http_req_t *r);

/* attach.c: GET /repos/{repo}/templates, PUT|DELETE /repos/{repo}/templates/{template} */
void attach_list(http_req_t *r);
void attach_put(http_req_t *r);
void attach_delete(http_req_t *r);

/* trigger.c: POST /repos/{repo}/pipelines/run, POST /repos/{repo}/hooks/push */
void trigger_manual(http_req_t *r);
void trigger_push(http_req_t *r);

/* runs.c: GET /repos/{repo}/pipelines/runs, GET /pipelines/runs, GET /pipelines/runs/{run},
 * POST /pipelines/runs/{run}/cancel, POST /pipelines/runs/{run}/rerun */
void runs_list(http_req_t *r);
void runs_list_all(http_req_t *r);
void runs_get(http_req_t *r);
void runs_cancel(http_req_t *r);
void runs_rerun(http_req_t *r);

/* ids.c: GET /ids?prefix= (the runs and jobs whose id starts with it) */
void ids_find(http_req_t *r);

/* logs.c: GET /jobs/{job}/logs (JSON pages, or live as Server-Sent
 * Events, or text), GET /jobs/{job}/logs.txt */
void logs_get(http_req_t *r);
void logs_text(http_req_t *r);

/* repo_retention.c: PUT /repos/{repo}/log-retention */
void repo_retention_put(http_req_t *r);

/* schedules.c: GET /repos/{repo}/schedules */
void schedules_list(http_req_t *r);

/* search.c: GET /logs/search */
void search_logs(http_req_t *r);

/* events.c: GET /events, GET /pipelines/runs/{run}/events (Server-Sent
 * Events) */
void events_stream(http_req_t *r);
void events_run(http_req_t *r);

/* runners.c: GET /runners, POST /runners/{runner}/pause|resume,
 * DELETE /runners/{runner} */
void runners_list(http_req_t *r);
void runners_pause(http_req_t *r);
void runners_resume(http_req_t *r);
void runners_delete(http_req_t *r);

/* secrets.c: GET /repos/{repo}/secrets, PUT|DELETE /repos/{repo}/secrets/{secret},
 * GET /secrets, PUT|DELETE /secrets/{secret} */
void secrets_list_repo(http_req_t *r);
void secrets_put_repo(http_req_t *r);
void secrets_delete_repo(http_req_t *r);
void secrets_list_global(http_req_t *r);
void secrets_put_global(http_req_t *r);
void secrets_delete_global(http_req_t *r);

/* metrics.c: GET /metrics (Prometheus text); http_req_t replies count here */
void metrics_get(http_req_t *r);
void metrics_observe(const http_req_t *r, int status, int64_t ms);

/* ui.c: the web page: GET / and the page addresses (/runs/{run}, ...),
 * which all answer its HTML shell, and GET /ui/{version}/{asset}. Public:
 * the page asks for the token itself. */
void ui_page(http_req_t *r);
void ui_asset(http_req_t *r);

/* openapi.c: GET /api/v1/openapi.yaml */
void openapi_get(http_req_t *r);

#endif
