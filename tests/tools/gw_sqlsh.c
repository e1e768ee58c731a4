/*
 * gw_sqlsh - what `psql -X -q -A -t -c SQL` prints, for many SQL texts over
 * one connection: the tests' gw_psql (tests/lib/postgres.sh) sends its
 * checks and polls here, since a psql and the backend its connection forks
 * cost tens of milliseconds of CPU to start on a small machine and a
 * statement on an open connection a fraction of one.
 *   gw_sqlsh   (DATABASE_URL from the environment)
 * Reads SQL texts, each ended by a NUL byte, from stdin. Each runs as psql
 * -c runs it (one query string, so one implicit transaction; every result's
 * rows printed unaligned, fields split by '|', NULL as nothing). Then the
 * session is made as new again (ROLLBACK if a transaction was left open,
 * DISCARD ALL) so that no call sees what another left. Answers on stdout:
 * the rows, a NUL, what psql would print on stderr (errors, notices), a
 * NUL, and the exit status psql would have (0 or 1) on a line. A lost
 * connection is made again once, before the text is sent a second time.
 * Exits at the end of stdin or when its parent does.
 */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

static FILE *err_out; /* the messages of the text being run */

static void
notice_cb(void *arg, const char *message)
{
    (void)arg;
    fputs(message, err_out);
}

static PGconn *
connect_db(void)
{
    const char *url = getenv("DATABASE_URL");
    const char *keys[] = {"dbname", "client_encoding", "application_name", NULL};
    const char *values[] = {url ? url : "", "auto", "gw_sqlsh", NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);

    PQsetNoticeProcessor(c, notice_cb, NULL);
    return c;
}

static void
print_rows(const PGresult *r, FILE *out)
{
    int rows = PQntuples(r), cols = PQnfields(r);

    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
            if (j > 0)
                fputc('|', out);
            if (!PQgetisnull(r, i, j))
                fputs(PQgetvalue(r, i, j), out);
        }
        fputc('\n', out);
    }
}

/* Run one SQL text; its rows to out, its messages to err_out. 0 or 1 as
 * psql exits, or -1 when the connection was lost before any statement
 * succeeded (a server restarted since the last text). */
static int
run(PGconn *c, const char *sql, FILE *out)
{
    PGresult *r;
    int rc = 0, done = 0;

    if (!PQsendQuery(c, sql)) {
        if (PQstatus(c) == CONNECTION_BAD)
            return -1;
        fputs(PQerrorMessage(c), err_out);
        return 1;
    }
    while ((r = PQgetResult(c)) != NULL) {
        switch (PQresultStatus(r)) {
        case PGRES_TUPLES_OK:
            print_rows(r, out);
            done++;
            break;
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
            done++;
            break;
        case PGRES_COPY_OUT: {
            char *buf;
            int n;
            while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
                fwrite(buf, 1, (size_t)n, out);
                PQfreemem(buf);
            }
            break;
        }
        case PGRES_COPY_IN:
            PQputCopyEnd(c, "gw_sqlsh sends no COPY data: use psql");
            break;
        default:
            fputs(PQresultErrorMessage(r), err_out);
            rc = 1;
            break;
        }
        PQclear(r);
    }
    if (PQstatus(c) == CONNECTION_BAD && done == 0)
        return -1;
    return rc;
}

/* As a new session: what the text left (a transaction, settings, prepared
 * statements, temporary tables, locks, LISTENs) is gone. */
static void
reset_session(PGconn *c)
{
    PGresult *r;

    if (PQstatus(c) != CONNECTION_OK)
        return;
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    r = PQexec(c, "DISCARD ALL");
    PQclear(r);
}

int
main(void)
{
    char *sql = NULL, *out_buf = NULL, *err_buf = NULL;
    size_t sql_cap = 0, out_len = 0, err_len = 0;
    PGconn *c;

    err_out = stderr;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        return 0;
    c = connect_db();
    while (getdelim(&sql, &sql_cap, '\0', stdin) > 0) {
        int rc = -1;

        /* A second try only on a new connection, as a new psql would make. */
        for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
            FILE *out;

            free(out_buf);
            free(err_buf);
            out_buf = err_buf = NULL;
            out = open_memstream(&out_buf, &out_len);
            err_out = open_memstream(&err_buf, &err_len);
            if (out == NULL || err_out == NULL)
                return 2;
            if (attempt > 0 || PQstatus(c) != CONNECTION_OK)
                PQreset(c);
            if (PQstatus(c) == CONNECTION_OK)
                rc = run(c, sql, out);
            if (rc < 0 && attempt == 1) {
                fputs(PQerrorMessage(c), err_out);
                rc = 2;
            }
            fclose(out);
            fclose(err_out);
            err_out = stderr;
        }
        reset_session(c);
        fwrite(out_buf, 1, out_len, stdout);
        fputc('\0', stdout);
        fwrite(err_buf, 1, err_len, stdout);
        fputc('\0', stdout);
        printf("%d\n", rc);
        fflush(stdout);
    }
    free(out_buf);
    free(err_buf);
    free(sql);
    PQfinish(c);
    return 0;
}
