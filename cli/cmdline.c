/*
 * cmdline - the command line of the gitweave client.
 *
 * A table says which words make each command, which options it takes and
 * how many positional arguments; one loop reads any command with it.
 * Options may come anywhere after the command words; --json and --help
 * also before them. "--" ends the options.
 */
#include "cmdline.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_TEMPLATE = 1u << 0,
    OPT_INPUT = 1u << 1,
    OPT_REF = 1u << 2,
    OPT_COMMIT = 1u << 3,
    OPT_FOLLOW = 1u << 4,
    OPT_STATUS = 1u << 5,
    OPT_LIMIT = 1u << 6,
    OPT_CLONE_URL = 1u << 7,
    OPT_BRANCH = 1u << 8,
    OPT_JSON = 1u << 9,
    OPT_HELP = 1u << 10,
    OPT_RAW = 1u << 11,
    OPT_REPO = 1u << 12,
    OPT_FILE = 1u << 13,
    OPT_GREP = 1u << 14,           /* grep's own: --since, --oldest, -E */
    OPT_ANY = OPT_JSON | OPT_HELP, /* every command takes these */
};

/* What an option does with its value. */
typedef enum {
    CMDLINE_FLAG,   /* sets the bool at field */
    CMDLINE_STRING, /* stores its value in the string at field, once */
    CMDLINE_INPUT,  /* NAME=VALUE, appended to inputs */
    CMDLINE_LIMIT,  /* a positive integer, in limit */
} cmdline_kind_t;

typedef struct {
    const char *name; /* long form, without "--" */
    char letter;      /* short form, or 0 */
    unsigned bit;
    cmdline_kind_t kind;
    size_t field; /* FLAG and STRING: the member of cmdline_t (offsetof) */
} cmdline_opt_t;

#define CMDLINE_FIELD(member) offsetof(cmdline_t, member)
/* No member (offset 0 would be cmd's): a row that uses it is a bug. */
#define CMDLINE_NONE SIZE_MAX

static const cmdline_opt_t cmdline_opts[] = {
    {"template", 't', OPT_TEMPLATE, CMDLINE_STRING, CMDLINE_FIELD(template_name)},
    {"input", 'i', OPT_INPUT, CMDLINE_INPUT, CMDLINE_NONE},
    {"ref", 0, OPT_REF, CMDLINE_STRING, CMDLINE_FIELD(ref)},
    {"commit", 0, OPT_COMMIT, CMDLINE_STRING, CMDLINE_FIELD(commit)},
    {"follow", 'f', OPT_FOLLOW, CMDLINE_FLAG, CMDLINE_FIELD(follow)},
    {"status", 0, OPT_STATUS, CMDLINE_STRING, CMDLINE_FIELD(status)},
    {"limit", 0, OPT_LIMIT, CMDLINE_LIMIT, CMDLINE_NONE},
    {"clone-url", 0, OPT_CLONE_URL, CMDLINE_STRING, CMDLINE_FIELD(clone_url)},
    {"branch", 0, OPT_BRANCH, CMDLINE_STRING, CMDLINE_FIELD(branch)},
    {"json", 0, OPT_JSON, CMDLINE_FLAG, CMDLINE_FIELD(json)},
    {"help", 'h', OPT_HELP, CMDLINE_FLAG, CMDLINE_FIELD(help)},
    {"raw", 0, OPT_RAW, CMDLINE_FLAG, CMDLINE_FIELD(raw)},
    {"repo", 'r', OPT_REPO, CMDLINE_STRING, CMDLINE_FIELD(repo)},
    {"file", 0, OPT_FILE, CMDLINE_STRING, CMDLINE_FIELD(file)},
    {"since", 0, OPT_GREP, CMDLINE_STRING, CMDLINE_FIELD(since)},
    {"oldest", 0, OPT_GREP, CMDLINE_FLAG, CMDLINE_FIELD(oldest)},
    {"regex", 'E', OPT_GREP, CMDLINE_FLAG, CMDLINE_FIELD(regex)},
};

