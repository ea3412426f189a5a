/* The command-line side of ag_config: --config first, then flags override the file. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

enum {
    OPT_CONFIG = 'c',
    OPT_HELP = 'h',
    OPT_VERSION = 'V',
    OPT_LISTEN = 256,
    OPT_BTF,
    OPT_WATCH,
    OPT_STALE,
    OPT_HEAD,
    OPT_TAIL,
    OPT_SERIES,
    OPT_ROUTE,
    OPT_LOG,
};

static const struct option options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"btf", required_argument, NULL, OPT_BTF},
    {"watch", required_argument, NULL, OPT_WATCH},
    {"stale-after", required_argument, NULL, OPT_STALE},
    {"head-bytes", required_argument, NULL, OPT_HEAD},
    {"tail-bytes", required_argument, NULL, OPT_TAIL},
    {"series-limit", required_argument, NULL, OPT_SERIES},
    {"route-pattern", required_argument, NULL, OPT_ROUTE},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char usage[] =
    "usage: vigil-agent [--config FILE] [options]\n"
    "  --config FILE           YAML settings (see agent/vigil-agent.yaml); flags override it\n"
    "  --listen ADDR:PORT      metrics endpoint (default 127.0.0.1:9400)\n"
    "  --btf PATH              kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"
    "  --watch SEL             all | exe:NAME,... | cgroup:PATH | pid:N,... (repeatable)\n"
    "  --stale-after SECONDS   drop series of exited services after this (default 300)\n"
    "  --head-bytes N          payload head captured per transfer, 64..4096 (default 512)\n"
    "  --tail-bytes N          payload tail captured per transfer, 0..1024 (default 64)\n"
    "  --series-limit N        series per metric before folding into 'other' (default 10000)\n"
    "  --route-pattern PATTERN route template such as /api/products/{id} (repeatable)\n"
    "  --log-level LEVEL       error | warn | info | debug (default info)\n"
    "  --help, --version\n"
    "exit status: 0 after SIGTERM/SIGINT; 2 for a bad flag or config, an unusable BTF, or\n"
    "tracefs/bpffs missing and not mountable (one line on stderr); 1 for other failures\n";

static const struct ag_config_key *key_named(const char *key)
{
    for (size_t i = 0; ag_config_keys[i].key; i++)
        if (strcmp(ag_config_keys[i].key, key) == 0)
            return &ag_config_keys[i];
    return NULL;
}

static int flag_error(FILE *err, const char *flag, const char *why, const char *value)
{
    fprintf(err, "vigil-agent: --%s: %s: '%s'\n", flag, why, value);
    return -1;
}

static int set_key(struct ag_config *c, FILE *err, const char *flag, const char *key,
                   const char *value)
{
    char why[160];
    if (key_named(key)->set(c, value, why, sizeof(why)) < 0)
        return flag_error(err, flag, why, value);
    return 0;
}

/* --watch SEL: the first one replaces the file's selection, later ones add to it. */
static int add_watch(struct ag_config *c, FILE *err, const char *sel, bool *first)
{
    if (*first) {
        ag_config_clear_list(c, "watch.exe");
        ag_config_clear_list(c, "watch.cgroup");
        ag_config_clear_list(c, "watch.pid");
        c->watch.mode = AG_WATCH_ALL;
        *first = false;
    }
    if (strcmp(sel, "all") == 0) {
        if (c->watch.mode == AG_WATCH_LIST)
            return flag_error(err, "watch", "'all' cannot be combined with a list", sel);
        return 0;
    }
    const char *key = strncmp(sel, "exe:", 4) == 0      ? "watch.exe"
                      : strncmp(sel, "cgroup:", 7) == 0 ? "watch.cgroup"
                      : strncmp(sel, "pid:", 4) == 0    ? "watch.pid"
                                                        : NULL;
    if (!key)
        return flag_error(err, "watch", "not all, exe:NAME,..., cgroup:PATH or pid:N,...", sel);
    const char *list = strchr(sel, ':') + 1;
    if (!*list)
        return flag_error(err, "watch", "empty list", sel);
    char *copy = strdup(list);
    if (!copy)
        return flag_error(err, "watch", "out of memory", sel);
    int rc = 0;
    /* A cgroup path is taken whole; exe names and pids are comma-separated. */
    bool whole = strcmp(key, "watch.cgroup") == 0;
    char *save = NULL;
    for (char *item = whole ? copy : strtok_r(copy, ",", &save); item && rc == 0;
         item = whole ? NULL : strtok_r(NULL, ",", &save)) {
        char why[160];
        if (key_named(key)->set(c, item, why, sizeof(why)) < 0)
            rc = flag_error(err, "watch", why, item);
    }
    free(copy);
    c->watch.mode = AG_WATCH_LIST;
    return rc;
}

