/*
 * hook - gitweave-hook's post-receive: settings, token, one POST per ref
 * with retries, and what it prints. Messages and behaviour are those of
 * docs/examples/git-hooks/post-receive.sh; test_push_hook.sh runs both.
 */
#include "hook.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

extern char **environ;

/* One POST may take this long (curl -m 10 in the shell hook). */
#define HOOK_TIMEOUT_MS 10000
#define HOOK_RETRY_DEFAULT 30
#define HOOK_RETRY_MAX 86400

static void hook_say(const char *fmt, ...) GW_PRINTF(1, 2);

static void
hook_say(const char *fmt, ...)
{
    va_list ap;

    fputs("gitweave: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The environment variable, or NULL when unset or empty. */
static const char *
hook_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static void
hook_set(char **field, const char *value)
{
    free(*field);
    *field = value != NULL ? xstrdup(value) : NULL;
}

/* Clear and free a string that may hold the token. */
static void
hook_wipe(char **s)
{
    if (*s != NULL)
        memset(*s, 0, strlen(*s));
    free(*s);
    *s = NULL;
}

void
hook_settings_free(hook_settings_t *s)
{
    free(s->url);
    free(s->retry);
    free(s->repo);
    free(s->tokenfile);
    hook_wipe(&s->token);
    free(s->token_origin);
    memset(s, 0, sizeof(*s));
}

/* Store gitweave.KEY = value (key lowercased) in s. */
static void
hook_settings_put(hook_settings_t *s, const char *key, const char *value, const char *origin)
{
    if (strcmp(key, "url") == 0) {
        hook_set(&s->url, value);
    } else if (strcmp(key, "retryseconds") == 0) {
        hook_set(&s->retry, value);
    } else if (strcmp(key, "repo") == 0) {
        hook_set(&s->repo, value);
    } else if (strcmp(key, "tokenfile") == 0) {
        hook_set(&s->tokenfile, value);
    } else if (strcmp(key, "token") == 0) {
        hook_wipe(&s->token);
        s->token = xstrdup(value);
        hook_set(&s->token_origin, origin);
    }
}

/* ---- git's config syntax (config.c's parser, for what the hook needs) ---- */

typedef struct {
    const char *p, *end;
} hook_cursor_t;

static int
hook_next(hook_cursor_t *c)
{
    int ch;

    if (c->p >= c->end)
        return '\n'; /* the last line may have no newline */
    ch = (unsigned char)*c->p++;
    if (ch == '\r' && c->p < c->end && *c->p == '\n')
        ch = (unsigned char)*c->p++;
    return ch;
}

/* A value after '=' up to its line's end, into out; 0 or -1. */
static int
hook_value(hook_cursor_t *c, buf_t *out)
{
    int quote = 0, comment = 0;
    size_t space = 0;

    buf_reset(out);
    for (;;) {
        int ch = hook_next(c);
        if (ch == '\n') {
            return quote ? -1 : 0;
        }
        if (comment)
            continue;
        if (isspace(ch) && !quote) {
            if (out->len > 0)
                space++;
            continue;
        }
        if (!quote && (ch == ';' || ch == '#')) {
            comment = 1;
            continue;
        }
        for (; space > 0; space--)
            buf_puts(out, " ");
        if (ch == '\\') {
            ch = hook_next(c);
            if (ch == '\n')
                continue;
            if (ch == 't')
                ch = '\t';
            else if (ch == 'b')
                ch = '\b';
            else if (ch == 'n')
                ch = '\n';
            else if (ch != '\\' && ch != '"')
                return -1;
            buf_append(out, (char[]){(char)ch}, 1);
            continue;
        }
        if (ch == '"') {
            quote = !quote;
            continue;
        }
        buf_append(out, (char[]){(char)ch}, 1);
    }
}

int
hook_config_parse(const char *text, size_t len, const char *origin, hook_settings_t *s)
{
    hook_cursor_t c = {.p = text, .end = text + len};
    char section[64] = "";
    bool ours = false;
    buf_t name, value;
    int rc = -1;

    buf_init(&name);
    buf_init(&value);
    while (c.p < c.end) {
        int ch = hook_next(&c);
        size_t n = 0;

        if (ch == '\n' || isspace(ch))
            continue;
        if (ch == '#' || ch == ';') {
            while ((ch = hook_next(&c)) != '\n')
                ;
            continue;
        }
        if (ch == '[') {
            /* [name], [name "sub"] or [name.sub]: only a bare [gitweave] is ours. */
            bool sub = false;
            while ((ch = hook_next(&c)) != ']') {
                if (ch == '\n')
                    goto done;
                if (ch == '"' || ch == '.' || isspace(ch)) {
                    sub = true;
                    while (ch != ']') {
                        if (ch == '\\')
                            ch = hook_next(&c);
                        if (ch == '\n')
                            goto done;
                        ch = hook_next(&c);
                    }
                    break;
                }
                if (!isalnum(ch) && ch != '-')
                    goto done;
                if (n + 1 < sizeof(section))
                    section[n++] = (char)tolower(ch);
            }
            section[n] = '\0';
            if (strcmp(section, "include") == 0 || strcmp(section, "includeif") == 0) {
                rc = 1;
                goto done;
            }
            ours = !sub && strcmp(section, "gitweave") == 0;
            continue;
        }
        if (!isalpha(ch) || section[0] == '\0')
            goto done;
        buf_reset(&name);
        while (isalnum(ch) || ch == '-') {
            buf_append(&name, (char[]){(char)tolower(ch)}, 1);
            ch = hook_next(&c);
        }
        while (ch == ' ' || ch == '\t')
            ch = hook_next(&c);
        if (ch == '=') {
            if (hook_value(&c, &value) < 0)
                goto done;
        } else if (ch == '\n' || ch == '#' || ch == ';') {
            /* A key without a value (true for git): an empty setting here. */
            while (ch != '\n')
                ch = hook_next(&c);
            buf_reset(&value);
        } else {
            goto done;
        }
        if (ours)
            hook_settings_put(s, name.data, value.data ? value.data : "", origin);
    }
    rc = 0;
done:
    buf_free(&name);
    if (value.data != NULL)
        memset(value.data, 0, value.len);
    buf_free(&value);
    return rc;
}

/*
 * Run argv (found on the PATH) with input on its stdin, its stdout (and
 * stderr with both) into out. Returns its exit status, or -1 when it
 * could not start.
 */
static int
hook_run(char *const argv[], const char *input, bool both, buf_t *out)
{
    posix_spawn_file_actions_t fa;
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, status = -1;
    pid_t pid;
    size_t left = input != NULL ? strlen(input) : 0;

    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0)
        goto done;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    if (both)
        posix_spawn_file_actions_adddup2(&fa, outp[1], 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        goto done;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(outp[1]);
    in[0] = outp[1] = -1;
    /* What curl reads is a few hundred bytes: it fits in the pipe. */
    while (left > 0) {
        ssize_t n = write(in[1], input, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        input += n;
        left -= (size_t)n;
    }
    close(in[1]);
    in[1] = -1;
    for (;;) {
        char chunk[4096];
        ssize_t n = read(outp[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        buf_append(out, chunk, (size_t)n);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
done:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (outp[i] >= 0)
            close(outp[i]);
    }
    return status;
}

/* Read the whole file at path into out; 0, or -1 when it is not there. */
static int
hook_slurp(const char *path, buf_t *out)
{
    FILE *f = fopen(path, "re");
    char chunk[4096];
    size_t n;

    if (f == NULL)
        return -1;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(out, chunk, n);
    fclose(f);
    return 0;
}

/* The settings from `git config` itself: every file git reads, includes and all. */
static int
hook_config_git(hook_settings_t *s)
{
    char *argv[] = {"git", "config", "-z", "--show-origin", "--get-regexp", "^gitweave\\.", NULL};
    buf_t out;
    size_t i = 0;
    int rc;

    buf_init(&out);
    rc = hook_run(argv, NULL, false, &out);
    /* Records: "file:PATH\0gitweave.KEY\nVALUE\0" (1: no key matched). */
    while (rc >= 0 && rc <= 1 && i < out.len) {
        const char *origin = out.data + i, *entry;
        char *nl;
        i += strlen(origin) + 1;
        if (i >= out.len)
            break;
        entry = out.data + i;
        i += strlen(entry) + 1;
        nl = strchr(entry, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (strncmp(origin, "file:", 5) == 0)
            origin += 5;
        if (strncmp(entry, "gitweave.", strlen("gitweave.")) != 0)
            continue;
        hook_settings_put(s, entry + strlen("gitweave."), nl != NULL ? nl + 1 : "", origin);
    }
    if (out.data != NULL)
        memset(out.data, 0, out.len);
    buf_free(&out);
    return rc >= 0 && rc <= 1 ? 0 : -1;
}

/*
 * The settings from the files git reads, in its order (system, global,
 * the repository's); the last of a key wins. When one has an include, or
 * git is told of settings in the environment, `git config` reads them all.
 */
static void
hook_config(hook_settings_t *s)
{
    const char *gitdir = hook_env("GIT_DIR") ? hook_env("GIT_DIR") : ".";
    const char *home = hook_env("HOME"), *xdg = hook_env("XDG_CONFIG_HOME");
    const char *nosys = getenv("GIT_CONFIG_NOSYSTEM"), *sys = getenv("GIT_CONFIG_SYSTEM");
    const char *global = getenv("GIT_CONFIG_GLOBAL");
    char *files[5] = {0};
    size_t n = 0;

    if (hook_env("GIT_CONFIG_COUNT") || hook_env("GIT_CONFIG_PARAMETERS"))
        goto git;
    if (nosys == NULL || strcmp(nosys, "") == 0 || strcmp(nosys, "0") == 0 ||
        strcasecmp(nosys, "false") == 0)
        files[n++] = xstrdup(sys != NULL ? sys : "/etc/gitconfig");
    if (global != NULL) {
        files[n++] = xstrdup(global);
    } else {
        if (xdg != NULL)
            files[n++] = xasprintf("%s/git/config", xdg);
        else if (home != NULL)
            files[n++] = xasprintf("%s/.config/git/config", home);
        if (home != NULL)
            files[n++] = xasprintf("%s/.gitconfig", home);
    }
    files[n++] = xasprintf("%s/config", gitdir);
    for (size_t i = 0; i < n; i++) {
        buf_t text;
        int rc;
        buf_init(&text);
        rc = files[i][0] != '\0' && hook_slurp(files[i], &text) == 0
                 ? hook_config_parse(text.data ? text.data : "", text.len, files[i], s)
                 : 0;
        if (text.data != NULL)
            memset(text.data, 0, text.len);
        buf_free(&text);
        if (rc != 0) {
            for (size_t j = 0; j < n; j++)
                free(files[j]);
            hook_settings_free(s);
            goto git;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    return;
git:
    if (hook_config_git(s) < 0)
        hook_say("could not read the settings with git config");
}

/* Whether only the owner may read path (mode [0-7]00). */
static bool
hook_private_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && (st.st_mode & 077) == 0;
}

/* s in double quotes with a \ before each " and \: a value of curl's config. */
static void
hook_quote(buf_t *out, const char *s)
{
    buf_puts(out, "\"");
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            buf_puts(out, "\\");
        buf_append(out, s, 1);
    }
    buf_puts(out, "\"");
}

/*
 * POST body to endpoint: our own HTTP for http://, curl for anything else
 * (its config, the token in it, on its stdin). Sets *code (0 when nothing
 * answered) and reply (the API's answer, or why nothing did).
 */
static void
hook_post(const char *endpoint, const char *auth, const char *body, long *code, buf_t *reply)
{
    char err[256];

    buf_reset(reply);
    *code = 0;
    if (strncmp(endpoint, "http://", 7) == 0) {
        if (hook_http_post(endpoint, auth, body, HOOK_TIMEOUT_MS, code, reply, err, sizeof(err)) <
            0) {
            buf_reset(reply);
            buf_puts(reply, err);
        }
        return;
    } else {
        char *argv[] = {"curl", "-sS", "-m", "10", "-K", "-", "-w", "\n%{http_code}", NULL};
        buf_t conf;
        char *nl;
        int rc;

        buf_init(&conf);
        buf_puts(&conf, "url = ");
        hook_quote(&conf, endpoint);
        buf_puts(&conf, "\nheader = \"Content-Type: application/json\"\n");
        if (auth != NULL) {
            buf_puts(&conf, "header = ");
            hook_quote(&conf, auth);
            buf_puts(&conf, "\n");
        }
        buf_puts(&conf, "data-binary = ");
        hook_quote(&conf, body);
        buf_puts(&conf, "\n");
        rc = hook_run(argv, conf.data, true, reply);
        memset(conf.data, 0, conf.len);
        buf_free(&conf);
        if (rc < 0) {
            buf_reset(reply);
            buf_puts(reply, "could not run curl");
            return;
        }
        nl = reply->data != NULL ? strrchr(reply->data, '\n') : NULL;
        if (nl != NULL) {
            *code = strtol(nl + 1, NULL, 10);
            reply->len = (size_t)(nl - reply->data);
            *nl = '\0';
        }
    }
}

/* What the hook carries from ref to ref. */
typedef struct {
    char *url, *endpoint, *auth;
    long retry;
    time_t deadline; /* set by the first failed try, shared by every ref */
    buf_t lost;      /* "OLD NEW REF\n" of the refs the API never took */
} hook_t;

/* POST body for ref, trying again while the API is down; sets *code and reply. */
static void
hook_post_retrying(hook_t *h, const char *ref, const char *body, long *code, buf_t *reply)
{
    long wait = 1;

    for (;;) {
        time_t now, left;
        hook_post(h->endpoint, h->auth, body, code, reply);
        if (*code != 0 && *code != 502 && *code != 503 && *code != 504)
            return;
        now = time(NULL);
        if (h->deadline == 0)
            h->deadline = now + h->retry;
        left = h->deadline - now;
        if (left <= 0)
            return;
        if (wait > left)
            wait = (long)left;
        if (*code == 0)
            hook_say("%s: the API did not answer (%.*s HTTP 000); trying again in %lds", ref,
                     (int)strcspn(reply->data ? reply->data : "", "\n"),
                     reply->data ? reply->data : "", wait);
        else
            hook_say("%s: the API did not answer (HTTP %ld); trying again in %lds", ref, *code,
                     wait);
        sleep((unsigned)wait);
        if (wait < 8)
            wait *= 2;
    }
}

/* Print what the API's reply to a push says: the runs started and why others did not. */
static void
hook_print_runs(const hook_t *h, const char *ref, const buf_t *reply)
{
    cJSON *o = cJSON_ParseWithLength(reply->data ? reply->data : "", reply->len);
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(o, "runs"), *it;

    hook_say("%s: %d pipeline run(s) started", ref, cJSON_GetArraySize(runs));
    cJSON_ArrayForEach(it, runs)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(it, "template");
        const char *ids = cJSON_IsString(id) ? id->valuestring : "?";
        hook_say("  run %s (%s) %s/runs/%s", ids, cJSON_IsString(tpl) ? tpl->valuestring : "?",
                 h->url, ids);
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "templates"))
    {
        const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(it, "template");
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(it, "reason");
        const cJSON *detail = cJSON_GetObjectItemCaseSensitive(it, "detail");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "started")))
            continue;
        hook_say("  %s: not started (%s%s%s)", cJSON_IsString(tpl) ? tpl->valuestring : "?",
                 cJSON_IsString(reason) ? reason->valuestring : "null",
                 cJSON_IsString(detail) ? ": " : "",
                 cJSON_IsString(detail) ? detail->valuestring : "");
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "warnings"))
    {
        if (cJSON_IsString(it))
            hook_say("  warning: %s (the run waits for one)", it->valuestring);
    }
    cJSON_Delete(o);
}

