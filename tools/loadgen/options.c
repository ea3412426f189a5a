#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Shopper i binds 127.0.(i/250).(2+i%250): 256 * 250 addresses. */
#define LG_MAX_SHOPPERS 64000u

const char *const lg_action_names[LG_NSTEPS] = {
    [LG_BROWSE] = "browse",    [LG_SEARCH] = "search",      [LG_VIEW] = "view",
    [LG_ADD] = "add",          [LG_CART] = "cart",          [LG_CHECKOUT] = "checkout",
    [LG_E404] = "e404",        [LG_E400] = "e400",          [LG_E401] = "e401",
    [LG_E402] = "e402",        [LG_E409] = "e409",          [LG_STEP_REGISTER] = "register",
    [LG_STEP_LOGIN] = "login", [LG_STEP_REMOVE] = "remove",
};

static const unsigned default_weights[LG_NACTIONS] = {
    [LG_BROWSE] = 25, [LG_SEARCH] = 15, [LG_VIEW] = 30,
    [LG_ADD] = 15,    [LG_CART] = 5,    [LG_CHECKOUT] = 5,
};

/* --errors: about 8 % of the loop's requests are deliberate client errors. */
static const unsigned error_weights[LG_NACTIONS] = {
    [LG_E404] = 2, [LG_E400] = 2, [LG_E401] = 2, [LG_E402] = 1, [LG_E409] = 1,
};

static void usage(FILE *out)
{
    fputs("usage: vg-loadgen [options]\n"
          "Simulated shoppers against the shop's public API; prints one JSON report on stdout.\n"
          "  --url URL            gateway base URL (default http://127.0.0.1:8080)\n"
          "  --shoppers N         shoppers, each with its own 127.0.x.y source address (10)\n"
          "  --concurrency C      max requests in flight (default: --shoppers)\n"
          "  --rate R             requests/s target, token-paced; 0 = as fast as possible (0)\n"
          "  --requests N         send exactly N requests, then stop\n"
          "  --duration S         stop starting requests after S seconds (10 when neither\n"
          "                       --requests nor --duration is given; both: the first wins)\n"
          "  --timeout-ms MS      per-request timeout (5000)\n"
          "  --errors             add the error mix: e404 e400 e401 e402 e409\n"
          "  --mix NAME=W,...     set action weights; names: browse search view add cart\n"
          "                       checkout e404 e400 e401 e402 e409 (unnamed keep defaults)\n"
          "  --products N         catalogue ids 1..N (default: learned from the listing)\n"
          "  --seed S             random seed (1)\n"
          "  --run-id ID          tag in shopper emails (default: from time and pid)\n"
          "  --no-source-addrs    do not bind shoppers to their own loopback addresses\n"
          "  --quiet              no progress on stderr\n",
          out);
}

static int bad(const char *flag, const char *why, const char *value)
{
    if (value)
        fprintf(stderr, "vg-loadgen: %s: %s: '%s' (see --help)\n", flag, why, value);
    else
        fprintf(stderr, "vg-loadgen: %s: %s (see --help)\n", flag, why);
    return -1;
}

static int parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (!*s || *s == '-' || *s == '+')
        return bad(flag, "not a non-negative integer", s);
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return bad(flag, "not a non-negative integer", s);
    if (v < min || v > max) {
        char why[96];

        snprintf(why, sizeof(why), "must be between %llu and %llu", (unsigned long long)min,
                 (unsigned long long)max);
        return bad(flag, why, s);
    }
    *out = v;
    return 0;
}

static int parse_double(const char *flag, const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return bad(flag, "not a number", s);
    if (v < min || v > max) {
        char why[96];

        snprintf(why, sizeof(why), "must be between %g and %g", min, max);
        return bad(flag, why, s);
    }
    *out = v;
    return 0;
}

/* "view=10,e404=2": each name once or more (the last wins), weights 0..1000000. */
static int parse_mix(const char *mix, unsigned *weights)
{
    char buf[512];
    char *save = NULL;

    if (strlen(mix) >= sizeof(buf))
        return bad("--mix", "too long", NULL);
    strcpy(buf, mix);
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        uint64_t w;
        int found = -1;

        if (!eq)
            return bad("--mix", "expected NAME=WEIGHT", item);
        *eq = '\0';
        for (int a = 0; a < LG_NACTIONS; a++)
            if (strcmp(item, lg_action_names[a]) == 0)
                found = a;
        if (found < 0)
            return bad("--mix",
                       "unknown action (browse search view add cart checkout e404 "
                       "e400 e401 e402 e409)",
                       item);
        if (parse_u64("--mix", eq + 1, 0, 1000000, &w))
            return -1;
        weights[found] = (unsigned)w;
    }
    return 0;
}

