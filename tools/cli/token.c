/* token.c - `sendpath token new --name NAME --scope SCOPE[,SCOPE]`.
 *
 * Prints a fresh token once, on stdout, and the line to add to the services'
 * auth.tokens_file on the next line. The token itself is stored nowhere: the
 * file keeps only its SHA-256, so whoever runs this hands the token to its
 * holder (a portal's secret store, a school's integration) and forgets it.
 * Names and scopes are checked with the services' own rules (common/auth.c)
 * so a line this prints is a line the services load. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include "auth.h"
#include "token.h"

static void token_usage(void) {
    fprintf(stderr,
            "usage: sendpath token new --name NAME --scope SCOPE[,SCOPE...]\n"
            "  scopes: intake:write casework:write ops:read admin school:<6-digit URN>\n"
            "  prints the token (shown once) and the line for auth.tokens_file\n");
}

/* Checks every scope of a comma-separated list. Returns 0 or -1. */
static int token_check_scopes(const char *list) {
    char buf[512], why[256], *save = NULL;
    int n = 0;
    if (strlen(list) >= sizeof(buf) || strpbrk(list, " \t")) {
        fprintf(stderr, "sendpath token: --scope is a comma-separated list, no spaces\n");
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save), n++) {
        if (sp_auth_scope_valid(s, why, sizeof(why)) == 0) continue;
        fprintf(stderr, "sendpath token: %s\n", why);
        return -1;
    }
    if (n == 0 || n > SP_AUTH_MAX_SCOPES) {
        fprintf(stderr, "sendpath token: give 1 to %d scopes\n", SP_AUTH_MAX_SCOPES);
        return -1;
    }
    return 0;
}

static int token_new(int argc, char **argv) {
    const char *name = NULL, *scopes = NULL;
    char token[SP_AUTH_TOKEN_SIZE], hash[SP_AUTH_HASH_HEX_SIZE], err[256];
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--scope") && i + 1 < argc) scopes = argv[++i];
        else {
            token_usage();
            return 2;
        }
    }
    if (!name || !scopes) {
        token_usage();
        return 2;
    }
    if (!sp_auth_name_valid(name)) {
        fprintf(stderr, "sendpath token: --name must be 1 to 64 of A-Z a-z 0-9 . _ @ -\n");
        return 2;
    }
    if (token_check_scopes(scopes)) return 2;
    if (sp_auth_token_new(token, sizeof(token), err, sizeof(err)) ||
        sp_auth_hash_hex(token, hash, sizeof(hash))) {
        fprintf(stderr, "sendpath token: %s\n", err);
        return 1;
    }
    printf("%s\n%s %s %s\n", token, hash, name, scopes);
    OPENSSL_cleanse(token, sizeof(token));
    fprintf(stderr, "The first line is the token: give it to its holder now, it is shown "
                    "only once.\nThe second line goes into auth.tokens_file; send the "
                    "services SIGHUP (or restart them) to load it.\n");
    return 0;
}

int cli_token(int argc, char **argv) {
    if (argc >= 1 && !strcmp(argv[0], "new")) return token_new(argc - 1, argv + 1);
    token_usage();
    return 2;
}