#define CMDLINE_COMMON                                                                             \
    "\n  --json      print the API's JSON instead of text\n"                                       \
    "  -h, --help  this help\n"

typedef struct {
    cmdline_cmd_t cmd;
    const char *word1, *word2; /* word2 NULL for one-word commands */
    unsigned opts;
    int min_pos, max_pos;
    size_t arg1, arg2; /* the cmdline_t members of its positional arguments (max_pos used) */
    const char *usage;
} cmdline_spec_t;

static const cmdline_spec_t cmdline_specs[] = {
    {CMD_RUN, "run", NULL, OPT_TEMPLATE | OPT_INPUT | OPT_REF | OPT_COMMIT | OPT_FOLLOW | OPT_RAW,
     1, 1, CMDLINE_FIELD(repo), CMDLINE_NONE,
     "usage: gitweave run REPO [-t TEMPLATE] [-i NAME=VALUE]... [--ref REF] [--commit SHA] "
     "[-f [--raw]]\n\n"
     "Start a run of REPO and print its id. With -f, print each job's log as it is\n"
     "written and a summary line per job, and exit with the run's outcome.\n\n"
     "  -t, --template TEMPLATE  the template to run (may be left out when the repo has one)\n"
     "  -i, --input NAME=VALUE   an input value (repeatable)\n"
     "  --ref REF                the ref to build (default: the repo's default branch)\n"
     "  --commit SHA             the commit to build (default: the ref's head)\n"
     "  -f, --follow             follow the run to its end\n"
     "  --raw                    with -f, the logs' bytes unchanged, escape sequences and\n"
     "                           all (else colours pass, other controls are shown as "
     "^[)\n" CMDLINE_COMMON},
    {CMD_LOGS, "logs", NULL, OPT_FOLLOW | OPT_RAW, 1, 1, CMDLINE_FIELD(id), CMDLINE_NONE,
     "usage: gitweave logs JOB-or-RUN [-f] [--raw]\n\n"
     "Print the log of a job, or the logs of every job of a run in order.\n"
     "Escape sequences other than colours are shown, not obeyed: ESC as ^[,\n"
     "other control bytes as ^G, M-^[ and the like.\n\n"
     "  -f, --follow  keep printing as the log grows, until the end\n"
     "  --raw         the log's bytes unchanged, escape sequences and all\n" CMDLINE_COMMON},
    {CMD_RUNS, "runs", NULL, OPT_STATUS | OPT_LIMIT, 0, 1, CMDLINE_FIELD(repo), CMDLINE_NONE,
     "usage: gitweave runs [REPO] [--status STATUS] [--limit N]\n\n"
     "List the runs of REPO, or of every repo, newest first.\n\n"
     "  --status STATUS  only runs in this status (queued, running, success, failed, canceled)\n"
     "  --limit N        at most N runs (1 to 100, default 20)\n" CMDLINE_COMMON},
    {CMD_SHOW, "show", NULL, 0, 1, 1, CMDLINE_FIELD(id), CMDLINE_NONE,
     "usage: gitweave show RUN\n\nShow a run and its jobs.\n" CMDLINE_COMMON},
    {CMD_CANCEL, "cancel", NULL, 0, 1, 1, CMDLINE_FIELD(id), CMDLINE_NONE,
     "usage: gitweave cancel RUN\n\n"
     "Cancel a run: a queued one at once, a running one by its runner within a second or "
     "two.\n" CMDLINE_COMMON},
    {CMD_RERUN, "rerun", NULL, OPT_FOLLOW | OPT_RAW, 1, 1, CMDLINE_FIELD(id), CMDLINE_NONE,
     "usage: gitweave rerun RUN [-f [--raw]]\n\n"
     "Start a new run with exactly the jobs, inputs, ref and commit of a finished run\n"
     "(not the template as it is now) and print its id.\n\n"
     "  -f, --follow  follow the new run to its end, as run -f does\n"
     "  --raw         the logs' bytes unchanged, as run -f --raw\n" CMDLINE_COMMON},
    {CMD_RUNNERS, "runners", NULL, 0, 0, 0, CMDLINE_NONE, CMDLINE_NONE,
     "usage: gitweave runners\n\nList the runners and what they are doing.\n" CMDLINE_COMMON},
    {CMD_SCHEDULES, "schedules", NULL, 0, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave schedules REPO\n\n"
     "List the schedules of REPO (the on.schedule of its templates, cron in UTC): template,\n"
     "expression, next fire time, last fire time and the run it started.\n" CMDLINE_COMMON},
    {CMD_TEMPLATE_LIST, "template", "list", 0, 0, 0, CMDLINE_NONE, CMDLINE_NONE,
     "usage: gitweave template list\n\nList the templates: name, kind, version, last "
     "update.\n" CMDLINE_COMMON},
    {CMD_TEMPLATE_SHOW, "template", "show", 0, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave template show NAME\n\n"
     "Print the template as it was stored: YAML as written, comments included, or JSON.\n"
     "With --json, the API's template (its normalised document and its source).\n" CMDLINE_COMMON},
    {CMD_TEMPLATE_PUT, "template", "put", 0, 1, 2, CMDLINE_FIELD(file), CMDLINE_FIELD(name),
     "usage: gitweave template put FILE [NAME]\n\n"
     "Store the template in FILE (YAML, or JSON when the name ends in .json; \"-\" reads\n"
     "standard input as YAML) under NAME, by default the file's name without its\n"
     "extension.\n" CMDLINE_COMMON},
    {CMD_TEMPLATE_DELETE, "template", "delete", 0, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave template delete NAME\n\n"
     "Delete a template and its attachments; refused while queued or running runs use it.\n"
     "The runs that used it keep their history.\n" CMDLINE_COMMON},
    {CMD_REPO_LIST, "repo", "list", 0, 0, 0, CMDLINE_NONE, CMDLINE_NONE,
     "usage: gitweave repo list\n\nList the repositories: name, default branch, clone "
     "URL.\n" CMDLINE_COMMON},
    {CMD_REPO_SHOW, "repo", "show", 0, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave repo show NAME\n\n"
     "Show a repository and the templates attached to it.\n" CMDLINE_COMMON},
    {CMD_REPO_PUT, "repo", "put", OPT_CLONE_URL | OPT_BRANCH, 1, 1, CMDLINE_FIELD(name),
     CMDLINE_NONE,
     "usage: gitweave repo put NAME [--clone-url URL] [--branch BRANCH]\n\n"
     "Create or update a repository.\n\n"
     "  --clone-url URL    where runs check the code out from (\"\" removes it)\n"
     "  --branch BRANCH    the default branch (default: main)\n" CMDLINE_COMMON},
    {CMD_ATTACH, "attach", NULL, OPT_INPUT, 2, 2, CMDLINE_FIELD(repo), CMDLINE_FIELD(name),
     "usage: gitweave attach REPO TEMPLATE [-i NAME=VALUE]...\n\n"
     "Attach a template to a repository, with the repository's own input values.\n\n"
     "  -i, --input NAME=VALUE  an input value for the runs of REPO (repeatable)\n" CMDLINE_COMMON},
    {CMD_SECRET_PUT, "secret", "put", OPT_REPO | OPT_FILE, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave secret put NAME [-r REPO] [--file FILE]\n\n"
     "Set a secret for the jobs of REPO, or of every repo, from FILE or standard input\n"
     "(never from the command line, which other users can read); one trailing newline\n"
     "is dropped. Jobs get it through an env value \"${{ secrets.NAME }}\".\n\n"
     "  -r, --repo REPO  the repo's own secret (default: one every repo may use)\n"
     "  --file FILE      read the value from FILE\n" CMDLINE_COMMON},
    {CMD_SECRET_LIST, "secret", "list", OPT_REPO, 0, 0, CMDLINE_NONE, CMDLINE_NONE,
     "usage: gitweave secret list [-r REPO]\n\n"
     "List the secrets of REPO, or those every repo may use: names and when each was\n"
     "set, never values.\n\n"
     "  -r, --repo REPO  the repo's own secrets\n" CMDLINE_COMMON},
    {CMD_SECRET_DELETE, "secret", "delete", OPT_REPO, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave secret delete NAME [-r REPO]\n\n"
     "Delete a secret of REPO, or one every repo may use.\n\n"
     "  -r, --repo REPO  the repo's own secret\n" CMDLINE_COMMON},
    {CMD_REPO_DELETE, "repo", "delete", 0, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave repo delete NAME\n\n"
     "Delete a repository and its attachments; refused while queued or running runs use it.\n"
     "Its runs keep their history.\n" CMDLINE_COMMON},
    {CMD_DETACH, "detach", NULL, 0, 2, 2, CMDLINE_FIELD(repo), CMDLINE_FIELD(name),
     "usage: gitweave detach REPO TEMPLATE\n\n"
     "Detach a template from a repository (with the repository's input values for "
     "it).\n" CMDLINE_COMMON},
    {CMD_RUNNER_PAUSE, "runner", "pause", 0, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave runner pause NAME\n\n"
     "Pause a runner: it claims no new run; what it runs goes on to the end.\n" CMDLINE_COMMON},
    {CMD_RUNNER_RESUME, "runner", "resume", 0, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave runner resume NAME\n\nLet a paused runner claim runs "
     "again.\n" CMDLINE_COMMON},
    {CMD_RUNNER_DELETE, "runner", "delete", 0, 1, 1, CMDLINE_FIELD(name), CMDLINE_NONE,
     "usage: gitweave runner delete NAME\n\n"
     "Remove a runner that is offline or stopped; its runs keep their history.\n" CMDLINE_COMMON},
    {CMD_GREP, "grep", NULL, OPT_GREP | OPT_REPO | OPT_STATUS | OPT_LIMIT | OPT_TEMPLATE | OPT_REF,
     1, 1, CMDLINE_FIELD(pattern), CMDLINE_NONE,
     "usage: gitweave grep PATTERN [--repo REPO] [--since TIME] [--oldest] [-E] [--limit N]\n\n"
     "Print the lines of every job's log that hold PATTERN, without regard to case,\n"
     "newest first: repo, run, job:line, when, and the line.\n\n"
     "  --repo REPO          only the runs of REPO (also -t TEMPLATE, --status, --ref)\n"
     "  --since TIME         only lines written since TIME (2026-12-01, or RFC 3339)\n"
     "  --oldest             oldest first (when did it first appear)\n"
     "  -E, --regex          PATTERN is a POSIX regular expression\n"
     "  --limit N            at most N lines (1 to 100, default 20)\n" CMDLINE_COMMON},
};

