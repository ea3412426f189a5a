/* vg-loadgen: simulated shoppers against the shop's public API.
 *
 * One thread, one curl multi handle. Shoppers (shopper.c) take turns: a
 * shopper with no request in flight waits in the ready queue until the
 * concurrency limit and the rate's token bucket let it start its next one.
 * The run is always bounded: --requests stops starting at a count,
 * --duration at a time, and every started request ends within --timeout-ms.
 * The report (stats.c) counts each finished request exactly once. */
#include "options.h"
#include "shopper.h"
#include "stats.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LG_BACKOFF_US  100000 /* a shopper pauses this long after 429, 5xx or no answer */
#define LG_PROGRESS_US 5000000
#define LG_MAX_WAIT_MS 100

/* A FIFO of shopper indices; with one constant backoff, the sleepers' wake
 * times are in FIFO order too, so a second ring serves as their timer list. */
struct lg_ring {
    unsigned *idx;
    uint64_t *at; /* wake time (sleepers only) */
    unsigned cap, head, n;
};

struct lg_run {
    struct lg_options opts;
    struct lg_shared shared;
    struct lg_shopper *shoppers;
    struct lg_stats *stats;
    CURLM *multi;
    struct lg_ring ready, sleeping;
    unsigned inflight;
    uint64_t started;
    double tokens, burst;
    uint64_t t0, last_refill, deadline, next_progress;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int ring_init(struct lg_ring *r, unsigned cap)
{
    r->idx = calloc(cap, sizeof(*r->idx));
    r->at = calloc(cap, sizeof(*r->at));
    r->cap = cap;
    return r->idx && r->at ? 0 : -ENOMEM;
}

static void ring_free(struct lg_ring *r)
{
    free(r->idx);
    free(r->at);
}

/* Never overflows: each shopper is in at most one ring, and cap = shoppers. */
static void ring_push(struct lg_ring *r, unsigned i, uint64_t at)
{
    unsigned slot = (r->head + r->n++) % r->cap;

    r->idx[slot] = i;
    r->at[slot] = at;
}

static unsigned ring_pop(struct lg_ring *r)
{
    unsigned i = r->idx[r->head];

    r->head = (r->head + 1) % r->cap;
    r->n--;
    return i;
}

static bool stopping(const struct lg_run *run, uint64_t now)
{
    return stop_requested || (run->opts.requests && run->started >= run->opts.requests) ||
           (run->deadline && now >= run->deadline);
}

static void refill(struct lg_run *run, uint64_t now)
{
    if (run->opts.rate <= 0)
        return;
    run->tokens += (double)(now - run->last_refill) * run->opts.rate / 1e6;
    if (run->tokens > run->burst)
        run->tokens = run->burst;
    run->last_refill = now;
}

static int start_one(struct lg_run *run, uint64_t now)
{
    struct lg_shopper *s = &run->shoppers[ring_pop(&run->ready)];

    if (lg_shopper_prepare(s, &run->shared)) {
        fprintf(stderr, "vg-loadgen: cannot set up a request (out of memory?)\n");
        return -1;
    }
    s->started_us = now;
    if (curl_multi_add_handle(run->multi, s->easy) != CURLM_OK) {
        fprintf(stderr, "vg-loadgen: curl_multi_add_handle failed\n");
        return -1;
    }
    lg_stats_action(run->stats, s->action);
    run->inflight++;
    run->started++;
    if (run->opts.rate > 0)
        run->tokens -= 1;
    return 0;
}

static int start_requests(struct lg_run *run, uint64_t now)
{
    while (run->sleeping.n && run->sleeping.at[run->sleeping.head] <= now)
        ring_push(&run->ready, ring_pop(&run->sleeping), 0);
    refill(run, now);
    while (run->ready.n && run->inflight < run->opts.concurrency && !stopping(run, now) &&
           (run->opts.rate <= 0 || run->tokens >= 1))
        if (start_one(run, now))
            return -1;
    return 0;
}

static void finish_one(struct lg_run *run, CURL *easy, CURLcode result, uint64_t now)
{
    struct lg_shopper *s = NULL;
    long status = 0;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(run->multi, easy);
    run->inflight--;
    /* A status line that arrived counts under its status even if the body
     * then failed: that is what the server answered (and what the agent saw). */
    if (lg_stats_record(run->stats, s->route, (int)status,
                        status ? NULL : curl_easy_strerror(result), now - s->started_us))
        fprintf(stderr, "vg-loadgen: out of memory for latency samples\n");
    if (lg_shopper_finish(s, &run->shared, (int)status))
        ring_push(&run->sleeping, s->index, now + LG_BACKOFF_US);
    else
        ring_push(&run->ready, s->index, 0);
}

static int drain(struct lg_run *run)
{
    CURLMsg *msg;
    int left, n = 0;

    while ((msg = curl_multi_info_read(run->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        finish_one(run, msg->easy_handle, msg->data.result, now_us());
        n++;
    }
    return n;
}

/* How long the loop may sleep before it has something to start. */
static int wait_ms(const struct lg_run *run, uint64_t now)
{
    uint64_t wait = LG_MAX_WAIT_MS * 1000u;

    if (run->sleeping.n) {
        uint64_t at = run->sleeping.at[run->sleeping.head];

        if (at <= now)
            return 0;
        if (at - now < wait)
            wait = at - now;
    }
    if (run->opts.rate > 0 && run->ready.n && run->inflight < run->opts.concurrency &&
        run->tokens < 1) {
        uint64_t t = (uint64_t)((1 - run->tokens) * 1e6 / run->opts.rate);

        if (t < wait)
            wait = t;
    }
    if (run->deadline && run->deadline > now && run->deadline - now < wait)
        wait = run->deadline - now;
    return (int)((wait + 999) / 1000);
}

static void progress(struct lg_run *run, uint64_t now)
{
    double el = (double)(now - run->t0) / 1e6;

    if (run->opts.quiet || now < run->next_progress)
        return;
    run->next_progress = now + LG_PROGRESS_US;
    fprintf(stderr, "vg-loadgen: %.1f s, %llu finished, %.0f/s, %u in flight\n", el,
            (unsigned long long)lg_stats_total(run->stats),
            el > 0 ? (double)lg_stats_total(run->stats) / el : 0.0, run->inflight);
}

static int loop(struct lg_run *run)
{
    for (;;) {
        uint64_t now = now_us();
        int running;

        progress(run, now);
        if (start_requests(run, now))
            return -1;
        if (stopping(run, now) && run->inflight == 0)
            return 0;
        if (curl_multi_perform(run->multi, &running) != CURLM_OK)
            return -1;
        if (drain(run))
            continue; /* shoppers came back: start them before sleeping */
        if (curl_multi_poll(run->multi, NULL, 0, wait_ms(run, now_us()), NULL) != CURLM_OK)
            return -1;
    }
}

static int setup(struct lg_run *run)
{
    struct lg_options *o = &run->opts;
    time_t t = time(NULL);
    struct tm tm;

    run->shared.opts = o;
    run->shared.products = o->products ? o->products : 20;
    run->shared.products_known = o->products != 0;
    gmtime_r(&t, &tm);
    run->shared.exp_year = tm.tm_year + 1900 + 3;
    for (int a = 0; a < LG_NACTIONS; a++)
        run->shared.total_weight += o->weights[a];

    run->stats = lg_stats_new();
    run->shoppers = calloc(o->shoppers, sizeof(*run->shoppers));
    run->multi = curl_multi_init();
    if (!run->stats || !run->shoppers || !run->multi || ring_init(&run->ready, o->shoppers) ||
        ring_init(&run->sleeping, o->shoppers))
        return -1;
    /* Keep one idle connection per shopper: each reuses its own. */
    curl_multi_setopt(run->multi, CURLMOPT_MAXCONNECTS, (long)o->shoppers + 8);
    for (unsigned i = 0; i < o->shoppers; i++) {
        if (lg_shopper_init(&run->shoppers[i], i, &run->shared))
            return -1;
        ring_push(&run->ready, i, 0);
    }
    /* Up to 50 ms of tokens (at least one) may pile up while the loop sleeps. */
    run->burst = o->rate * 0.05 > 1 ? o->rate * 0.05 : 1;
    run->tokens = 1;
    run->t0 = run->last_refill = now_us();
    run->next_progress = run->t0 + LG_PROGRESS_US;
    if (o->duration_s > 0)
        run->deadline = run->t0 + (uint64_t)(o->duration_s * 1e6);
    return 0;
}

static void teardown(struct lg_run *run)
{
    if (run->shoppers) {
        for (unsigned i = 0; i < run->opts.shoppers; i++) {
            if (run->multi && run->shoppers[i].easy)
                curl_multi_remove_handle(run->multi, run->shoppers[i].easy);
            lg_shopper_cleanup(&run->shoppers[i]);
        }
    }
    free(run->shoppers);
    if (run->multi)
        curl_multi_cleanup(run->multi);
    ring_free(&run->ready);
    ring_free(&run->sleeping);
    lg_stats_free(run->stats);
}

static int report(struct lg_run *run)
{
    struct lg_run_info info = {
        .url = run->opts.url,
        .run_id = run->opts.run_id,
        .shoppers = run->opts.shoppers,
        .concurrency = run->opts.concurrency,
        .rate = run->opts.rate,
        .elapsed_s = (double)(now_us() - run->t0) / 1e6,
    };

    for (unsigned i = 0; i < run->opts.shoppers; i++)
        info.registered += run->shoppers[i].state != LG_S_REGISTER;
    return lg_stats_write_json(run->stats, &info, stdout);
}

int main(int argc, char **argv)
{
    static struct lg_run run;
    struct sigaction sa;
    int rc;

    rc = lg_options_parse(argc, argv, &run.opts);
    if (rc)
        return rc > 0 ? 0 : 2;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the run at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "vg-loadgen: curl_global_init failed\n");
        return 1;
    }
    rc = 1;
    if (setup(&run)) {
        fprintf(stderr, "vg-loadgen: setup failed (out of memory or curl)\n");
    } else if (loop(&run)) {
        fprintf(stderr, "vg-loadgen: the curl event loop failed\n");
        report(&run);
    } else {
        rc = report(&run) ? 1 : 0;
    }
    teardown(&run);
    curl_global_cleanup();
    return rc;
}
