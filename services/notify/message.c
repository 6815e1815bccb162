/* message.c - building RFC 5322 messages. See message.h.
 *
 * The text is written with open_memstream, so building is a sequence of
 * fprintf calls and one check for failure at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "dates.h"
#include "message.h"
#include "validate.h"

#define DAY_MS INT64_C(86400000)
/* Input bytes per encoded word: 52 base64 characters, a 64-character word,
 * so "Subject: " and one word stay within RFC 2047's 76-character lines. */
#define ENCODED_CHUNK 39
#define LINE_MAX_BYTES 998 /* RFC 5322 2.1.1 */

static const char *const day_abbr[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const month_abbr[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int notify_message_header_safe(const char *v) {
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return 0;
    return 1;
}

static int is_ascii(const char *v) {
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p >= 0x80) return 0;
    return 1;
}

char *notify_message_date(int64_t ms, char *buf, size_t size) {
    int off = sp_london_offset_s(ms), y, m, d;
    int64_t local = ms + off * INT64_C(1000);
    int64_t day = local >= 0 ? local / DAY_MS : -((-local + DAY_MS - 1) / DAY_MS);
    int64_t secs = (local - day * DAY_MS) / 1000;
    sp_date_split((sp_date)day, &y, &m, &d);
    if (m < 1) {
        snprintf(buf, size, "invalid");
        return buf;
    }
    snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0%d00",
             day_abbr[sp_date_weekday((sp_date)day)], d, month_abbr[m - 1], y,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60), off / 3600);
    return buf;
}

/* Writes v as RFC 2047 encoded words, one per folded line, never
 * splitting a UTF-8 sequence between words. */
static void write_encoded(FILE *f, const char *v) {
    unsigned char out[4 * ENCODED_CHUNK / 3 + 4];
    size_t len = strlen(v), pos = 0;
    while (pos < len) {
        size_t n = len - pos < ENCODED_CHUNK ? len - pos : ENCODED_CHUNK;
        while (pos + n < len && n > 1 && ((unsigned char)v[pos + n] & 0xC0) == 0x80) n--;
        EVP_EncodeBlock(out, (const unsigned char *)v + pos, (int)n);
        fprintf(f, "%s=?UTF-8?B?%s?=", pos ? "\n " : "", out);
        pos += n;
    }
}

/* One header line. Returns 0, or -1 with errstr if the value is unsafe. */
static int write_header(FILE *f, const char *name, const char *v, char *errstr,
                        size_t size) {
    if (!v || !notify_message_header_safe(v)) {
        snprintf(errstr, size, "header %s is missing or holds CR, LF or a control "
                 "character", name);
        return -1;
    }
    fprintf(f, "%s: ", name);
    if (is_ascii(v))
        fputs(v, f);
    else
        write_encoded(f, v);
    fputc('\n', f);
    return 0;
}

/* "Name" <addr>: the name quoted, or encoded when not ASCII. */
static int write_to(FILE *f, const char *name, const char *email, char *errstr,
                    size_t size) {
    if (!email || !sp_email_valid(email) || !notify_message_header_safe(name)) {
        snprintf(errstr, size, "header To holds a bad address, CR, LF or a control "
                 "character");
        return -1;
    }
    fputs("To: ", f);
    if (*name && is_ascii(name)) {
        fputc('"', f);
        for (const char *p = name; *p; p++) {
            if (*p == '"' || *p == '\\') fputc('\\', f);
            fputc(*p, f);
        }
        fputs("\" ", f);
    } else if (*name) {
        write_encoded(f, name);
        fputc(' ', f);
    }
    fprintf(f, "<%s>\n", email);
    return 0;
}

static int body_check(const char *body, char *errstr, size_t size) {
    size_t run = 0;
    for (const char *p = body; *p; p++) {
        run = *p == '\n' ? 0 : run + 1;
        if (*p == '\r' || run > LINE_MAX_BYTES) {
            snprintf(errstr, size, "the body has a CR or a line over %d bytes",
                     LINE_MAX_BYTES);
            return -1;
        }
    }
    return 0;
}