static const char cmdline_general[] =
    "usage: gitweave COMMAND [ARGS] [--json] [--help]\n\n"
    "Commands:\n"
    "  run REPO [-t TEMPLATE] [-i NAME=VALUE]... [--ref REF] [--commit SHA] [-f [--raw]]\n"
    "  logs JOB-or-RUN [-f] [--raw]\n"
    "  runs [REPO] [--status STATUS] [--limit N]\n"
    "  show RUN\n"
    "  cancel RUN\n"
    "  rerun RUN [-f [--raw]]\n"
    "  runners\n"
    "  schedules REPO\n"
    "  template list | show NAME | put FILE [NAME] | delete NAME\n"
    "  repo list | show NAME | put NAME [--clone-url URL] [--branch BRANCH] | delete NAME\n"
    "  attach REPO TEMPLATE [-i NAME=VALUE]...\n"
    "  detach REPO TEMPLATE\n"
    "  runner pause NAME | resume NAME | delete NAME\n"
    "  secret put NAME [-r REPO] [--file FILE]   (the value from FILE or standard input)\n"
    "  secret list [-r REPO]\n"
    "  secret delete NAME [-r REPO]\n"
    "  grep PATTERN [--repo REPO] [--since TIME] [--oldest] [-E] [--limit N]\n\n"
    "A RUN or JOB may be given as a unique prefix of its id, of 8 characters or more.\n\n"
    "gitweave COMMAND --help tells more about each.\n\n"
    "Environment:\n"
    "  GITWEAVE_URL    the API (default http://127.0.0.1:8080)\n"
    "  GITWEAVE_TOKEN  the API token, sent as a bearer token\n"
    "  NO_COLOR        no colour even on a terminal\n\n"
    "Exit status: 0 success; 1 the run failed; 2 the run was canceled;\n"
    "3 a usage, network or API error; 130 interrupted while following.\n";

