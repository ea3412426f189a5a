/* ag_discovery and procnet: /proc/net/tcp{,6} rows, environ and cgroup parsing, and a scan plus
 * socket seeding over a fake /proc tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discovery.h"
#include "procnet.h"

static const char tcp4[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "12345 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:CF08 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 "
    "12346 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0100007F:1F90 0100007F:CF08 01 00000000:00000000 00:00000000 00000000     0        0 "
    "12347 1 0000000000000000 20 4 30 10 -1\n"
    "   3: 0100007F:1F90 0100007F:CF09 06 00000000:00000000 03:00001770 00000000     0        0 "
    "0 3 0000000000000000\n";

static const char tcp6[] =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 22222 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0000000000000000FFFF00000100007F:1F91 0000000000000000FFFF00000100007F:C350 01 "
    "00000000:00000000 00:00000000 00000000     0        0 22223 1 0000000000000000 20 4 0 10 -1\n"
    "   2: 00000000000000000000000001000000:D000 00000000000000000000000001000000:1F91 01 "
    "00000000:00000000 00:00000000 00000000     0        0 22224 1 0000000000000000 20 4 0 10 -1\n";

static void test_procnet_v4(void **state)
{
    (void)state;
    struct ag_procnet_entry e;
    const char *line = strchr(tcp4, '\n') + 1;
    assert_int_equal(ag_procnet_parse_line(tcp4, strcspn(tcp4, "\n"), 0, &e), 0); /* header */
    assert_int_equal(ag_procnet_parse_line(line, strcspn(line, "\n"), 0, &e), 1);
    assert_int_equal(e.tuple.family, AF_INET);
    assert_memory_equal(e.tuple.laddr, "\x7f\x00\x00\x01", 4);
    assert_int_equal(e.tuple.lport, 8080);
    assert_int_equal(e.state, AG_TCP_LISTEN);
    assert_int_equal(e.inode, 12345);
    line = strchr(line, '\n') + 1;
    assert_int_equal(ag_procnet_parse_line(line, strcspn(line, "\n"), 0, &e), 1);
    assert_int_equal(e.tuple.lport, 0xCF08);
    assert_int_equal(e.tuple.rport, 8080);
    assert_int_equal(e.state, AG_TCP_ESTABLISHED);
    static const char *const bad[] = {
        "   0: 0100007F:1F90",
        "   0: 0100007G:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
        "   0: 0100007F-1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x",
        "garbage",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ag_procnet_parse_line(bad[i], strlen(bad[i]), 0, &e), -1);
}

static int count_row(const struct ag_procnet_entry *e, void *ctx)
{
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static void test_procnet_v6(void **state)
{
    (void)state;
    struct ag_procnet_entry e[3];
    const char *line = tcp6;
    for (int i = 0; i < 3; i++) {
        line = strchr(line, '\n') + 1;
        assert_int_equal(ag_procnet_parse_line(line, strcspn(line, "\n"), 1, &e[i]), 1);
    }
    assert_int_equal(e[0].tuple.family, AF_INET6);
    assert_int_equal(e[0].state, AG_TCP_LISTEN);
    /* v4-mapped stays AF_INET6, as the BPF side reports it; unmap gives the IPv4 view. */
    assert_int_equal(e[1].tuple.family, AF_INET6);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, e[1].tuple.laddr, text, sizeof(text));
    assert_string_equal(text, "::ffff:127.0.0.1");
    ag_tuple_unmap(&e[1].tuple);
    assert_int_equal(e[1].tuple.family, AF_INET);
    assert_memory_equal(e[1].tuple.raddr, "\x7f\x00\x00\x01", 4);
    assert_int_equal(e[1].tuple.rport, 0xC350);
    inet_ntop(AF_INET6, e[2].tuple.laddr, text, sizeof(text));
    assert_string_equal(text, "::1");
    /* The accepted IPv4 connection and the ::1 one both hit the dual-stack :: listener... */
    assert_int_equal(ag_infer_side(&e[1], e, 3), AG_SIDE_SERVER);
    /* ...but a connection from local port 0xD000 to 8081 is a client. */
    assert_int_equal(ag_infer_side(&e[2], e, 3), AG_SIDE_CLIENT);
    assert_int_equal(ag_infer_side(&e[0], e, 3), AG_SIDE_LISTENER);
    int n = 0;
    size_t bad = 0;
    assert_int_equal(ag_procnet_parse(tcp6, sizeof(tcp6) - 1, 1, count_row, &n, &bad), 0);
    assert_int_equal(n, 3);
    assert_int_equal(bad, 0);
    n = 0;
    assert_int_equal(ag_procnet_parse(tcp4, sizeof(tcp4) - 1, 0, count_row, &n, &bad), 0);
    assert_int_equal(n, 4);
}

