/* vg_check: pure field rules shared by the services; see vg_check.h. */
#include "vg_check.h"

#include <string.h>

bool vg_digits(const char *s, size_t min, size_t max)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= max)
            return false;
    }
    return n >= min;
}

bool vg_luhn_valid(const char *digits)
{
    int sum = 0;
    bool twice = false;

    if (!vg_digits(digits, 1, (size_t)-1))
        return false;
    /* From the rightmost (check) digit leftwards, every second digit is doubled and a doubled
     * digit above 9 counts as the sum of its digits (d*2 - 9). */
    for (size_t n = strlen(digits); n > 0; n--) {
        int d = digits[n - 1] - '0';

        if (twice) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
        twice = !twice;
    }
    return sum % 10 == 0;
}

bool vg_card_number_valid(const char *number)
{
    return vg_digits(number, VG_CARD_MIN_DIGITS, VG_CARD_MAX_DIGITS) && vg_luhn_valid(number);
}

bool vg_cvc_valid(const char *cvc)
{
    return vg_digits(cvc, 3, 4);
}

bool vg_token_valid(const char *s, size_t max)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';

        if (!ok || n >= max)
            return false;
    }
    return n > 0;
}