/* The API's error and detail, or the first line of what it said. */
static void
hook_print_error(const char *ref, long code, const buf_t *reply)
{
    cJSON *o = cJSON_ParseWithLength(reply->data ? reply->data : "", reply->len);
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(o, "error");
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(o, "detail");

    if (cJSON_IsString(error))
        hook_say("%s: the API answered %ld: %s: %s", ref, code, error->valuestring,
                 cJSON_IsString(detail) ? detail->valuestring : "null");
    else
        hook_say("%s: the API answered %ld: %.*s", ref, code,
                 (int)strcspn(reply->data ? reply->data : "", "\n"),
                 reply->data ? reply->data : "");
    cJSON_Delete(o);
}

/* s in single quotes for sh, each ' written as '\''. */
static void
hook_sh_quote(buf_t *out, const char *s)
{
    buf_puts(out, "'");
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            buf_puts(out, "'\\''");
        else
            buf_append(out, s, 1);
    }
    buf_puts(out, "'");
}

/* The commit an annotated tag points to (git rev-parse), else after itself. */
static char *
hook_peel(const char *after)
{
    char *spec = xasprintf("%s^{commit}", after);
    char *argv[] = {"git", "rev-parse", "-q", "--verify", spec, NULL};
    buf_t out;
    char *commit;

    buf_init(&out);
    if (hook_run(argv, NULL, false, &out) == 0 && out.len >= 40)
        commit = xstrndup(out.data, strcspn(out.data, "\n"));
    else
        commit = xstrdup(after);
    buf_free(&out);
    free(spec);
    return commit;
}

