/* template.h - message templates in GOV.UK Notify's ((placeholder)) syntax.
 *
 * A template is a text file named <name>.txt: the first line is
 * "Subject: ...", the second is blank, the rest is the body. Placeholders are
 * written ((name)) as in GOV.UK Notify, so the same text can be pasted into a
 * Notify template later; names are lower-case letters, digits and '_' (Notify's
 * optional-content form ((x??text)) is not supported and is refused).
 *
 * A template is parsed once, at start-up, into its list of placeholders. The
 * caller then checks that list against the placeholders it will supply
 * (sp_template_check): a template that asks for something nobody supplies is
 * a start-up error, never a letter that reaches a parent with "((x))" in it.
 *
 * Rendering substitutes each placeholder once; values are not re-scanned.
 * Template text may not hold "((" outside a placeholder and values may not
 * hold "((" at all, so a rendered text never contains "((": no placeholder,
 * real or injected, can survive into output. The subject becomes a mail
 * header, so a value that would put CR or LF into it is refused.
 *
 * Carriage returns in a template file are dropped at load (a file saved on
 * Windows works); rendered text uses LF line ends. Nothing here logs: errors
 * go back through errstr and the caller decides. */
#ifndef SP_TEMPLATE_H
#define SP_TEMPLATE_H

#include <stddef.h>

#define SP_TEMPLATE_NAME_MAX 64 /* bytes in a template or placeholder name */

typedef struct sp_template {
    char *name;           /* "request_received" */
    char *subject;        /* raw, placeholders unexpanded */
    char *body;           /* raw, placeholders unexpanded */
    char **placeholders;  /* unique, in order of first use, subject first */
    size_t nplaceholders;
} sp_template;

/* One placeholder value for rendering. Both borrowed. */
typedef struct sp_template_var {
    const char *name;
    const char *value;
} sp_template_var;

/* Every template of a directory, loaded together. */
typedef struct sp_templates {
    sp_template **items;
    size_t count;
} sp_templates;

/* Parses template text. name and text are copied. Returns a new template
 * (free with sp_template_free), or NULL with errstr naming the line. */
sp_template *sp_template_parse(const char *name, const char *text, size_t len,
                               char *errstr, size_t errstr_size);
/* Reads path and parses it; the name is the file name without ".txt".
 * Returns a new template, or NULL with errstr. */
sp_template *sp_template_load(const char *path, char *errstr, size_t errstr_size);
void sp_template_free(sp_template *t);

/* 1 if t uses placeholder name, in its subject or body. */
int sp_template_uses(const sp_template *t, const char *name);
/* Checks that every placeholder t uses is among supplied[0..n). Returns 0, or
 * -1 with errstr naming the first one missing. */
int sp_template_check(const sp_template *t, const char *const *supplied, size_t n,
                      char *errstr, size_t errstr_size);
/* Renders subject and body with vars[0..n). On 0, *subject and *body are new
 * strings (free with free()). On -1 (a placeholder without a value, a value
 * holding "((", CR or LF in the subject, no memory) errstr says which and
 * nothing is returned. */
int sp_template_render(const sp_template *t, const sp_template_var *vars, size_t n,
                       char **subject, char **body, char *errstr, size_t errstr_size);

/* Loads every "*.txt" file of dir. set must be zeroed; it is filled on 0. On
 * -1 (unreadable directory, a bad template, two of the same name) errstr
 * names the file and set is left empty. */
int sp_templates_load_dir(sp_templates *set, const char *dir, char *errstr,
                          size_t errstr_size);
/* The template named name, or NULL. Borrowed from set. */
const sp_template *sp_templates_find(const sp_templates *set, const char *name);
void sp_templates_free(sp_templates *set);

#endif
