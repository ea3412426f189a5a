/* ag_registry: series lookup, types, buckets, series limit folding, staleness, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "expo.h"
#include "registry.h"

#define V(...) ((const char *const[]){__VA_ARGS__})

static struct ag_registry *new_reg(size_t limit, double stale)
{
    struct ag_registry *reg = NULL;
    struct ag_registry_opts o = {.series_limit = limit, .stale_after = stale};
    assert_int_equal(ag_registry_create(&o, &reg), 0);
    return reg;
}

static struct ag_family *add(struct ag_registry *reg, const char *name, enum ag_metric_type t,
                             const char *const *labels, size_t n)
{
    struct ag_family *f = NULL;
    struct ag_family_desc d = {
        .name = name, .help = "h", .type = t, .labels = labels, .nlabels = n};
    assert_int_equal(ag_registry_add(reg, &d, &f), 0);
    return f;
}

static double read1(struct ag_family *f, const char *const *v)
{
    double x = -1;
    assert_int_equal(ag_registry_read(f, v, &x), 0);
    return x;
}

static void test_counter_gauge(void **state)
{
    (void)state;
    struct ag_registry *reg = new_reg(0, 0);
    struct ag_family *c = add(reg, "x_total", AG_COUNTER, V("service_name", "syscall"), 2);
    struct ag_family *g = add(reg, "queue_bytes", AG_GAUGE, V("exporter"), 1);
    assert_int_equal(ag_counter_add(c, V("a", "read"), 1), 0);
    assert_int_equal(ag_counter_add(c, V("a", "read"), 2.5), 0);
    assert_int_equal(ag_counter_add(c, V("a", "write"), 1), 0);
    assert_true(read1(c, V("a", "read")) == 3.5);
    assert_true(read1(c, V("a", "write")) == 1);
    double x;
    assert_int_equal(ag_registry_read(c, V("b", "read"), &x), -ENOENT);
    /* ("ab","") and ("a","b") are different series. */
    ag_counter_add(c, V("ab", ""), 1);
    ag_counter_add(c, V("a", "b"), 7);
    assert_true(read1(c, V("ab", "")) == 1);
    assert_true(read1(c, V("a", "b")) == 7);
    assert_int_equal(ag_counter_add(c, V("a", "read"), -1), -EINVAL);
    assert_int_equal(ag_counter_set_total(c, V("a", "read"), 100), 0);
    assert_true(read1(c, V("a", "read")) == 100);
    assert_int_equal(ag_gauge_set(c, V("a", "read"), 1), -EINVAL);
    assert_int_equal(ag_hist_observe(c, V("a", "read"), 1), -EINVAL);
    assert_int_equal(ag_gauge_set(g, V("otlp"), 10), 0);
    assert_int_equal(ag_gauge_add(g, V("otlp"), -4), 0);
    assert_true(read1(g, V("otlp")) == 6);
    assert_int_equal(ag_counter_add(g, V("otlp"), 1), -EINVAL);
    /* 4 + 1; the overflow family has none yet */
    assert_int_equal(ag_registry_series_count(reg), 5);
    ag_registry_destroy(reg);
}