const char *
cmdline_usage(cmdline_cmd_t cmd)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(cmdline_specs); i++)
        if (cmdline_specs[i].cmd == cmd)
            return cmdline_specs[i].usage;
    return cmdline_general;
}

void
cmdline_free(cmdline_t *c)
{
    if (c == NULL)
        return;
    free(c->inputs);
    c->inputs = NULL;
    c->ninputs = 0;
}

static const cmdline_opt_t *
cmdline_find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(cmdline_opts); i++)
        if (strlen(cmdline_opts[i].name) == len && memcmp(cmdline_opts[i].name, name, len) == 0)
            return &cmdline_opts[i];
    return NULL;
}

static const cmdline_opt_t *
cmdline_find_short(char letter)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(cmdline_opts); i++)
        if (cmdline_opts[i].letter == letter)
            return &cmdline_opts[i];
    return NULL;
}

/* The spec whose words start args (argv[i], and argv[i+1] for two words). */
static const cmdline_spec_t *
cmdline_find_spec(int argc, char *const argv[], int i)
{
    for (size_t k = 0; k < GW_ARRAY_LEN(cmdline_specs); k++) {
        const cmdline_spec_t *s = &cmdline_specs[k];
        if (strcmp(argv[i], s->word1) != 0)
            continue;
        if (s->word2 == NULL || (i + 1 < argc && strcmp(argv[i + 1], s->word2) == 0))
            return s;
    }
    return NULL;
}

