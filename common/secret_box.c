/*
 * secret_box - sealing and opening secret values (see secret_box.h).
 */
#include "secret_box.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define SB_B64 sodium_base64_VARIANT_ORIGINAL
/* A key file is small; anything larger is not one. */
#define SB_MAX_FILE 65536
#define SB_MAX_KEYS 16

typedef struct {
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    unsigned char sk[crypto_box_SECRETKEYBYTES];
    char id[SECRET_BOX_KEY_ID_LEN + 1];
} sb_key_t;

struct secret_keys {
    sb_key_t keys[SB_MAX_KEYS];
    size_t n;
};

static void GW_PRINTF(3, 4) sb_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int
secret_box_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

static void
sb_key_id(const unsigned char pk[32], char *id)
{
    unsigned char h[crypto_generichash_BYTES];

    crypto_generichash(h, sizeof(h), pk, 32, NULL, 0);
    sodium_bin2hex(id, SECRET_BOX_KEY_ID_LEN + 1, h, SECRET_BOX_KEY_ID_LEN / 2);
}

/* Write text into a new file path, 0600. */
static int
sb_write_new(const char *path, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = strlen(text);

    if (fd < 0) {
        sb_fail(err, errlen, "could not create \"%s\": %s", path, strerror(errno));
        return -1;
    }
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        sb_fail(err, errlen, "could not write \"%s\": %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

int
secret_box_keygen(const char *secret_path, const char *public_path, char *err, size_t errlen)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    char b64[sodium_base64_ENCODED_LEN(32, SB_B64) + 1];
    char id[SECRET_BOX_KEY_ID_LEN + 1];
    char *text;
    int rc = -1;

    if (secret_box_init() < 0) {
        sb_fail(err, errlen, "libsodium could not start");
        return -1;
    }
    crypto_box_keypair(pk, sk);
    sb_key_id(pk, id);
    sodium_bin2base64(b64, sizeof(b64), sk, sizeof(sk), SB_B64);
    text = xasprintf("# gitweave secrets key %s (secret: keep it to the workers)\n%s\n", id, b64);
    if (sb_write_new(secret_path, text, err, errlen) == 0) {
        sodium_memzero(text, strlen(text));
        free(text);
        sodium_bin2base64(b64, sizeof(b64), pk, sizeof(pk), SB_B64);
        text = xasprintf("%s\n", b64);
        if (sb_write_new(public_path, text, err, errlen) == 0)
            rc = 0;
        else
            unlink(secret_path);
    }
    sodium_memzero(text, strlen(text));
    free(text);
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(b64, sizeof(b64));
    return rc;
}

/* The text of a key file (caller wipes and frees), or NULL with err. A file
 * holding a secret key must not be readable by group or others. */
static char *
sb_read(const char *path, int secret, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *text = NULL;
    ssize_t n;

    if (fd < 0) {
        sb_fail(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SB_MAX_FILE) {
        sb_fail(err, errlen, "\"%s\" is not a key file", path);
        goto done;
    }
    if (secret && (st.st_mode & 077) != 0) {
        sb_fail(err, errlen, "\"%s\" may be read by group or others (mode %03o): chmod 600 it",
                path, (unsigned)(st.st_mode & 0777));
        goto done;
    }
    text = xmalloc((size_t)st.st_size + 1);
    n = read(fd, text, (size_t)st.st_size);
    if (n < 0) {
        sb_fail(err, errlen, "could not read \"%s\": %s", path, strerror(errno));
        free(text);
        text = NULL;
        goto done;
    }
    text[n] = '\0';
done:
    close(fd);
    return text;
}

/* The 32 bytes of the base64 key on one line into out. */
static int
sb_key_line(const char *line, size_t len, unsigned char out[32])
{
    size_t bin_len = 0;

    if (sodium_base642bin(out, 32, line, len, " \t\r", &bin_len, NULL, SB_B64) != 0 ||
        bin_len != 32)
        return -1;
    return 0;
}

/* Each key line of text (skipping comments and blank lines) to fn. Returns
 * the number of keys, or -1 at the first line that is not one. */
static int
sb_each_line(char *text, const char *path, int (*fn)(void *, const unsigned char *), void *arg,
             char *err, size_t errlen)
{
    int n = 0, lineno = 0;

    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        unsigned char key[32];

        lineno++;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\r' || p[len - 1] == '\t'))
            len--;
        if (len > 0 && p[0] != '#') {
            if (sb_key_line(p, len, key) != 0 || fn(arg, key) != 0) {
                sodium_memzero(key, sizeof(key));
                sb_fail(err, errlen, "\"%s\" line %d is not a key (%s)", path, lineno,
                        n >= SB_MAX_KEYS ? "too many keys" : "32 bytes in base64");
                return -1;
            }
            sodium_memzero(key, sizeof(key));
            n++;
        }
        p += len;
        while (*p && *p != '\n')
            p++;
        if (*p == '\n')
            p++;
    }
    return n;
}

static int
sb_take_public(void *arg, const unsigned char *key)
{
    unsigned char *pk = arg;

    if (pk[32] != 0)
        return -1; /* one key only */
    memcpy(pk, key, 32);
    pk[32] = 1;
    return 0;
}

int
secret_box_load_public(const char *path, unsigned char pk[32], char *key_id, char *err,
                       size_t errlen)
{
    unsigned char got[33] = {0};
    char *text;
    int n;

    if (secret_box_init() < 0) {
        sb_fail(err, errlen, "libsodium could not start");
        return -1;
    }
    text = sb_read(path, 0, err, errlen);
    if (text == NULL)
        return -1;
    n = sb_each_line(text, path, sb_take_public, got, err, errlen);
    free(text);
    if (n < 0)
        return -1;
    if (n == 0) {
        sb_fail(err, errlen, "\"%s\" holds no key", path);
        return -1;
    }
    memcpy(pk, got, 32);
    sb_key_id(pk, key_id);
    return 0;
}

static int
sb_take_secret(void *arg, const unsigned char *key)
{
    secret_keys_t *k = arg;
    sb_key_t *s;

    if (k->n >= SB_MAX_KEYS)
        return -1;
    s = &k->keys[k->n++];
    memcpy(s->sk, key, 32);
    crypto_scalarmult_base(s->pk, s->sk);
    sb_key_id(s->pk, s->id);
    return 0;
}

secret_keys_t *
secret_box_load_keys(const char *path, char *err, size_t errlen)
{
    secret_keys_t *k;
    char *text;
    int n;

    if (secret_box_init() < 0) {
        sb_fail(err, errlen, "libsodium could not start");
        return NULL;
    }
    text = sb_read(path, 1, err, errlen);
    if (text == NULL)
        return NULL;
    k = xcalloc(1, sizeof(*k));
    n = sb_each_line(text, path, sb_take_secret, k, err, errlen);
    sodium_memzero(text, strlen(text));
    free(text);
    if (n == 0)
        sb_fail(err, errlen, "\"%s\" holds no key", path);
    if (n <= 0) {
        secret_box_keys_free(k);
        return NULL;
    }
    return k;
}

void
secret_box_keys_free(secret_keys_t *k)
{
    if (k == NULL)
        return;
    sodium_memzero(k, sizeof(*k));
    free(k);
}

char *
secret_box_keys_ids(const secret_keys_t *k)
{
    buf_t b;

    buf_init(&b);
    for (size_t i = 0; i < k->n; i++)
        buf_printf(&b, "%s%s", i > 0 ? "," : "", k->keys[i].id);
    return buf_steal(&b);
}

char *
secret_box_seal(const unsigned char pk[32], const void *value, size_t len)
{
    size_t clen = len + crypto_box_SEALBYTES;
    unsigned char *c;
    char *b64;

    if (secret_box_init() < 0)
        return NULL;
    c = xmalloc(clen);
    if (crypto_box_seal(c, value, len, pk) != 0) {
        free(c);
        return NULL;
    }
    b64 = xmalloc(sodium_base64_ENCODED_LEN(clen, SB_B64));
    sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(clen, SB_B64), c, clen, SB_B64);
    free(c);
    return b64;
}