/* Whether s is one or more hex digits (an object name). */
static bool
hook_hex(const char *s)
{
    return s[0] != '\0' && strspn(s, "0123456789abcdef") == strlen(s);
}

/* Say which refs were lost and print the command that replays them. */
static void
hook_print_lost(const hook_t *h, const char *self)
{
    char *cwd = getcwd(NULL, 0);
    const char *p = h->lost.data;
    buf_t cmd;

    buf_init(&cmd);
    hook_say("ERROR: the API at %s could not be reached for %lds; no pipeline started for:", h->url,
             h->retry);
    buf_puts(&cmd, "  cd ");
    hook_sh_quote(&cmd, cwd != NULL ? cwd : ".");
    buf_puts(&cmd, " && printf '%s\\n'");
    while (*p != '\0') {
        size_t n = strcspn(p, "\n");
        char *line = xstrndup(p, n);
        const char *ref = strrchr(line, ' ');
        hook_say("  %s", ref != NULL ? ref + 1 : line);
        buf_puts(&cmd, " ");
        hook_sh_quote(&cmd, line);
        free(line);
        p += n + (p[n] == '\n');
    }
    buf_puts(&cmd, " | ");
    hook_sh_quote(&cmd, self);
    buf_puts(&cmd, " post-receive");
    hook_say("when the API is back, run by hand:");
    hook_say("%s", cmd.data);
    buf_free(&cmd);
    free(cwd);
}