static void test_environ_cgroup_exe(void **state)
{
    (void)state;
    static const char env[] = "PATH=/bin\0OTEL_SERVICE_NAMEX=no\0OTEL_SERVICE_NAME=gateway\0";
    const char *v;
    size_t n;
    assert_int_equal(ag_environ_get(env, sizeof(env) - 1, "OTEL_SERVICE_NAME", &v, &n), 1);
    assert_int_equal(n, 7);
    assert_memory_equal(v, "gateway", 7);
    assert_int_equal(ag_environ_get(env, sizeof(env) - 1, "HOME", &v, &n), 0);
    /* A block cut short (the kernel reads at most a page at a time) still parses. */
    static const char cut[] = "A=1\0OTEL_SERVICE_NAME=ord";
    assert_int_equal(ag_environ_get(cut, sizeof(cut) - 1, "OTEL_SERVICE_NAME", &v, &n), 1);
    assert_int_equal(n, 3);
    assert_int_equal(ag_environ_get("", 0, "A", &v, &n), 0);

    static const char v2[] = "0::/system.slice/nginx.service\n";
    static const char v1[] = "12:pids:/user.slice\n1:name=systemd:/system.slice/redis.service\n";
    assert_true(ag_cgroup_matches(v2, strlen(v2), "/system.slice"));
    assert_true(ag_cgroup_matches(v2, strlen(v2), "/system.slice/nginx.service/"));
    assert_false(ag_cgroup_matches(v2, strlen(v2), "/system.slice/nginx"));
    assert_true(ag_cgroup_matches(v2, strlen(v2), "/"));
    assert_true(ag_cgroup_matches(v1, strlen(v1), "/system.slice/redis.service"));
    assert_false(ag_cgroup_matches(v1, strlen(v1), "/kubepods"));

    char out[32];
    ag_exe_basename("/usr/local/bin/vg-gateway (deleted)", out, sizeof(out));
    assert_string_equal(out, "vg-gateway");
    ag_exe_basename("/usr/sbin/nginx", out, sizeof(out));
    assert_string_equal(out, "nginx");
    ag_exe_basename("/a/averyveryverylongexecutablename", out, 8);
    assert_string_equal(out, "averyve");
}

/* ---- a fake /proc ---- */
static char root[] = "/tmp/test_discovery.XXXXXX";

static void put(const char *rel, const char *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fwrite(data, 1, len, f);
    fclose(f);
}

static void link_to(const char *rel, const char *target)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    assert_int_equal(symlink(target, path), 0);
}

#define PUTS(rel, s) put(rel, s, sizeof(s) - 1)

static int make_tree(void **state)
{
    (void)state;
    if (!mkdtemp(root))
        return -1;
    link_to("100/exe", "/usr/bin/vg-gateway");
    PUTS("100/comm", "vg-gateway\n");
    PUTS("100/environ", "PATH=/bin\0OTEL_SERVICE_NAME=gateway\0");
    PUTS("100/cgroup", "0::/system.slice/shop.service\n");
    link_to("100/fd/3", "socket:[12345]");
    link_to("100/fd/4", "socket:[12347]");
    link_to("100/fd/5", "/dev/null");
    link_to("100/ns/net", "net:[4026531840]");
    put("100/net/tcp", tcp4, sizeof(tcp4) - 1);
    put("100/net/tcp6", tcp6, sizeof(tcp6) - 1);
    link_to("200/exe", "/usr/bin/curl");
    PUTS("200/comm", "curl\n");
    PUTS("200/environ", "");
    PUTS("200/cgroup", "0::/user.slice\n");
    link_to("200/fd/3", "socket:[12346]");
    link_to("200/ns/net", "net:[4026531840]");
    PUTS("300/comm", "kworker/0:1\n"); /* a kernel thread: no exe */
    link_to("400/exe", "/usr/bin/vigil-agent");
    PUTS("400/comm", "vigil-agent\n");
    PUTS("400/environ", "");
    PUTS("400/cgroup", "0::/system.slice/shop.service\n");
    PUTS("self", "not a pid directory");
    return 0;
}

static int remove_tree(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    return system(cmd);
}

static int ups, downs;
static char last_down[64];
static void up(void *ctx, const char *s)
{
    (void)ctx;
    (void)s;
    ups++;
}
static void down(void *ctx, const char *s)
{
    (void)ctx;
    downs++;
    snprintf(last_down, sizeof(last_down), "%s", s);
}

static struct ag_discovery *scan(const struct ag_watch *w, int want)
{
    struct ag_discovery *d;
    struct ag_discovery_opts o = {
        .watch = w, .proc_root = root, .self = 400, .service_up = up, .service_down = down};
    assert_int_equal(ag_discovery_create(&o, &d), 0);
    assert_int_equal(ag_discovery_scan(d), want);
    return d;
}

