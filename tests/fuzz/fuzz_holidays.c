/* fuzz_holidays.c - the bank-holidays file an authority may replace.
 *
 * A refused file says why; an accepted set is sorted and unique (the binary
 * search depends on it), lies within [first, last], and counting working
 * days forward and back from a date in range agrees with itself. */
#include <stdint.h>
#include <stdlib.h>
#include "holidays.h"

static void check_set(const sp_holidays *h) {
    for (size_t i = 0; i < h->count; i++) {
        if (i > 0 && h->days[i - 1] >= h->days[i]) abort();
        if (h->days[i] < h->first || h->days[i] > h->last) abort();
        if (!sp_holidays_contains(h, h->days[i])) abort();
        if (sp_is_working_day(h, h->days[i])) abort();
    }
    if (h->count > 0) {
        sp_date d = h->days[h->count / 2];
        sp_date later = sp_add_working_days(h, d, 20);
        if (sp_working_days_between(h, d, later) != 20) abort();
        if (sp_add_working_days(h, later, -20) > d) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char errstr[256] = "";
    sp_holidays *h = sp_holidays_parse((const char *)data, size, errstr, sizeof(errstr));
    if (!h) {
        if (errstr[0] == '\0') abort();
        return 0;
    }
    check_set(h);
    sp_holidays_free(h);
    return 0;
}
