/* validate: the order service's pure request rules; see validate.h. */
#include "validate.h"

#include <string.h>

bool ord_digits(const char *s, size_t min, size_t max)
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

bool ord_luhn_valid(const char *digits)
{
    size_t n;
    int sum = 0;
    bool twice = false;

    if (!ord_digits(digits, 1, (size_t)-1))
        return false;
    /* From the rightmost (check) digit leftwards, every second digit is doubled and a doubled
     * digit above 9 counts as the sum of its digits (d*2 - 9). */
    for (n = strlen(digits); n > 0; n--) {
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

bool ord_card_number_valid(const char *number)
{
    return ord_digits(number, ORD_CARD_MIN_DIGITS, ORD_CARD_MAX_DIGITS) && ord_luhn_valid(number);
}

bool ord_cvc_valid(const char *cvc)
{
    return ord_digits(cvc, 3, 4);
}

/* ISO 3166-1 officially assigned alpha-2 codes (249), one string per first letter A..Z
 * holding the second letters: "DEFG..." under A means AD, AE, AF, AG, ... */
static const char *const iso3166_second[26] = {
    "DEFGILMOQRSTUWXZ",        /* A */
    "ABDEFGHIJLMNOQRSTVWYZ",   /* B */
    "ACDFGHIKLMNORUVWXYZ",     /* C */
    "EJKMOZ",                  /* D */
    "CEGHRST",                 /* E */
    "IJKMOR",                  /* F */
    "ABDEFGHILMNPQRSTUWY",     /* G */
    "KMNRTU",                  /* H */
    "DELMNOQRST",              /* I */
    "EMOP",                    /* J */
    "EGHIMNPRWYZ",             /* K */
    "ABCIKRSTUVY",             /* L */
    "ACDEFGHKLMNOPQRSTUVWXYZ", /* M */
    "ACEFGILOPRUZ",            /* N */
    "M",                       /* O */
    "AEFGHKLMNRSTWY",          /* P */
    "A",                       /* Q */
    "EOSUW",                   /* R */
    "ABCDEGHIJKLMNORSTVXYZ",   /* S */
    "CDFGHJKLMNORTVWZ",        /* T */
    "AGMSYZ",                  /* U */
    "ACEGINU",                 /* V */
    "FS",                      /* W */
    "",                        /* X */
    "ET",                      /* Y */
    "AMW",                     /* Z */
};

bool ord_country_valid(const char *code)
{
    if (!code || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' || code[2])
        return false;
    return strchr(iso3166_second[code[0] - 'A'], code[1]) != NULL;
}

bool ord_idem_key_valid(const char *key)
{
    size_t n = 0;

    if (!key)
        return false;
    for (; key[n]; n++) {
        char c = key[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';

        if (!ok || n >= ORD_IDEM_KEY_MAX)
            return false;
    }
    return n > 0;
}
