/*
 * spec_int - what the files of the template module (spec.c, spec_validate.c,
 * spec_expand.c, spec_glob.c, spec_yaml.c) share and nothing else sees. The
 * public interface is spec.h.
 */
#ifndef GW_SPEC_INT_H
#define GW_SPEC_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "spec.h"
#include "util.h"

/* What an input value must be (a template's default, a run's value). */
#define SPEC_WANT_SCALAR "a string, number or boolean"
/* The longest timeout of a job, in seconds. */
#define SPEC_TIMEOUT_MAX 86400

/* ---- errors and paths (spec.c) ---- */

/* Fill *err (NULL: nothing) with field and the message, line and column 0;
 * both are cut on a whole UTF-8 character. */
void spec_fail(spec_error_t *err, const char *field, const char *fmt, ...) GW_PRINTF(3, 4);
void spec_vfail(spec_error_t *err, const char *field, const char *fmt, va_list ap) GW_PRINTF(3, 0);

/* out = base.key (key alone when base is ""), or base[index]; a path that
 * does not fit ends in "...". */
void spec_path_key(char *out, size_t n, const char *base, const char *key);
void spec_path_index(char *out, size_t n, const char *base, int index);

/* ---- names and lists (spec.c) ---- */

/* Whether s is one of the NULL-terminated list. */
bool spec_in_list(const char *s, const char *const *list);
/* `"a", "b", "c"` for error messages. */
void spec_list_quoted(char *out, size_t n, const char *const *list);
/* Whether s[0..n) is [A-Za-z_][A-Za-z0-9_]* (input and env names). */
bool spec_ident_valid(const char *s, size_t n);
/* The index of the first name that repeats an earlier one (that one's index
 * in *first), or -1; O(n log n). */
long spec_find_dup(const char **names, size_t n, size_t *first);
/* Refuse a key that obj (an object, or NULL) holds twice. */
int spec_check_dups(const cJSON *obj, const char *base, spec_error_t *err);
/* Whether an env name is one that holds the values of expressions. */
bool spec_env_reserved(const char *name);
/* An env name of a job: a valid name, not a reserved one. */
int spec_check_env_name(const char *name, const char *path, spec_error_t *err);

/* ---- values (spec.c) ---- */

/* The member key of obj; absent, null or obj not an object: NULL. */
const cJSON *spec_get(const cJSON *obj, const char *key);
/* Whether s is a decimal number in the syntax JSON and YAML share (finite
 * or not). */
bool spec_number_syntax(const char *s);
/* A scalar's string form (borrowed from v or tmp), or NULL for null, arrays
 * and objects. */
const char *spec_scalar_string(const cJSON *v, char *tmp, size_t n);
/* Whether value fits an input's type (and options); if not, msg says why. */
bool spec_value_fits(const char *type, const cJSON *options, const char *value, char *msg,
                     size_t n);

/* What a value must be (spec.c holds each type's test and message). */
typedef enum {
    SPEC_ANY, /* anything: the key's checker decides */
    SPEC_BOOL,
    SPEC_STRING,
    SPEC_TEXT,    /* a non-empty string */
    SPEC_GLOB,    /* the same, as an item of a list */
    SPEC_NAME,    /* a job name (gw_name_valid) */
    SPEC_ENUM,    /* one of a list of words */
    SPEC_SECONDS, /* an integer from 1 to SPEC_TIMEOUT_MAX */
    SPEC_RETRIES, /* an integer from 0 to SPEC_RETRY_MAX */
    SPEC_SCALAR,  /* a string, number or boolean */
    SPEC_OBJECT,
    SPEC_EVENT,  /* an object, or null for an event that is off */
    SPEC_LIST,   /* a non-empty array */
    SPEC_LINES,  /* a non-empty array of strings */
    SPEC_GLOBS,  /* a non-empty array of non-empty strings */
    SPEC_WORDS,  /* a non-empty array of SPEC_ENUM's words */
    SPEC_LABEL,  /* a runner label (util.h gw_label_valid) */
    SPEC_LABELS, /* a non-empty array of labels */
    /* a non-empty array of strings, but the items are left to the key's
     * rule, which checks each with what else it checks of it */
    SPEC_LINES_BY_RULE,
} spec_type_t;

/* Whether v is of type t (words: SPEC_ENUM's), items of a list included;
 * if not, -1 with *err saying what it must be. */
int spec_check_type(spec_type_t t, const char *const *words, const cJSON *v, const char *path,
                    spec_error_t *err);

/* ---- the strings of a job (spec.c) ---- */

/* A field of a job whose strings have expressions expanded. */
typedef enum { SPEC_SLOT_IMAGE, SPEC_SLOT_SCRIPT, SPEC_SLOT_ENV } spec_slot_t;

/* Called for one member of a job's field: item (item->string is the name
 * of an env entry) at path, of any type but for an image, which is always
 * a string. Returns 0, or -1 with *err to stop. */
typedef int (*spec_string_fn)(const cJSON *item, const char *path, spec_slot_t slot, void *arg,
                              spec_error_t *err);

/* Call fn for each member of v, the job's field slot at path field, in
 * which expressions are expanded: the image itself (when it is a string),
 * each script line, each env entry, in order. fn checks the type of a line
 * or entry: validation names an env entry's bad name before its bad value,
 * expansion the other way round. Returns 0, or -1 with *err. */
int spec_field_strings(const cJSON *v, const char *field, spec_slot_t slot, spec_string_fn fn,
                       void *arg, spec_error_t *err);

/* ---- expressions (spec_expand.c) ---- */

/* Check the `${{ ... }}` expressions of text (at field) against the
 * declared inputs. Returns 0, or -1 with *err. */
int spec_check_expressions(const char *text, const char *field, const cJSON *declared,
                           spec_error_t *err);
/* The same for a concurrency group, which may not use run.id nor
 * commit.sha. Returns 0, or -1 with *err. */
int spec_group_check(const char *text, const char *field, const cJSON *declared, spec_error_t *err);

#endif
