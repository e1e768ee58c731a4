/*
 * gw_listen - print every event on the gitweave_events channel, one JSON
 * payload a line, for the tests (and for anyone curious):
 *   gw_listen SECONDS   (DATABASE_URL from the environment)
 * Prints "listening" on stderr once LISTEN is in effect, then payloads; exits after
 * SECONDS or on SIGTERM.
 */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "db.h"
#include "events.h"
#include "log.h"

int
main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 60;
    const char *url = getenv("DATABASE_URL");
    PGconn *c = db_connect(url ? url : "", "gw_listen");

    if (c == NULL)
        return 1;
    if (db_command(c, "listen", "LISTEN " EV_CHANNEL, 0, NULL) < 0)
        return 1;
    fprintf(stderr, "listening\n");
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end) {
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
        if (poll(&p, 1, 200) < 0)
            break;
        if (!PQconsumeInput(c))
            break;
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL) {
            printf("%s\n", n->extra);
            fflush(stdout);
            PQfreemem(n);
        }
    }
    PQfinish(c);
    return 0;
}
