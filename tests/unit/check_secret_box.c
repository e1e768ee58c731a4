/*
 * check_secret_box - unit tests for common/secret_box.c: key files made
 * 0600, a value sealed with the public key opened only with its secret key,
 * several keys in one file (a rotation), key files others may read refused.
 */
#include "secret_box.h"
#include "util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_secret_box.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

/* A new key pair in dir as NAME.key and NAME.pub; paths returned. */
static void
keygen(const char *name, char **sk, char **pk)
{
    char err[256];

    *sk = xasprintf("%s/%s.key", dir, name);
    *pk = xasprintf("%s/%s.pub", dir, name);
    ck_assert_msg(secret_box_keygen(*sk, *pk, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_keygen_modes)
{
    char *sk, *pk, err[256];
    struct stat st;

    keygen("a", &sk, &pk);
    ck_assert_int_eq(stat(sk, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(pk, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    /* Never over an existing file. */
    ck_assert_int_eq(secret_box_keygen(sk, pk, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "could not create"));
    free(sk);
    free(pk);
}
END_TEST

START_TEST(test_seal_open)
{
    char *sk, *pk, *sk2, *pk2, err[256], id[SECRET_BOX_KEY_ID_LEN + 1];
    unsigned char pub[32];
    secret_keys_t *keys, *other;
    size_t len = 0;

    keygen("a", &sk, &pk);
    keygen("b", &sk2, &pk2);
    ck_assert_int_eq(secret_box_load_public(pk, pub, id, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(id), SECRET_BOX_KEY_ID_LEN);
    keys = secret_box_load_keys(sk, err, sizeof(err));
    ck_assert_msg(keys != NULL, "%s", err);
    char *ids = secret_box_keys_ids(keys);
    ck_assert_str_eq(ids, id);
    free(ids);

    char *sealed = secret_box_seal(pub, "hunter2-s3cr3t", 14);
    ck_assert_ptr_nonnull(sealed);
    ck_assert_ptr_null(strstr(sealed, "hunter2"));
    char *value = secret_box_open(keys, id, sealed, &len, err, sizeof(err));
    ck_assert_msg(value != NULL, "%s", err);
    ck_assert_uint_eq(len, 14);
    ck_assert_str_eq(value, "hunter2-s3cr3t");
    secret_box_wipe_free(value, len);

    /* Another key pair's secret key cannot open it, nor name its id. */
    other = secret_box_load_keys(sk2, err, sizeof(err));
    ck_assert_ptr_nonnull(other);
    ck_assert_ptr_null(secret_box_open(other, id, sealed, &len, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "does not hold"));
    ids = secret_box_keys_ids(other);
    ck_assert_ptr_null(secret_box_open(other, ids, sealed, &len, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "cannot be opened"));
    free(ids);
    ck_assert_ptr_null(secret_box_open(keys, id, "not base64!", &len, err, sizeof(err)));

    /* A rotation: both secret keys in one file open either's values. */
    char *both = xasprintf("%s/both.key", dir);
    char *cmd = xasprintf("cat '%s' '%s' > '%s' && chmod 600 '%s'", sk2, sk, both, both);
    ck_assert_int_eq(system(cmd), 0);
    secret_keys_t *rot = secret_box_load_keys(both, err, sizeof(err));
    ck_assert_msg(rot != NULL, "%s", err);
    value = secret_box_open(rot, id, sealed, &len, err, sizeof(err));
    ck_assert_msg(value != NULL, "%s", err);
    secret_box_wipe_free(value, len);

    free(cmd);
    free(both);
    free(sealed);
    secret_box_keys_free(rot);
    secret_box_keys_free(keys);
    secret_box_keys_free(other);
    secret_box_keys_free(NULL);
    free(sk);
    free(pk);
    free(sk2);
    free(pk2);
}
END_TEST

START_TEST(test_refused_files)
{
    char *sk, *pk, err[256], id[SECRET_BOX_KEY_ID_LEN + 1];
    unsigned char pub[32];

    keygen("a", &sk, &pk);
    ck_assert_int_eq(chmod(sk, 0640), 0);
    ck_assert_ptr_null(secret_box_load_keys(sk, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "may be read by group or others"));

    char *junk = xasprintf("%s/junk", dir);
    FILE *f = fopen(junk, "w");
    fputs("# nothing but\nnot-a-key\n", f);
    fclose(f);
    ck_assert_int_eq(chmod(junk, 0600), 0);
    ck_assert_ptr_null(secret_box_load_keys(junk, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "line 2 is not a key"));
    ck_assert_int_eq(secret_box_load_public(junk, pub, id, err, sizeof(err)), -1);
    char *missing = xasprintf("%s/missing", dir);
    ck_assert_int_eq(secret_box_load_public(missing, pub, id, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "could not open"));
    free(missing);
    free(junk);
    free(sk);
    free(pk);
}
END_TEST

static Suite *
secret_box_suite(void)
{
    Suite *s = suite_create("secret_box");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_keygen_modes);
    tcase_add_test(tc, test_seal_open);
    tcase_add_test(tc, test_refused_files);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(secret_box_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