static void test_add_checks(void **state)
{
    (void)state;
    struct ag_registry *reg = new_reg(0, 0);
    struct ag_family *f;
    static const struct {
        const char *name;
        enum ag_metric_type type;
        const char *labels[2];
        size_t n;
        int want;
    } cases[] = {
        {"no_suffix", AG_COUNTER, {0}, 0, -EINVAL},  /* counters end in _total */
        {"1abc_total", AG_COUNTER, {0}, 0, -EINVAL}, /* starts with a digit */
        {"a-b_total", AG_COUNTER, {0}, 0, -EINVAL},
        {"ok_total", AG_COUNTER, {"a", "a"}, 2, -EINVAL}, /* duplicate label */
        {"ok_total", AG_COUNTER, {"__x"}, 1, -EINVAL},    /* reserved label */
        {"ok_total", AG_COUNTER, {"a:b"}, 1, -EINVAL},
        {"h_seconds", AG_HISTOGRAM, {"le"}, 1, -EINVAL}, /* le belongs to buckets */
        {"ok_total", AG_COUNTER, {"a"}, 1, 0},
        {"ok_total", AG_GAUGE, {0}, 0, -EEXIST},
        {"vigil_agent_series_overflow_total", AG_COUNTER, {"metric"}, 1, -EEXIST},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ag_family_desc d = {.name = cases[i].name,
                                   .help = "h",
                                   .type = cases[i].type,
                                   .labels = cases[i].labels,
                                   .nlabels = cases[i].n};
        assert_int_equal(ag_registry_add(reg, &d, &f), cases[i].want);
    }
    static const double bad[] = {1, 0.5};
    struct ag_family_desc d = {
        .name = "b_seconds", .help = "h", .type = AG_HISTOGRAM, .buckets = bad, .nbuckets = 2};
    assert_int_equal(ag_registry_add(reg, &d, &f), -EINVAL);
    ag_registry_destroy(reg);
    struct ag_registry_opts o = {.buckets = bad, .nbuckets = 2};
    assert_int_equal(ag_registry_create(&o, &reg), -EINVAL);
}

static void test_histogram(void **state)
{
    (void)state;
    struct ag_registry *reg = new_reg(0, 0);
    static const double b[] = {0.1, 1};
    struct ag_family *h;
    struct ag_family_desc d = {.name = "d_seconds",
                               .help = "h",
                               .type = AG_HISTOGRAM,
                               .labels = V("k"),
                               .nlabels = 1,
                               .buckets = b,
                               .nbuckets = 2};
    assert_int_equal(ag_registry_add(reg, &d, &h), 0);
    /* le is "less than or equal": 0.1 lands in the 0.1 bucket; 5 only in +Inf. */
    ag_hist_observe(h, V("x"), 0.1);
    ag_hist_observe(h, V("x"), 0.5);
    ag_hist_observe(h, V("x"), 5);
    struct ag_buf out = {0};
    assert_int_equal(ag_expo_render(reg, AG_EXPO_TEXT, &out), 0);
    assert_non_null(strstr(out.data, "d_seconds_bucket{k=\"x\",le=\"0.1\"} 1\n"
                                     "d_seconds_bucket{k=\"x\",le=\"1\"} 2\n"
                                     "d_seconds_bucket{k=\"x\",le=\"+Inf\"} 3\n"
                                     "d_seconds_sum{k=\"x\"} 5.6\n"
                                     "d_seconds_count{k=\"x\"} 3\n"));
    ag_buf_free(&out);
    assert_true(read1(h, V("x")) == 3);
    ag_registry_destroy(reg);
}