static int apply_flag(struct ag_config *c, FILE *err, int opt, const char *arg, bool *first_watch,
                      bool *first_route)
{
    switch (opt) {
    case OPT_LISTEN:
        return set_key(c, err, "listen", "listen", arg);
    case OPT_BTF:
        return set_key(c, err, "btf", "btf", arg);
    case OPT_WATCH:
        return add_watch(c, err, arg, first_watch);
    case OPT_STALE:
        return set_key(c, err, "stale-after", "metrics.stale_after", arg);
    case OPT_HEAD:
        return set_key(c, err, "head-bytes", "capture.head_bytes", arg);
    case OPT_TAIL:
        return set_key(c, err, "tail-bytes", "capture.tail_bytes", arg);
    case OPT_SERIES:
        return set_key(c, err, "series-limit", "metrics.series_limit", arg);
    case OPT_ROUTE:
        if (*first_route) {
            ag_config_clear_list(c, "metrics.route_patterns");
            *first_route = false;
        }
        return set_key(c, err, "route-pattern", "metrics.route_patterns", arg);
    case OPT_LOG:
        return set_key(c, err, "log-level", "log_level", arg);
    default:
        return 0;
    }
}

enum ag_config_result ag_config_load_file(const char *path, FILE *err, struct ag_config **out)
{
    struct ag_config *c = ag_config_defaults();
    if (!c) {
        fprintf(err, "vigil-agent: out of memory\n");
        return AG_CONFIG_ERROR;
    }
    if (ag_config_parse_yaml(c, path, err) < 0) {
        ag_config_free(c);
        return AG_CONFIG_ERROR;
    }
    *out = c;
    return AG_CONFIG_RUN;
}

enum ag_config_result ag_config_from_args(int argc, char **argv, FILE *out, FILE *err,
                                          struct ag_config **conf)
{
    const char *path = NULL;
    int opt;
    /* Pass 1: --config, --help, --version and unknown options, before reading any file. */
    opterr = 0;
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":c:hV", options, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            fprintf(err, "vigil-agent: %s '%s' (see --help)\n",
                    opt == '?' ? "unknown option" : "missing value for", argv[optind - 1]);
            return AG_CONFIG_ERROR;
        }
        if (opt == OPT_HELP) {
            fputs(usage, out);
            return AG_CONFIG_DONE;
        }
        if (opt == OPT_VERSION) {
            fprintf(out, "vigil-agent %s\n", AG_VERSION);
            return AG_CONFIG_DONE;
        }
        if (opt == OPT_CONFIG)
            path = optarg;
    }
    if (optind < argc) {
        fprintf(err, "vigil-agent: unexpected argument '%s' (see --help)\n", argv[optind]);
        return AG_CONFIG_ERROR;
    }
    struct ag_config *c = NULL;
    if (path) {
        if (ag_config_load_file(path, err, &c) != AG_CONFIG_RUN)
            return AG_CONFIG_ERROR;
    } else if (!(c = ag_config_defaults())) {
        fprintf(err, "vigil-agent: out of memory\n");
        return AG_CONFIG_ERROR;
    }
    /* Pass 2: the flags, in order, over the file. */
    bool first_watch = true, first_route = true;
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":c:hV", options, NULL)) != -1) {
        if (apply_flag(c, err, opt, optarg, &first_watch, &first_route) < 0) {
            ag_config_free(c);
            return AG_CONFIG_ERROR;
        }
    }
    *conf = c;
    return AG_CONFIG_RUN;
}