static int write_headers(FILE *f, const notify_message *m, char *errstr, size_t size) {
    char date[40], mid[160];
    snprintf(mid, sizeof(mid), "<%s>", m->message_id);
    notify_message_date(m->date_ms, date, sizeof(date));
    if (write_header(f, "From", m->from, errstr, size) ||
        (m->reply_to && *m->reply_to &&
         write_header(f, "Reply-To", m->reply_to, errstr, size)) ||
        write_to(f, m->to_name, m->to_email, errstr, size) ||
        write_header(f, "Subject", m->subject, errstr, size) ||
        write_header(f, "Date", date, errstr, size) ||
        write_header(f, "Message-ID", mid, errstr, size))
        return -1;
    fputs("MIME-Version: 1.0\n"
          "Content-Type: text/plain; charset=utf-8\n"
          "Content-Transfer-Encoding: 8bit\n", f);
    if (write_header(f, "X-Sendpath-Case", m->case_id, errstr, size) ||
        write_header(f, "X-Sendpath-Event", m->event_id, errstr, size) ||
        write_header(f, "X-Sendpath-Template", m->template_name, errstr, size))
        return -1;
    return 0;
}

char *notify_message_build(const notify_message *m, size_t *len, char *errstr,
                           size_t size) {
    char *text = NULL;
    size_t n = 0, bl = strlen(m->body);
    FILE *f;
    if (!(f = open_memstream(&text, &n))) {
        snprintf(errstr, size, "out of memory");
        return NULL;
    }
    int rc = write_headers(f, m, errstr, size);
    if (rc == 0) rc = body_check(m->body, errstr, size);
    fprintf(f, "\n%s%s", m->body, bl && m->body[bl - 1] == '\n' ? "" : "\n");
    if (fclose(f) != 0 && rc == 0) {
        snprintf(errstr, size, "out of memory");
        rc = -1;
    }
    if (rc) {
        free(text);
        return NULL;
    }
    *len = n;
    return text;
}

int notify_message_address(const char *mailbox, char *addr, size_t size) {
    const char *lt = strrchr(mailbox, '<'), *gt = strrchr(mailbox, '>');
    addr[0] = '\0';
    if (!notify_message_header_safe(mailbox) || !is_ascii(mailbox)) return -1;
    if (lt && gt && gt > lt && gt[1] == '\0')
        snprintf(addr, size, "%.*s", (int)(gt - lt - 1), lt + 1);
    else
        snprintf(addr, size, "%s", mailbox);
    if (sp_email_valid(addr)) return 0;
    addr[0] = '\0';
    return -1;
}

int notify_message_from_check(const char *from, char *errstr, size_t size) {
    char addr[256];
    if (!notify_message_header_safe(from) || !is_ascii(from)) {
        snprintf(errstr, size, "notify.from must be ASCII without CR or LF");
        return -1;
    }
    if (notify_message_address(from, addr, sizeof(addr))) {
        snprintf(errstr, size, "notify.from must be \"Name <address>\" or an address");
        return -1;
    }
    return 0;
}

char *notify_message_letter(const notify_message *m, const char *address, size_t *len,
                            char *errstr, size_t size) {
    char *text = NULL, date[32];
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (!f) {
        snprintf(errstr, size, "out of memory");
        return NULL;
    }
    sp_date_long(sp_date_from_ms(m->date_ms), date, sizeof(date));
    fprintf(f, "%s\n%s\n\n%s\n\n%s\n\n%s\n", m->to_name, address, date, m->subject,
            m->body);
    if (fclose(f) != 0) {
        free(text);
        snprintf(errstr, size, "out of memory");
        return NULL;
    }
    *len = n;
    return text;
}