/* The repository's name: gitweave.repo, else its folder's name without .git. */
static char *
hook_repo_name(const hook_settings_t *s)
{
    char *cwd, *base, *name;
    size_t n;

    if (hook_env("GITWEAVE_REPO") != NULL)
        return xstrdup(hook_env("GITWEAVE_REPO"));
    if (s->repo != NULL && s->repo[0] != '\0')
        return xstrdup(s->repo);
    cwd = getcwd(NULL, 0);
    if (cwd == NULL)
        return xstrdup("");
    base = strrchr(cwd, '/') != NULL ? strrchr(cwd, '/') + 1 : cwd;
    n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".git") == 0)
        n -= 4;
    name = xstrndup(base, n);
    free(cwd);
    return name;
}

/* The token: the environment, a private token file, or a private config. Returns 0 or -1. */
static int
hook_token(hook_settings_t *s, char **token)
{
    const char *tokenfile = hook_env("GITWEAVE_API_TOKEN_FILE");

    *token = NULL;
    if (hook_env("GITWEAVE_API_TOKEN") != NULL) {
        *token = xstrdup(hook_env("GITWEAVE_API_TOKEN"));
        return 0;
    }
    if (tokenfile == NULL && s->tokenfile != NULL && s->tokenfile[0] != '\0')
        tokenfile = s->tokenfile;
    if (tokenfile != NULL) {
        buf_t text;
        if (!hook_private_file(tokenfile)) {
            hook_say("token file \"%s\" is missing or readable by others (chmod 600 it); no "
                     "pipeline started",
                     tokenfile);
            return -1;
        }
        buf_init(&text);
        if (hook_slurp(tokenfile, &text) == 0 && text.len > 0) {
            *token = xstrndup(text.data, strcspn(text.data, "\r\n"));
            memset(text.data, 0, text.len);
        }
        buf_free(&text);
        if (*token != NULL && (*token)[0] != '\0')
            return 0;
        hook_wipe(token);
    }
    if (s->token != NULL) {
        const char *origin = s->token_origin != NULL ? s->token_origin : "config";
        if (!hook_private_file(origin)) {
            hook_say("gitweave.token is in \"%s\", which is readable by others; chmod 600 it or "
                     "use gitweave.tokenfile; no pipeline started",
                     origin);
            return -1;
        }
        *token = xstrdup(s->token);
    }
    return 0;
}

