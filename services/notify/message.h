/* message.h - one email as an RFC 5322 message (RFC 2045 MIME headers).
 *
 * The text is what a Maildir holds: header lines, a blank line, the body,
 * with LF line ends (Maildir stores local line ends; an MTA or the Notify
 * adapter converts to CRLF on the wire). The body is UTF-8 sent as 8bit.
 * Header values that are not plain ASCII (a child's name such as "Zoë" in
 * the subject) are written as RFC 2047 encoded words, so no raw 8-bit byte
 * ever appears in a header.
 *
 * Header injection is refused, not repaired: a CR or LF in any header value
 * or address makes the build fail, and the caller counts the error. Error
 * strings name the header, never its value (it may be personal data). */
#ifndef NOTIFY_MESSAGE_H
#define NOTIFY_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct notify_message {
    const char *from;       /* "SEND Team <send@council.example>" */
    const char *reply_to;   /* a mailbox like from; NULL or "": no Reply-To */
    const char *to_name;    /* display name; "" for none */
    const char *to_email;
    const char *subject;
    const char *body;       /* LF line ends */
    const char *message_id; /* "<id>@sendpath" without the angle brackets */
    int64_t date_ms;
    const char *case_id;
    const char *event_id;
    const char *template_name;
} notify_message;

/* Returns the message text (free with free()) and its length, or NULL with
 * errstr. */
char *notify_message_build(const notify_message *m, size_t *len, char *errstr,
                           size_t errstr_size);
/* The same message as a printable letter for post: the recipient's name and
 * address, the date (long form), the subject as a heading, then the body.
 * Returns a new text (free with free()), or NULL with errstr. */
char *notify_message_letter(const notify_message *m, const char *address,
                            size_t *len, char *errstr, size_t errstr_size);
/* 1 if value may be a header value: no CR, LF or other control character
 * except tab. */
int notify_message_header_safe(const char *value);
/* Checks a From value ("Name <addr>" or "addr") once, at start-up. Returns 0
 * or -1 with errstr. */
int notify_message_from_check(const char *from, char *errstr, size_t errstr_size);
/* Writes the address of mailbox ("Name <addr>" or "addr") into addr (size
 * bytes) for an SMTP envelope (MAIL FROM, RCPT TO), after the checks every
 * header gets: ASCII, no CR, LF or other control character, and a valid
 * address. Returns 0, or -1 (addr is then ""). */
int notify_message_address(const char *mailbox, char *addr, size_t size);
/* Writes an RFC 5322 date in Europe/London time, "Mon, 04 Jan 2027 09:30:00
 * +0000": buf needs 40 bytes. Returns buf. */
char *notify_message_date(int64_t ms, char *buf, size_t size);

#endif
