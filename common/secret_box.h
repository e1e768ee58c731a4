/*
 * secret_box - how secret values are sealed and opened (libsodium).
 *
 * A value is sealed to the runners' public key (crypto_box_seal: an
 * ephemeral X25519 key pair, XSalsa20-Poly1305), so whoever holds only the
 * public key, the API, can seal but never open; only a holder of the secret
 * key, a worker, can. Each key is named by its id: the first 8 bytes of the
 * BLAKE2b hash of the public key, in hex.
 *
 * Key files are text: the public key file one line with the public key in
 * base64; the secret key file one line per key in base64 (lines starting
 * with '#' and empty lines skipped), several during a rotation. A secret
 * key file must be a regular file that group and others cannot read.
 */
#ifndef GW_SECRET_BOX_H
#define GW_SECRET_BOX_H

#include <stddef.h>

#include "util.h"

#define SECRET_BOX_KEY_ID_LEN 16
/* Bytes a sealed value has more than the value. */
#define SECRET_BOX_OVERHEAD 48

typedef struct secret_keys secret_keys_t;

/* libsodium's start; returns -1 when it cannot start. Every function below
 * calls it. */
int secret_box_init(void) GW_MUST_CHECK;

/* Make a new key pair: the secret key into secret_path, the public key into
 * public_path, both created 0600 (neither may exist). Returns 0, or -1 with
 * err filled. */
int secret_box_keygen(const char *secret_path, const char *public_path, char *err,
                      size_t errlen) GW_MUST_CHECK;

/* The public key of public_path into pk[32] and its id into
 * key_id[SECRET_BOX_KEY_ID_LEN + 1]. Returns 0, or -1 with err filled. */
int secret_box_load_public(const char *path, unsigned char pk[32], char *key_id, char *err,
                           size_t errlen) GW_MUST_CHECK;

/* Every key of the secret key file path, or NULL with err filled. Free with
 * secret_box_keys_free (which wipes them). */
secret_keys_t *secret_box_load_keys(const char *path, char *err, size_t errlen);
void secret_box_keys_free(secret_keys_t *k);
/* The ids of the keys, comma-separated (caller frees). */
char *secret_box_keys_ids(const secret_keys_t *k);

/* Seal len bytes of value to pk: the sealed bytes in base64 (caller frees),
 * or NULL when libsodium cannot start. */
char *secret_box_seal(const unsigned char pk[32], const void *value, size_t len);

/* Open sealed (base64, as secret_box_seal gives it) with the key key_id.
 * Returns the value, NUL-terminated, with its length in *len (caller frees
 * it with secret_box_wipe_free), or NULL with err filled (no such key, or
 * not sealed to it). */
char *secret_box_open(const secret_keys_t *k, const char *key_id, const char *sealed, size_t *len,
                      char *err, size_t errlen);

/* Wipe len bytes of p, then free it; NULL is a no-op. */
void secret_box_wipe_free(void *p, size_t len);

#endif
