/* fuzz_template.c - notify's templates, parsed and rendered.
 *
 * The input is a template file. If it parses, it is rendered with a value
 * for every placeholder, values chosen to be awkward (empty, long, with
 * "((", "))" and line ends). The promises of template.h are checked: a
 * rendered text never holds "((", a rendered subject never holds CR or LF,
 * and a refused render returns nothing and says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "template.h"

static const char *const awkward[] = {
    "", "Amara", "))", "(( x ))", "line\nbreak", "(", ")", "a((b", "((name))",
    "£ and ’ and é", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
};
#define NAWKWARD (sizeof(awkward) / sizeof(awkward[0]))

static void render_with(const sp_template *t, size_t pick) {
    sp_template_var *vars = calloc(t->nplaceholders + 1, sizeof(*vars));
    char *subject = NULL, *body = NULL, errstr[256] = "";
    if (!vars) return;
    for (size_t i = 0; i < t->nplaceholders; i++)
        vars[i] = (sp_template_var){t->placeholders[i], awkward[(pick + i) % NAWKWARD]};
    if (sp_template_render(t, vars, t->nplaceholders, &subject, &body, errstr,
                           sizeof(errstr)) == 0) {
        if (!subject || !body) abort();
        if (strstr(subject, "((") || strstr(body, "((")) abort();
        if (strpbrk(subject, "\r\n")) abort();
    } else if (subject || body || errstr[0] == '\0') {
        abort();
    }
    free(subject);
    free(body);
    free(vars);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char errstr[256] = "";
    sp_template *t = sp_template_parse("fuzz", (const char *)data, size, errstr,
                                       sizeof(errstr));
    if (!t) {
        if (errstr[0] == '\0') abort();
        return 0;
    }
    for (size_t i = 0; i < t->nplaceholders; i++)
        if (!sp_template_uses(t, t->placeholders[i])) abort();
    if (t->nplaceholders > 0 &&
        sp_template_check(t, NULL, 0, errstr, sizeof(errstr)) == 0)
        abort(); /* nothing supplied: the first placeholder is missing */
    render_with(t, size);
    render_with(t, 1); /* only "Amara" and friends: the plain case */
    sp_template_free(t);
    return 0;
}