static void test_scan_and_seed(void **state)
{
    (void)state;
    ups = downs = 0;
    struct ag_discovery *d = scan(NULL, 2); /* 100 and 200; not the kthread, not ourselves */
    uint32_t gw, curl, idx;
    assert_int_equal(ag_discovery_lookup(d, 100, &gw), 1);
    assert_string_equal(ag_discovery_service_name(d, gw), "gateway");
    assert_int_equal(ag_discovery_lookup(d, 200, &curl), 1);
    assert_string_equal(ag_discovery_service_name(d, curl), "curl");
    assert_int_equal(ag_discovery_lookup(d, 300, &idx), 0);
    assert_int_equal(ag_discovery_lookup(d, 400, &idx), 0);
    assert_null(ag_discovery_service_name(d, 0));
    assert_int_equal(ups, 2);

    struct ag_seed_sock *s;
    size_t n;
    assert_int_equal(ag_discovery_seed_sockets(d, &s, &n), 0);
    assert_int_equal(n, 3);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].tgid == 100 && s[i].fd == 3) {
            assert_int_equal(s[i].side, AG_SIDE_LISTENER);
            seen |= 1;
        } else if (s[i].tgid == 100 && s[i].fd == 4) {
            assert_int_equal(s[i].side, AG_SIDE_SERVER);
            assert_int_equal(s[i].tuple.rport, 0xCF08);
            assert_int_equal(s[i].svc_idx, gw);
            seen |= 2;
        } else if (s[i].tgid == 200 && s[i].fd == 3) {
            assert_int_equal(s[i].side, AG_SIDE_CLIENT);
            assert_int_equal(s[i].tuple.rport, 8080);
            assert_int_equal(s[i].inode, 12346);
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);
    free(s);

    /* fork, exit: the service goes down with its last process only. */
    assert_int_equal(ag_discovery_on_fork(d, 100, 101), 1);
    assert_int_equal(ag_discovery_on_fork(d, 300, 301), 0);
    assert_null(ag_discovery_on_exit(d, 100));
    assert_int_equal(downs, 0);
    assert_string_equal(ag_discovery_on_exit(d, 101), "gateway");
    assert_int_equal(downs, 1);
    assert_null(ag_discovery_on_exit(d, 101));
    /* It comes back: same index, service_up again. */
    assert_int_equal(ag_discovery_on_exec(d, 100, &idx), 1);
    assert_int_equal(idx, gw);
    assert_int_equal(ups, 3);
    assert_int_equal(ag_discovery_process_count(d), 2);
    ag_discovery_destroy(d);
}

static void test_selection(void **state)
{
    (void)state;
    char *exe[] = {"curl"};
    char *cg[] = {"/system.slice"};
    pid_t pids[] = {100, 400};
    struct ag_watch by_exe = {.mode = AG_WATCH_LIST, .exe = exe, .nexe = 1};
    struct ag_watch by_cgroup = {.mode = AG_WATCH_LIST, .cgroup = cg, .ncgroup = 1};
    struct ag_watch by_pid = {.mode = AG_WATCH_LIST, .pid = pids, .npid = 2};
    uint32_t idx;
    struct ag_discovery *d = scan(&by_exe, 1);
    assert_int_equal(ag_discovery_lookup(d, 200, &idx), 1);
    ag_discovery_destroy(d);
    d = scan(&by_cgroup, 1); /* 400 is in the cgroup too, but it is the agent */
    assert_int_equal(ag_discovery_lookup(d, 100, &idx), 1);
    ag_discovery_destroy(d);
    d = scan(&by_pid, 1);
    assert_int_equal(ag_discovery_lookup(d, 100, &idx), 1);
    ag_discovery_destroy(d);
}

/* Many processes: the open-addressing table grows and deletes without losing anyone. */
static void test_many_pids(void **state)
{
    (void)state;
    struct ag_discovery *d = scan(NULL, 2);
    for (pid_t p = 1000; p < 6000; p++)
        assert_int_equal(ag_discovery_on_fork(d, 100, p), 1);
    for (pid_t p = 1000; p < 6000; p += 2)
        ag_discovery_on_exit(d, p);
    uint32_t idx;
    for (pid_t p = 1000; p < 6000; p++)
        assert_int_equal(ag_discovery_lookup(d, p, &idx), p % 2);
    assert_int_equal(ag_discovery_process_count(d), 2 + 2500);
    ag_discovery_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_procnet_v4),         cmocka_unit_test(test_procnet_v6),
        cmocka_unit_test(test_environ_cgroup_exe), cmocka_unit_test(test_scan_and_seed),
        cmocka_unit_test(test_selection),          cmocka_unit_test(test_many_pids),
    };
    return cmocka_run_group_tests(tests, make_tree, remove_tree);
}