enum {
    OPT_URL = 256,
    OPT_SHOPPERS,
    OPT_CONCURRENCY,
    OPT_RATE,
    OPT_REQUESTS,
    OPT_DURATION,
    OPT_TIMEOUT,
    OPT_ERRORS,
    OPT_MIX,
    OPT_PRODUCTS,
    OPT_SEED,
    OPT_RUN_ID,
    OPT_NO_SRC,
    OPT_QUIET,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"shoppers", required_argument, NULL, OPT_SHOPPERS},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"rate", required_argument, NULL, OPT_RATE},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"errors", no_argument, NULL, OPT_ERRORS},
    {"mix", required_argument, NULL, OPT_MIX},
    {"products", required_argument, NULL, OPT_PRODUCTS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"run-id", required_argument, NULL, OPT_RUN_ID},
    {"no-source-addrs", no_argument, NULL, OPT_NO_SRC},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int set_url(const char *s, struct lg_options *opts)
{
    size_t n = strlen(s);

    if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
        return bad("--url", "must start with http:// or https://", s);
    if (n >= sizeof(opts->url))
        return bad("--url", "too long", NULL);
    while (n > 0 && s[n - 1] == '/')
        n--;
    memcpy(opts->url, s, n);
    opts->url[n] = '\0';
    return 0;
}

static int check_run_id(const char *s, struct lg_options *opts)
{
    size_t n = strlen(s);

    if (n == 0 || n >= sizeof(opts->run_id) ||
        strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
        return bad("--run-id", "1-32 characters from [a-z0-9]", s);
    memcpy(opts->run_id, s, n + 1);
    return 0;
}

static int one_option(int c, const char *arg, struct lg_options *o, bool *errors, const char **mix)
{
    uint64_t u;

    switch (c) {
    case OPT_URL:
        return set_url(arg, o);
    case OPT_SHOPPERS:
        if (parse_u64("--shoppers", arg, 1, LG_MAX_SHOPPERS, &u))
            return -1;
        o->shoppers = (unsigned)u;
        return 0;
    case OPT_CONCURRENCY:
        if (parse_u64("--concurrency", arg, 1, LG_MAX_SHOPPERS, &u))
            return -1;
        o->concurrency = (unsigned)u;
        return 0;
    case OPT_RATE:
        return parse_double("--rate", arg, 0, 1e7, &o->rate);
    case OPT_REQUESTS:
        return parse_u64("--requests", arg, 1, UINT64_MAX / 2, &o->requests);
    case OPT_DURATION:
        if (parse_double("--duration", arg, 0, 86400 * 7, &o->duration_s))
            return -1;
        return o->duration_s > 0 ? 0 : bad("--duration", "must be more than 0", arg);
    case OPT_TIMEOUT:
        if (parse_u64("--timeout-ms", arg, 1, 600000, &u))
            return -1;
        o->timeout_ms = (long)u;
        return 0;
    case OPT_ERRORS:
        *errors = true;
        return 0;
    case OPT_MIX:
        *mix = arg;
        return 0;
    case OPT_PRODUCTS:
        if (parse_u64("--products", arg, 1, 1000000000, &u))
            return -1;
        o->products = (unsigned)u;
        return 0;
    case OPT_SEED:
        return parse_u64("--seed", arg, 0, UINT64_MAX, &o->seed);
    case OPT_RUN_ID:
        return check_run_id(arg, o);
    case OPT_NO_SRC:
        o->source_addrs = false;
        return 0;
    case OPT_QUIET:
        o->quiet = true;
        return 0;
    default:
        return -1;
    }
}

int lg_options_parse(int argc, char **argv, struct lg_options *opts)
{
    bool errors = false;
    const char *mix = NULL;
    unsigned total = 0;
    int c;

    memset(opts, 0, sizeof(*opts));
    strcpy(opts->url, "http://127.0.0.1:8080");
    opts->shoppers = 10;
    opts->timeout_ms = 5000;
    opts->seed = 1;
    opts->source_addrs = true;
    snprintf(opts->run_id, sizeof(opts->run_id), "%lx%x", (unsigned long)time(NULL),
             (unsigned)getpid());

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        if (c == 'h' || c == OPT_HELP) {
            usage(stdout);
            return 1;
        }
        if (c == ':')
            return bad(argv[optind - 1], "needs a value", NULL);
        if (c == '?')
            return bad(argv[optind - 1], "unknown option", NULL);
        if (one_option(c, optarg, opts, &errors, &mix))
            return -1;
    }
    if (optind < argc)
        return bad(argv[optind], "unexpected argument (options start with --)", NULL);

    memcpy(opts->weights, default_weights, sizeof(opts->weights));
    if (errors)
        for (int a = 0; a < LG_NACTIONS; a++)
            opts->weights[a] += error_weights[a];
    if (mix && parse_mix(mix, opts->weights))
        return -1;
    for (int a = 0; a < LG_NACTIONS; a++)
        total += opts->weights[a];
    if (total == 0)
        return bad("--mix", "every weight is 0", mix);
    if (opts->concurrency == 0 || opts->concurrency > opts->shoppers)
        opts->concurrency = opts->shoppers; /* a shopper has one request in flight */
    if (opts->requests == 0 && opts->duration_s == 0)
        opts->duration_s = 10;
    return 0;
}