static void test_invalid_values(void **state)
{
    (void)state;
    struct ag_registry *reg = new_reg(0, 0);
    struct ag_family *c = add(reg, "x_total", AG_COUNTER, V("route"), 1);
    char longv[AG_LABEL_VALUE_MAX + 2];
    memset(longv, 'a', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    ag_counter_add(c, V("\xff\xfe"), 1);
    ag_counter_add(c, V("\xc0\xaf"), 1); /* overlong '/' */
    ag_counter_add(c, V(longv), 1);
    ag_counter_add(c, V("caf\xc3\xa9"), 1); /* valid UTF-8 stays */
    ag_counter_add(c, (const char *const[]){NULL}, 1);
    assert_true(read1(c, V("invalid")) == 3);
    assert_true(read1(c, V("caf\xc3\xa9")) == 1);
    assert_true(read1(c, V("")) == 1);
    ag_registry_destroy(reg);
}

static void test_series_limit(void **state)
{
    (void)state;
    struct ag_registry *reg = new_reg(4, 0);
    struct ag_family *c = add(reg, "r_total", AG_COUNTER, V("service_name", "route"), 2);
    struct ag_family *ov = ag_registry_find(reg, "vigil_agent_series_overflow_total");
    assert_non_null(ov);
    ag_counter_add(c, V("a", "/1"), 1);
    ag_counter_add(c, V("a", "/2"), 1);
    ag_counter_add(c, V("a", "/3"), 1);
    ag_counter_add(c, V("b", "/1"), 1);
    /* Full: a new route of service a folds into {a, other}; service_name is kept. */
    ag_counter_add(c, V("a", "/4"), 1);
    ag_counter_add(c, V("a", "/5"), 2);
    assert_true(read1(c, V("a", "other")) == 3);
    /* Existing series still update in place. */
    ag_counter_add(c, V("a", "/1"), 1);
    assert_true(read1(c, V("a", "/1")) == 2);
    /* Hard cap 4 + 4/8 + 1 = 5 reached: a new service folds into {other, other}. */
    ag_counter_add(c, V("c", "/9"), 1);
    assert_true(read1(c, V("other", "other")) == 1);
    double x;
    assert_int_equal(ag_registry_read(c, V("c", "other"), &x), -ENOENT);
    assert_true(read1(ov, V("r_total")) == 3);
    ag_registry_destroy(reg);
}

static void test_staleness(void **state)
{
    (void)state;
    struct ag_registry *reg = new_reg(0, 300);
    struct ag_family *c = add(reg, "s_total", AG_COUNTER, V("service_name", "syscall"), 2);
    struct ag_family *n = add(reg, "n_total", AG_COUNTER, V("reason"), 1);
    double x;
    ag_registry_sweep(reg, 100);
    ag_counter_add(c, V("a", "read"), 1);
    ag_counter_add(c, V("a", "write"), 1);
    ag_counter_add(c, V("b", "read"), 1);
    ag_counter_add(n, V("a"), 1); /* no service_name label: never stale */
    ag_registry_service_exited(reg, "a", 100);
    assert_int_equal(ag_registry_sweep(reg, 250), 0);
    ag_counter_add(c, V("a", "write"), 1); /* a late event keeps this one alive longer */
    assert_int_equal(ag_registry_sweep(reg, 399), 0);
    assert_int_equal(ag_registry_sweep(reg, 400), 1);
    assert_int_equal(ag_registry_read(c, V("a", "read"), &x), -ENOENT);
    assert_int_equal(ag_registry_read(c, V("a", "write"), &x), 0);
    assert_int_equal(ag_registry_sweep(reg, 550), 1);
    assert_int_equal(ag_registry_read(c, V("a", "write"), &x), -ENOENT);
    assert_int_equal(ag_registry_read(c, V("b", "read"), &x), 0);
    assert_int_equal(ag_registry_read(n, V("a"), &x), 0);
    /* A service that comes back is un-marked. */
    ag_registry_service_exited(reg, "b", 600);
    ag_registry_service_returned(reg, "b");
    assert_int_equal(ag_registry_sweep(reg, 2000), 0);
    assert_int_equal(ag_registry_read(c, V("b", "read"), &x), 0);
    ag_registry_destroy(reg);
}

static void *writer(void *arg)
{
    struct ag_family *h = arg;
    char route[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(route, sizeof(route), "/r%d", i % 500);
        ag_hist_observe(h, V("svc", "GET", "200", route), 0.001 * (i % 50));
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct ag_registry *reg = new_reg(0, 0);
    struct ag_family *h =
        add(reg, "t_seconds", AG_HISTOGRAM,
            V("service_name", "http_request_method", "http_response_status_code", "http_route"), 4);
    pthread_t t;
    pthread_create(&t, NULL, writer, h);
    for (int i = 0; i < 50; i++) {
        struct ag_buf out = {0};
        assert_int_equal(ag_expo_render(reg, AG_EXPO_OPENMETRICS, &out), 0);
        ag_buf_free(&out);
    }
    pthread_join(t, NULL);
    double total = 0, x;
    char route[16];
    for (int i = 0; i < 500; i++) {
        snprintf(route, sizeof(route), "/r%d", i);
        assert_int_equal(ag_registry_read(h, V("svc", "GET", "200", route), &x), 0);
        total += x;
    }
    assert_true(total == 20000);
    ag_registry_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge), cmocka_unit_test(test_add_checks),
        cmocka_unit_test(test_histogram),     cmocka_unit_test(test_invalid_values),
        cmocka_unit_test(test_series_limit),  cmocka_unit_test(test_staleness),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