char *
secret_box_open(const secret_keys_t *k, const char *key_id, const char *sealed, size_t *len,
                char *err, size_t errlen)
{
    const sb_key_t *key = NULL;
    size_t slen = strlen(sealed), clen = 0;
    unsigned char *c;
    char *value = NULL;

    if (secret_box_init() < 0) {
        sb_fail(err, errlen, "libsodium could not start");
        return NULL;
    }
    for (size_t i = 0; i < k->n && key == NULL; i++)
        if (strcmp(k->keys[i].id, key_id) == 0)
            key = &k->keys[i];
    if (key == NULL) {
        sb_fail(err, errlen, "it is sealed to key %s, which this runner does not hold", key_id);
        return NULL;
    }
    c = xmalloc(slen / 4 * 3 + 3);
    if (sodium_base642bin(c, slen / 4 * 3 + 3, sealed, slen, NULL, &clen, NULL, SB_B64) != 0 ||
        clen < crypto_box_SEALBYTES) {
        sb_fail(err, errlen, "its sealed value is malformed");
        goto done;
    }
    value = xmalloc(clen - crypto_box_SEALBYTES + 1);
    if (crypto_box_seal_open((unsigned char *)value, c, clen, key->pk, key->sk) != 0) {
        sb_fail(err, errlen, "it cannot be opened with key %s", key_id);
        free(value);
        value = NULL;
        goto done;
    }
    *len = clen - crypto_box_SEALBYTES;
    value[*len] = '\0';
done:
    free(c);
    return value;
}

void
secret_box_wipe_free(void *p, size_t len)
{
    if (p == NULL)
        return;
    sodium_memzero(p, len);
    free(p);
}