/*
 * Why argv[i] (and argv[i+1]) is no command, in err: for a word that takes
 * a verb (template, repo, runner), which verbs it takes.
 */
static void
cmdline_unknown(int argc, char *const argv[], int i, char *err, size_t errlen)
{
    char verbs[128] = "";
    size_t n = 0;

    for (size_t k = 0; k < GW_ARRAY_LEN(cmdline_specs); k++) {
        const cmdline_spec_t *s = &cmdline_specs[k];
        if (s->word2 != NULL && strcmp(argv[i], s->word1) == 0)
            n += (size_t)snprintf(verbs + n, sizeof(verbs) - n, "%s%s", n ? ", " : "", s->word2);
    }
    if (n == 0)
        snprintf(err, errlen, "unknown command \"%s\"", argv[i]);
    else if (i + 1 < argc)
        snprintf(err, errlen, "unknown command \"%s %s\": %s takes one of: %s", argv[i],
                 argv[i + 1], argv[i], verbs);
    else
        snprintf(err, errlen, "a verb is needed: %s takes one of: %s", argv[i], verbs);
}

/* The option's name as the user would write it, for messages. */
static void
cmdline_opt_name(const cmdline_opt_t *o, char *out, size_t n)
{
    snprintf(out, n, "--%s", o->name);
}