/* Whether s holds a control character. */
static bool
hook_has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if (iscntrl((unsigned char)*s))
            return true;
    return false;
}

/* Whether an executable named name is in a folder of $PATH. */
static bool
hook_on_path(const char *name)
{
    const char *p = getenv("PATH") != NULL ? getenv("PATH") : "/usr/bin:/bin";

    for (;;) {
        size_t len = strcspn(p, ":");
        /* An empty entry is the current folder. */
        char *file = len > 0 ? xasprintf("%.*s/%s", (int)len, p, name) : xasprintf("./%s", name);
        bool found = access(file, X_OK) == 0;
        free(file);
        if (found)
            return true;
        if (p[len] == '\0')
            return false;
        p += len + 1;
    }
}

/* "%XX" for each byte of s that is not unreserved in a URL. */
static void
hook_url_escape(buf_t *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (isalnum((unsigned char)*s) || strchr("-._~", *s) != NULL)
            buf_append(out, s, 1);
        else
            buf_printf(out, "%%%02X", (unsigned char)*s);
    }
}

int
hook_post_receive(FILE *in, const char *self)
{
    hook_settings_t s = {0};
    hook_t h = {0};
    const char *retry;
    char *repo = NULL, *token = NULL, *line = NULL, *end;
    size_t cap = 0;
    ssize_t len;
    buf_t endpoint, reply;
    int rc = 0;

    buf_init(&endpoint);
    buf_init(&reply);
    buf_init(&h.lost);
    hook_config(&s);
    h.url = xstrdup(hook_env("GITWEAVE_URL") ? hook_env("GITWEAVE_URL") : s.url ? s.url : "");
    retry =
        hook_env("GITWEAVE_HOOK_RETRY_SECONDS") ? hook_env("GITWEAVE_HOOK_RETRY_SECONDS") : s.retry;
    h.retry = HOOK_RETRY_DEFAULT;
    if (retry != NULL && retry[0] != '\0') {
        h.retry = strspn(retry, "0123456789") == strlen(retry) ? strtol(retry, &end, 10) : -1;
        /* More than a day is a day (and no overflow of the deadline). */
        if (h.retry > HOOK_RETRY_MAX)
            h.retry = HOOK_RETRY_MAX;
        if (h.retry < 0) {
            hook_say("gitweave.retryseconds \"%s\" is not a number of seconds; using 30", retry);
            h.retry = HOOK_RETRY_DEFAULT;
        }
    }
    repo = hook_repo_name(&s);
    if (h.url[0] == '\0') {
        hook_say("gitweave.url is not configured; no pipeline started");
        goto done;
    }
    if (hook_token(&s, &token) < 0)
        goto done;
    hook_settings_free(&s);
    /* A line break in the token would end the Authorization header (or
     * curl's config line) and send the rest as something else. */
    if (token != NULL && hook_has_control(token)) {
        hook_say("the API token holds a control character (a line break?); no pipeline started");
        hook_wipe(&token);
        goto done;
    }
    /* An https URL goes through curl: without it, say so once, as the
     * shell hook does, rather than retrying a POST that cannot start. */
    if (strncmp(h.url, "http://", 7) != 0 && !hook_on_path("curl")) {
        hook_say("curl is not installed (it sends to an https URL); no pipeline started");
        hook_wipe(&token);
        goto done;
    }
    if (token != NULL && token[0] != '\0')
        h.auth = xasprintf("Authorization: Bearer %s", token);
    hook_wipe(&token);
    buf_printf(&endpoint, "%s/api/v1/repos/", h.url);
    hook_url_escape(&endpoint, repo);
    buf_puts(&endpoint, "/hooks/push");
    h.endpoint = buf_steal(&endpoint);

    while ((len = getline(&line, &cap, in)) >= 0) {
        char *before, *after, *ref, *save = NULL, *commit, *body;
        cJSON *o;
        long code;

        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        before = strtok_r(line, " \t", &save);
        after = strtok_r(NULL, " \t", &save);
        ref = save != NULL ? save + strspn(save, " \t") : NULL;
        if (before == NULL)
            continue;
        if (after == NULL || ref == NULL || ref[0] == '\0' || !hook_hex(before) ||
            !hook_hex(after)) {
            hook_say("%s: \"%s %s\" are not two object names; skipped", ref ? ref : "", before,
                     after ? after : "");
            continue;
        }
        if (hook_has_control(ref)) {
            hook_say("a ref name with a control character is not one git makes; skipped");
            continue;
        }
        /* An annotated tag points to a tag object: the run builds its commit. */
        commit = strncmp(ref, "refs/tags/", 10) == 0 && strspn(after, "0") != strlen(after)
                     ? hook_peel(after)
                     : xstrdup(after);
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ref", ref);
        cJSON_AddStringToObject(o, "before", before);
        cJSON_AddStringToObject(o, "after", commit);
        body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        free(commit);
        hook_post_retrying(&h, ref, body, &code, &reply);
        cJSON_free(body);
        if (code == 200 || code == 201)
            hook_print_runs(&h, ref, &reply);
        else if (code == 0 || code == 502 || code == 503 || code == 504)
            buf_printf(&h.lost, "%s %s %s\n", before, after, ref);
        else
            hook_print_error(ref, code, &reply);
        fflush(stderr);
    }
    if (h.lost.len > 0) {
        hook_print_lost(&h, self);
        rc = 1;
    }
done:
    hook_settings_free(&s);
    hook_wipe(&h.auth);
    free(h.url);
    free(h.endpoint);
    free(repo);
    free(line);
    buf_free(&endpoint);
    buf_free(&reply);
    buf_free(&h.lost);
    return rc;
}
