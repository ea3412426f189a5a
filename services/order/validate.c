/* validate: the order service's pure request rules; see validate.h. */
#include "validate.h"

#include <string.h>

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
