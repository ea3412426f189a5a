/* ag_config: every bad file or flag is exactly one line naming file, line and key; good files
 * and flags land in the struct. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char dir[] = "/tmp/test_config.XXXXXX";

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs argv, returns the result; err receives what the agent would print. */
static enum ag_config_result run(char *err, size_t errsz, struct ag_config **c, int argc, ...)
{
    char *argv[16] = {"vigil-agent"};
    va_list ap;
    va_start(ap, argc);
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    FILE *e = fmemopen(err, errsz, "w");
    FILE *o = fopen("/dev/null", "w");
    memset(err, 0, errsz);
    enum ag_config_result r = ag_config_from_args(argc, argv, o, e, c);
    fclose(e);
    if (getenv("TEST_CONFIG_VERBOSE"))
        fprintf(stderr, "%s", err);
    fclose(o);
    return r;
}

static void test_bad_files(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"capture:\n  head_bytes: abc\n",
         "vigil-agent: agent.yaml:2: capture.head_bytes: not an integer in 64..4096: 'abc'\n"},
        {"capture:\n  head_bytes: 8192\n",
         "vigil-agent: agent.yaml:2: capture.head_bytes: not an integer in 64..4096: '8192'\n"},
        {"capture:\n  head_bytes: -1\n",
         "vigil-agent: agent.yaml:2: capture.head_bytes: not an integer in 64..4096: '-1'\n"},
        {"capture:\n  head_bytes:\n",
         "vigil-agent: agent.yaml:2: capture.head_bytes: not an integer in 64..4096: ''\n"},
        {"capture:\n  ring_buffer_bytes: 100000\n",
         "vigil-agent: agent.yaml:2: capture.ring_buffer_bytes: not a power of two in "
         "4096..1073741824: '100000'\n"},
        {"listen: 127.0.0.1\n", "vigil-agent: agent.yaml:1: listen: not ADDR:PORT (127.0.0.1:9400, "
                                "[::1]:9400, :9400): '127.0.0.1'\n"},
        {"listen: 127.0.0.1:99999\n", "vigil-agent: agent.yaml:1: listen: not ADDR:PORT "
                                      "(127.0.0.1:9400, [::1]:9400, :9400): '127.0.0.1:99999'\n"},
        {"\n\nlisten: x\nbogus: 1\n", "vigil-agent: agent.yaml:3: listen: not ADDR:PORT "
                                      "(127.0.0.1:9400, [::1]:9400, :9400): 'x'\n"},
        {"bogus: 1\n", "vigil-agent: agent.yaml:1: bogus: unknown key\n"},
        {"metrics:\n  series_limits: 5\n",
         "vigil-agent: agent.yaml:2: metrics.series_limits: unknown key\n"},
        {"metrics:\n  series_limit: 0\n",
         "vigil-agent: agent.yaml:2: metrics.series_limit: not an integer in 1..1000000: '0'\n"},
        {"metrics:\n  stale_after: 0.5\n",
         "vigil-agent: agent.yaml:2: metrics.stale_after: not a number of seconds in 1..86400: "
         "'0.5'\n"},
        {"metrics:\n  buckets: [0.1, 0.5,\n    0.2]\n",
         "vigil-agent: agent.yaml:3: metrics.buckets: not greater than the bucket before it: "
         "'0.2'\n"},
        {"metrics:\n  buckets: [0.1, abc]\n",
         "vigil-agent: agent.yaml:2: metrics.buckets: not a positive number of seconds: 'abc'\n"},
        {"metrics:\n  buckets: []\n", "vigil-agent: agent.yaml:2: metrics.buckets: empty list\n"},
        {"metrics:\n  buckets: 0.1\n", "vigil-agent: agent.yaml:2: metrics.buckets: not a list\n"},
        {"metrics:\n  route_patterns: [api/x]\n",
         "vigil-agent: agent.yaml:2: metrics.route_patterns: not a route pattern (starts with "
         "'/'): 'api/x'\n"},
        {"metrics: 5\n", "vigil-agent: agent.yaml:1: metrics: not a mapping of keys\n"},
        {"capture: {head_bytes: 100}\ncapture: {}\n",
         "vigil-agent: agent.yaml:2: capture: duplicate key\n"},
        {"syscalls:\n  enabled: yes\n",
         "vigil-agent: agent.yaml:2: syscalls.enabled: not true or false: 'yes'\n"},
        {"watch:\n  mode: some\n",
         "vigil-agent: agent.yaml:2: watch.mode: not all or list: 'some'\n"},
        {"watch:\n  mode: all\n  exe: [nginx]\n",
         "vigil-agent: agent.yaml:2: watch.mode: 'all' with exe, cgroup or pid lists (use mode: "
         "list)\n"},
        {"watch:\n  mode: list\n", "vigil-agent: agent.yaml:2: watch.mode: 'list' needs exe, "
                                   "cgroup or pid\n"},
        {"watch:\n  pid: [12, x]\n",
         "vigil-agent: agent.yaml:2: watch.pid: not a pid in 1..4194304: 'x'\n"},
        {"watch:\n  exe: [/usr/bin/nginx]\n",
         "vigil-agent: agent.yaml:2: watch.exe: not an executable name (a basename, no '/'): "
         "'/usr/bin/nginx'\n"},
        {"watch:\n  cgroup: [system.slice]\n",
         "vigil-agent: agent.yaml:2: watch.cgroup: not a cgroup path (starts with '/'): "
         "'system.slice'\n"},
        {"btf: /nonexistent/vmlinux\n", "vigil-agent: agent.yaml:1: btf: cannot read: No such "
                                        "file or directory: '/nonexistent/vmlinux'\n"},
        {"btf: /tmp\n", "vigil-agent: agent.yaml:1: btf: not a regular file: '/tmp'\n"},
        {"log_level: loud\n", "vigil-agent: agent.yaml:1: log_level: not error, warn, info or "
                              "debug: 'loud'\n"},
        {"capture:\n  head_bytes: [1]\n",
         "vigil-agent: agent.yaml:2: capture.head_bytes: not a single value\n"},
        {"- a\n- b\n", "vigil-agent: agent.yaml:1: (top): not a mapping of keys\n"},
        {"capture:\n  head_bytes: 1\n   tail: [\n",
         "vigil-agent: agent.yaml:3: syntax error: mapping values are not allowed in this "
         "context\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512];
        struct ag_config *c = NULL;
        write_file("agent.yaml", cases[i].yaml);
        enum ag_config_result r = run(err, sizeof(err), &c, 3, "--config", "agent.yaml");
        if (strcmp(err, cases[i].want) != 0)
            fprintf(stderr, "case %zu:\n  got  %s  want %s", i, err, cases[i].want);
        assert_int_equal(r, AG_CONFIG_ERROR);
        assert_string_equal(err, cases[i].want);
        assert_null(c);
    }
}

