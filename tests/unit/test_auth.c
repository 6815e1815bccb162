/* Unit tests for common/auth.c: the token file's rules, hashing, fresh
 * tokens, and which route scopes a token's scopes admit. The guard on a real
 * server, and school scoping, are tested end to end in
 * tests/integration/test_access.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "auth.h"

/* Writes text to a temporary file; returns its path (static buffer). */
static const char *write_tokens(const char *text) {
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/sp-test-auth-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static sp_auth *load_text(const char *text, char *err, size_t size) {
    const char *path = write_tokens(text);
    sp_auth *a = sp_auth_load(path, err, size);
    unlink(path);
    return a;
}

static void test_hash_is_sha256_hex(void **state) {
    char hex[SP_AUTH_HASH_HEX_SIZE];
    /* sha256("abc"), from FIPS 180-2 and coreutils' sha256sum */
    assert_int_equal(sp_auth_hash_hex("abc", hex, sizeof(hex)), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(sp_auth_hash_hex("abc", hex, 10), -1);
}

static void test_new_tokens_differ_and_have_the_prefix(void **state) {
    char a[SP_AUTH_TOKEN_SIZE], b[SP_AUTH_TOKEN_SIZE], err[128];
    assert_int_equal(sp_auth_token_new(a, sizeof(a), err, sizeof(err)), 0);
    assert_int_equal(sp_auth_token_new(b, sizeof(b), err, sizeof(err)), 0);
    assert_int_equal(strlen(a), 4 + 43);
    assert_memory_equal(a, "spt_", 4);
    assert_string_not_equal(a, b);
    assert_int_equal(strspn(a + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_"), 43);
    assert_int_equal(sp_auth_token_new(a, 20, err, sizeof(err)), -1);
}

static void test_scope_spelling(void **state) {
    static const struct {
        const char *scope;
        int ok;
    } rows[] = {
        {"intake:write", 1}, {"casework:write", 1}, {"ops:read", 1}, {"admin", 1},
        {"school:123456", 1}, {"school:12345", 0},  {"school:1234567", 0},
        {"school:12345a", 0}, {"school:", 0},       {"school", 0},
        {"ops:write", 0},     {"", 0},              {"INTAKE:WRITE", 0},
    };
    char err[256];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(sp_auth_scope_valid(rows[i].scope, err, sizeof(err)) == 0,
                         rows[i].ok);
    assert_true(sp_auth_name_valid("portal-a.gov_uk@la"));
    assert_false(sp_auth_name_valid(""));
    assert_false(sp_auth_name_valid("has space"));
    assert_false(sp_auth_name_valid("x\"y"));
}

static void test_file_errors_name_the_line(void **state) {
    static const struct {
        const char *text;
        const char *want; /* in the errstr */
    } rows[] = {
        {"# ok\n\nnot-hex portal intake:write\n", "line 3: the hash is not 64 hex"},
        {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad portal\n",
         "line 1: expected"},
        {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad portal ops:write\n",
         "line 1: unknown scope 'ops:write'"},
        {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad a\"b ops:read\n",
         "line 1: the name"},
        {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad p ops:read x\n",
         "line 1: expected"},
        /* the token itself pasted instead of its hash */
        {"spt_Y-SQa_SgduEwQ8GuKruLn745Hxvr0F1VhrlDp3_1GO0 p ops:read\n",
         "never the token"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        err[0] = '\0';
        assert_null(load_text(rows[i].text, err, sizeof(err)));
        if (!strstr(err, rows[i].want)) fail_msg("row %zu: '%s' lacks '%s'", i, err, rows[i].want);
    }
    assert_null(sp_auth_load("/nonexistent/tokens", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/tokens"));
    assert_null(sp_auth_load(NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "auth.tokens_file is not set"));
}

/* Three tokens, hashed at set-up by sp_auth_hash_hex (itself checked
 * against the FIPS vector above). */
static sp_auth *load_three(void) {
    char text[1024], h1[65], h2[65], h3[65], err[256];
    sp_auth_hash_hex("tok-portal", h1, sizeof(h1));
    sp_auth_hash_hex("tok-school", h2, sizeof(h2));
    sp_auth_hash_hex("tok-ops", h3, sizeof(h3));
    snprintf(text, sizeof(text),
             "# a comment\n%s portal intake:write\n  %s school-a school:100001,school:100002\n"
             "%s ops ops:read,casework:write\r\n",
             h1, h2, h3);
    sp_auth *a = load_text(text, err, sizeof(err));
    if (!a) fail_msg("%s", err);
    return a;
}

static void test_route_scopes_admit(void **state) {
    static const struct {
        const char *authorization;
        const char *route;
        sp_auth_result want;
        const char *name;
    } rows[] = {
        {NULL, "intake:write", SP_AUTH_NO_TOKEN, NULL},
        {"Basic dXNlcjpwdw==", "intake:write", SP_AUTH_NO_TOKEN, NULL},
        {"Bearer ", "intake:write", SP_AUTH_NO_TOKEN, NULL},
        {"Bearer tok-nobody", "intake:write", SP_AUTH_BAD_TOKEN, NULL},
        {"Bearer tok-portal", "intake:write", SP_AUTH_ALLOW, "portal"},
        {"bearer  tok-portal", "intake:write", SP_AUTH_ALLOW, "portal"},
        {"Bearer tok-portal", "ops:read", SP_AUTH_FORBIDDEN, "portal"},
        {"Bearer tok-portal", "ops:read school", SP_AUTH_FORBIDDEN, "portal"},
        {"Bearer tok-school", "ops:read school", SP_AUTH_ALLOW_SCHOOL, "school-a"},
        {"Bearer tok-school", "ops:read", SP_AUTH_FORBIDDEN, "school-a"},
        {"Bearer tok-ops", "casework:write school", SP_AUTH_ALLOW, "ops"},
        {"Bearer tok-ops", "school ops:read", SP_AUTH_ALLOW, "ops"},
        {"Bearer tok-ops", "ops:readx", SP_AUTH_FORBIDDEN, "ops"},
        {"Bearer tok-ops", "ops", SP_AUTH_FORBIDDEN, "ops"},
        {"Bearer tok-ops", NULL, SP_AUTH_UNDECLARED, NULL},
        {NULL, "public", SP_AUTH_ALLOW, NULL},
        {"Bearer tok-nobody", "public", SP_AUTH_ALLOW, NULL},
    };
    sp_auth *a = load_three();
    assert_int_equal(sp_auth_count(a), 3);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *name = "unset";
        sp_auth_result got = sp_auth_check(a, rows[i].authorization, rows[i].route, &name);
        if (got != rows[i].want) fail_msg("row %zu: got %d want %d", i, got, rows[i].want);
        if (rows[i].name) assert_string_equal(name, rows[i].name);
        else assert_null(name);
    }
    sp_auth_free(a);
}

static void test_disabled_admits_everything(void **state) {
    const char *name;
    sp_auth *a = sp_auth_disabled();
    assert_false(sp_auth_enabled(a));
    assert_int_equal(sp_auth_check(a, NULL, "ops:read", &name), SP_AUTH_ALLOW);
    assert_int_equal(sp_auth_check(a, NULL, NULL, &name), SP_AUTH_ALLOW);
    sp_auth_free(a);
}

static void test_empty_file_refuses_everyone(void **state) {
    char err[256];
    const char *name;
    sp_auth *a = load_text("# no tokens yet\n", err, sizeof(err));
    assert_non_null(a);
    assert_int_equal(sp_auth_count(a), 0);
    assert_int_equal(sp_auth_check(a, "Bearer x", "ops:read", &name), SP_AUTH_BAD_TOKEN);
    sp_auth_free(a);
}

static void test_reload_swaps_tokens_or_keeps_them(void **state) {
    char text[256], h[65], err[256];
    const char *name, *path;
    sp_auth *a = load_three();
    sp_auth_hash_hex("tok-new", h, sizeof(h));
    snprintf(text, sizeof(text), "%s newcomer ops:read\n", h);
    path = write_tokens(text);
    assert_int_equal(sp_auth_reload(a, path, err, sizeof(err)), 0);
    unlink(path);
    assert_int_equal(sp_auth_count(a), 1);
    assert_int_equal(sp_auth_check(a, "Bearer tok-new", "ops:read", &name), SP_AUTH_ALLOW);
    assert_string_equal(name, "newcomer");
    assert_int_equal(sp_auth_check(a, "Bearer tok-ops", "ops:read", &name), SP_AUTH_BAD_TOKEN);
    /* A bad file changes nothing. */
    path = write_tokens("nothex x ops:read\n");
    assert_int_equal(sp_auth_reload(a, path, err, sizeof(err)), -1);
    unlink(path);
    assert_non_null(strstr(err, "line 1"));
    assert_int_equal(sp_auth_check(a, "Bearer tok-new", "ops:read", &name), SP_AUTH_ALLOW);
    sp_auth_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_sha256_hex),
        cmocka_unit_test(test_new_tokens_differ_and_have_the_prefix),
        cmocka_unit_test(test_scope_spelling),
        cmocka_unit_test(test_file_errors_name_the_line),
        cmocka_unit_test(test_route_scopes_admit),
        cmocka_unit_test(test_disabled_admits_everything),
        cmocka_unit_test(test_empty_file_refuses_everyone),
        cmocka_unit_test(test_reload_swaps_tokens_or_keeps_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