/* Store the value of option o; -1 with err on a bad or repeated value. */
static int
cmdline_set(cmdline_t *c, const cmdline_opt_t *o, const char *v, char *err, size_t errlen)
{
    char *end;
    char name[32];

    cmdline_opt_name(o, name, sizeof(name));
    switch (o->kind) {
    case CMDLINE_FLAG:
        assert(o->field != CMDLINE_NONE);
        *(bool *)((char *)c + o->field) = true;
        return 0;
    case CMDLINE_STRING: {
        assert(o->field != CMDLINE_NONE);
        const char **slot = (const char **)((char *)c + o->field);
        if (*slot != NULL) {
            snprintf(err, errlen, "%s given twice", name);
            return -1;
        }
        *slot = v;
        return 0;
    }
    case CMDLINE_INPUT: {
        const char *eq = strchr(v, '=');
        if (eq == NULL || eq == v) {
            snprintf(err, errlen, "%s takes NAME=VALUE (got \"%s\")", name, v);
            return -1;
        }
        c->inputs = xrealloc(c->inputs, (c->ninputs + 1) * sizeof(*c->inputs));
        c->inputs[c->ninputs++] = v;
        return 0;
    }
    case CMDLINE_LIMIT:
        break;
    }
    /* CMDLINE_LIMIT */
    errno = 0;
    long n = strtol(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n < 1) {
        snprintf(err, errlen, "%s takes a positive integer (got \"%s\")", name, v);
        return -1;
    }
    c->limit = n;
    return 0;
}

/* Store the positional arguments in the members the command's spec names. */
static void
cmdline_place(cmdline_t *c, const cmdline_spec_t *spec, const char *pos[2])
{
    const size_t member[2] = {spec->arg1, spec->arg2};

    for (int i = 0; i < spec->max_pos; i++) {
        assert(member[i] != CMDLINE_NONE);
        *(const char **)((char *)c + member[i]) = pos[i];
    }
}

int
cmdline_parse(int argc, char *const argv[], cmdline_t *out, char *err, size_t errlen)
{
    const cmdline_spec_t *spec = NULL;
    const char *pos[2] = {NULL, NULL};
    int npos = 0, i = 1;
    bool only_positional = false;

    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    /* Options every command takes may come before the command. */
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            out->json = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            out->help = true;
        else
            break;
    }
    if (i == argc) {
        if (out->help)
            return 0;
        snprintf(err, errlen, "a command is needed");
        return -1;
    }
    if (strcmp(argv[i], "help") == 0) {
        out->help = true;
        if (i + 1 < argc && (spec = cmdline_find_spec(argc, argv, i + 1)) != NULL)
            out->cmd = spec->cmd;
        return 0;
    }
    spec = cmdline_find_spec(argc, argv, i);
    if (spec == NULL) {
        cmdline_unknown(argc, argv, i, err, errlen);
        return -1;
    }
    out->cmd = spec->cmd;
    i += spec->word2 ? 2 : 1;

    for (; i < argc; i++) {
        const char *a = argv[i];
        const cmdline_opt_t *o = NULL;
        const char *value = NULL;
        char name[32];

        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (npos == spec->max_pos) {
                snprintf(err, errlen, "unexpected argument \"%s\"", a);
                goto fail;
            }
            pos[npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            o = cmdline_find_long(a + 2, len);
            if (o != NULL && eq != NULL) {
                if (o->kind == CMDLINE_FLAG) {
                    snprintf(err, errlen, "--%s takes no value", o->name);
                    goto fail;
                }
                value = eq + 1;
            }
        } else {
            o = cmdline_find_short(a[1]);
            if (o != NULL && a[2] != '\0') {
                if (o->kind == CMDLINE_FLAG)
                    o = NULL; /* "-fx": no such option */
                else
                    value = a + 2;
            }
        }
        if (o == NULL || ((spec->opts | OPT_ANY) & o->bit) == 0) {
            snprintf(err, errlen, o == NULL ? "unknown option \"%s\"" : "%s does not apply here",
                     a);
            goto fail;
        }
        cmdline_opt_name(o, name, sizeof(name));
        if (o->kind != CMDLINE_FLAG && value == NULL) {
            if (i + 1 == argc) {
                snprintf(err, errlen, "%s needs a value", name);
                goto fail;
            }
            value = argv[++i];
        }
        if (cmdline_set(out, o, value, err, errlen) < 0)
            goto fail;
    }
    if (out->help)
        return 0;
    if (npos < spec->min_pos) {
        snprintf(err, errlen, "missing argument");
        goto fail;
    }
    cmdline_place(out, spec, pos);
    return 0;
fail:
    cmdline_free(out);
    return -1;
}