static void test_bad_flags(void **state)
{
    (void)state;
    static const struct {
        const char *flag, *value, *want;
    } cases[] = {
        {"--head-bytes", "abc", "vigil-agent: --head-bytes: not an integer in 64..4096: 'abc'\n"},
        {"--btf", "/nope", "vigil-agent: --btf: cannot read: No such file or directory: '/nope'\n"},
        {"--listen", "nowhere",
         "vigil-agent: --listen: not ADDR:PORT (127.0.0.1:9400, "
         "[::1]:9400, :9400): 'nowhere'\n"},
        {"--watch", "exe:", "vigil-agent: --watch: empty list: 'exe:'\n"},
        {"--watch", "comm:x",
         "vigil-agent: --watch: not all, exe:NAME,..., cgroup:PATH or "
         "pid:N,...: 'comm:x'\n"},
        {"--watch", "pid:1,zz", "vigil-agent: --watch: not a pid in 1..4194304: 'zz'\n"},
        {"--stale-after", "0",
         "vigil-agent: --stale-after: not a number of seconds in "
         "1..86400: '0'\n"},
        {"--series-limit", "1e3",
         "vigil-agent: --series-limit: not an integer in 1..1000000: "
         "'1e3'\n"},
        {"--route-pattern", "x",
         "vigil-agent: --route-pattern: not a route pattern (starts "
         "with '/'): 'x'\n"},
        {"--route-pattern", "/api/x{id}",
         "vigil-agent: --route-pattern: '{name}' must be a whole segment, name of letters, "
         "digits and '_': '/api/x{id}'\n"},
        {"--route-pattern", "/api?x",
         "vigil-agent: --route-pattern: has '?' or '#' (patterns match the path without its "
         "query): '/api?x'\n"},
        {"--log-level", "trace",
         "vigil-agent: --log-level: not error, warn, info or debug: "
         "'trace'\n"},
        {"--config", "missing.yaml",
         "vigil-agent: missing.yaml: cannot read: No such file or "
         "directory\n"},
        {"--bogus", "1", "vigil-agent: unknown option '--bogus' (see --help)\n"},
        {"extra", "arg", "vigil-agent: unexpected argument 'extra' (see --help)\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512];
        struct ag_config *c = NULL;
        enum ag_config_result r =
            run(err, sizeof(err), &c, 3, (char *)cases[i].flag, (char *)cases[i].value);
        if (strcmp(err, cases[i].want) != 0)
            fprintf(stderr, "case %zu:\n  got  %s  want %s", i, err, cases[i].want);
        assert_int_equal(r, AG_CONFIG_ERROR);
        assert_string_equal(err, cases[i].want);
    }
    char err[512];
    struct ag_config *c = NULL;
    assert_int_equal(run(err, sizeof(err), &c, 2, "--listen"), AG_CONFIG_ERROR);
    assert_string_equal(err, "vigil-agent: missing value for '--listen' (see --help)\n");
    assert_int_equal(run(err, sizeof(err), &c, 5, "--watch", "exe:a", "--watch", "all"),
                     AG_CONFIG_ERROR);
    assert_int_equal(run(err, sizeof(err), &c, 2, "--help"), AG_CONFIG_DONE);
    assert_int_equal(run(err, sizeof(err), &c, 2, "--version"), AG_CONFIG_DONE);
}

static void test_good(void **state)
{
    (void)state;
    char err[512];
    struct ag_config *c = NULL;
    assert_int_equal(run(err, sizeof(err), &c, 1), AG_CONFIG_RUN);
    assert_string_equal(c->listen, "127.0.0.1:9400");
    assert_int_equal(c->head_bytes, 512);
    assert_int_equal(c->nbuckets, 16);
    assert_int_equal(c->watch.mode, AG_WATCH_ALL);
    assert_true(c->stale_after == 300);
    ag_config_free(c);

    write_file("agent.yaml",
               "# comment\n"
               "listen: \"[::1]:9500\"\n"
               "watch:\n  exe: [vg-gateway, nginx]\n  pid: [42]\n"
               "capture: {head_bytes: 1024, tail_bytes: 0, ring_buffer_bytes: 65536}\n"
               "metrics:\n  buckets: [0.001, 0.01, 1]\n  series_limit: 50\n"
               "  stale_after: 2.5\n  route_patterns: [\"/api/products/{id}\"]\n"
               "syscalls: {enabled: false, latency: false}\nlog_level: debug\n");
    assert_int_equal(run(err, sizeof(err), &c, 7, "--config", "agent.yaml", "--head-bytes", "64",
                         "--route-pattern", "/x/{id}"),
                     AG_CONFIG_RUN);
    assert_string_equal(err, "");
    assert_int_equal(c->listen_addr.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&c->listen_addr)->sin6_port), 9500);
    assert_int_equal(c->watch.mode, AG_WATCH_LIST);
    assert_int_equal(c->watch.nexe, 2);
    assert_string_equal(c->watch.exe[1], "nginx");
    assert_int_equal(c->watch.npid, 1);
    assert_int_equal(c->watch.pid[0], 42);
    assert_int_equal(c->head_bytes, 64); /* the flag wins over the file */
    assert_int_equal(c->tail_bytes, 0);
    assert_int_equal(c->ring_buffer_bytes, 65536);
    assert_int_equal(c->nbuckets, 3);
    assert_true(c->buckets[2] == 1);
    assert_int_equal(c->series_limit, 50);
    assert_true(c->stale_after == 2.5);
    assert_int_equal(c->nroute_patterns, 1); /* the flag replaced the file's list */
    assert_string_equal(c->route_patterns[0], "/x/{id}");
    assert_false(c->syscalls_enabled);
    assert_int_equal(c->log_level, AG_LOG_DEBUG);
    ag_config_free(c);

    /* --watch replaces the file's selection; repeated, it accumulates. */
    assert_int_equal(run(err, sizeof(err), &c, 7, "--config", "agent.yaml", "--watch",
                         "exe:redis-server", "--watch", "cgroup:/system.slice/a,b.service"),
                     AG_CONFIG_RUN);
    assert_int_equal(c->watch.nexe, 1);
    assert_int_equal(c->watch.npid, 0);
    assert_int_equal(c->watch.ncgroup, 1);
    assert_string_equal(c->watch.cgroup[0], "/system.slice/a,b.service");
    ag_config_free(c);

    assert_int_equal(run(err, sizeof(err), &c, 3, "--listen", ":9401"), AG_CONFIG_RUN);
    assert_int_equal(c->listen_addr.ss_family, AF_INET);
    ag_config_free(c);

    write_file("empty.yaml", "");
    assert_int_equal(run(err, sizeof(err), &c, 3, "--config", "empty.yaml"), AG_CONFIG_RUN);
    ag_config_free(c);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir) || chdir(dir) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink("agent.yaml");
    unlink("empty.yaml");
    if (chdir("/") != 0)
        return -1;
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_good),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
