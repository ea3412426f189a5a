#include "shopper.h"

#include "route.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LG_BODY_CAP   (1024 * 1024) /* answers kept for parsing are cut here */
#define LG_PASSWORD   "loadgen-password-1"
#define LG_MISSING_ID 999999999ULL

/* Words of the seed catalogue's names (services/migrations/0002_seed.sql),
 * one word no product has, and text that looks like SQL; a miss is still 200. */
static const char *const search_words[] = {
    "lamp",    "walnut",  "oak",   "copper", "skillet",    "teapot",   "notebook",
    "planter", "speaker", "linen", "bench",  "headphones", "zeppelin", "select * from products",
};

/* splitmix64: small, fast, and good enough to spread choices. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rng_below(uint64_t *state, unsigned n)
{
    return n ? (unsigned)(rng_next(state) % n) : 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct lg_body *b = arg;
    size_t n = size * nmemb;

    if (!b->keep || b->len >= LG_BODY_CAP)
        return n;
    if (b->len + n > LG_BODY_CAP)
        n = LG_BODY_CAP - b->len; /* keep the head; the rest is read and dropped */
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->data, cap);
        if (!p)
            return size * nmemb; /* parsing will fail; the request still counts */
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return size * nmemb;
}

int lg_shopper_init(struct lg_shopper *s, unsigned index, const struct lg_shared *sh)
{
    const struct lg_options *o = sh->opts;

    memset(s, 0, sizeof(*s));
    s->index = index;
    s->rng = o->seed ^ (0x9e3779b97f4a7c15ULL * (index + 1));
    snprintf(s->email, sizeof(s->email), "shopper-%s-%u@load.test", o->run_id, index);
    if (o->source_addrs)
        /* Shopper i binds 127.0.(i/250).(2+i%250): the gateway limits per address. */
        snprintf(s->source, sizeof(s->source), "host!127.0.%u.%u", index / 250, 2 + index % 250);
    s->easy = curl_easy_init();
    return s->easy ? 0 : -1;
}

void lg_shopper_cleanup(struct lg_shopper *s)
{
    if (s->easy)
        curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->headers);
    free(s->body.data);
    memset(s, 0, sizeof(*s));
}

static int pick_action(struct lg_shopper *s, const struct lg_shared *sh)
{
    unsigned r = rng_below(&s->rng, sh->total_weight);

    for (int a = 0; a < LG_NACTIONS; a++) {
        if (r < sh->opts->weights[a])
            return a;
        r -= sh->opts->weights[a];
    }
    return LG_VIEW;
}

static unsigned long long pick_product(struct lg_shopper *s, const struct lg_shared *sh)
{
    return 1 + rng_below(&s->rng, sh->products);
}

/* Fills s->url, s->payload (or "" for none) and the method for one action. */
static const char *build(struct lg_shopper *s, const struct lg_shared *sh, bool *auth)
{
    const char *base = sh->opts->url;
    const char *card = "4242424242424242";
    unsigned pages;

    s->payload[0] = '\0';
    *auth = true;
    switch (s->action) {
    case LG_STEP_REGISTER:
    case LG_E409: /* the shopper's own email is taken by now: 409 email_taken */
        *auth = false;
        snprintf(s->url, sizeof(s->url), "%s/api/users", base);
        snprintf(s->payload, sizeof(s->payload),
                 "{\"email\":\"%s\",\"name\":\"Shopper %u\",\"password\":\"" LG_PASSWORD "\"}",
                 s->email, s->index);
        return "POST";
    case LG_STEP_LOGIN:
        *auth = false;
        snprintf(s->url, sizeof(s->url), "%s/api/sessions", base);
        snprintf(s->payload, sizeof(s->payload),
                 "{\"email\":\"%s\",\"password\":\"" LG_PASSWORD "\"}", s->email);
        return "POST";
    case LG_STEP_REMOVE:
        snprintf(s->url, sizeof(s->url), "%s/api/cart/items/%llu", base, s->item);
        return "DELETE";
    case LG_BROWSE:
        *auth = false;
        pages = (sh->products + 19) / 20;
        snprintf(s->url, sizeof(s->url), "%s/api/products?page=%u", base,
                 1 + rng_below(&s->rng, pages ? pages : 1));
        return "GET";
    case LG_SEARCH: {
        const char *w =
            search_words[rng_below(&s->rng, sizeof(search_words) / sizeof(*search_words))];
        char *q = curl_easy_escape(s->easy, w, 0);

        *auth = false;
        snprintf(s->url, sizeof(s->url), "%s/api/products?q=%s", base, q ? q : "mug");
        curl_free(q);
        return "GET";
    }
    case LG_VIEW:
    case LG_E404:
        *auth = false;
        snprintf(s->url, sizeof(s->url), "%s/api/products/%llu", base,
                 s->action == LG_E404 ? LG_MISSING_ID : pick_product(s, sh));
        return "GET";
    case LG_ADD:
    case LG_E400:
        if (s->action == LG_ADD && s->ncart == LG_CART_MAX)
            s->item = s->cart[rng_below(&s->rng, s->ncart)];
        else
            s->item = pick_product(s, sh);
        snprintf(s->url, sizeof(s->url), "%s/api/cart/items/%llu", base, s->item);
        /* "2" is a string, not a quantity: 400 invalid_field (API.md). */
        strcpy(s->payload, s->action == LG_ADD ? "{\"quantity\":1}" : "{\"quantity\":\"2\"}");
        return "PUT";
    case LG_E401:
        *auth = false; /* the point of it: no token */
        /* fall through */
    case LG_CART:
        snprintf(s->url, sizeof(s->url), "%s/api/cart", base);
        return "GET";
    case LG_E402:
        card = "4000000000000002";
        /* fall through */
    default: /* LG_CHECKOUT */
        snprintf(s->url, sizeof(s->url), "%s/api/orders", base);
        snprintf(s->payload, sizeof(s->payload),
                 "{\"shipping_address\":{\"name\":\"Shopper %u\",\"line1\":\"1 Load Street\","
                 "\"city\":\"Testville\",\"postal_code\":\"12345\",\"country\":\"US\"},"
                 "\"payment\":{\"card_number\":\"%s\",\"exp_month\":12,\"exp_year\":%d,"
                 "\"cvc\":\"123\"}}",
                 s->index, card, sh->exp_year);
        return "POST";
    }
}

static int choose(struct lg_shopper *s, const struct lg_shared *sh)
{
    int a;

    if (s->state == LG_S_REGISTER)
        return LG_STEP_REGISTER;
    if (s->state == LG_S_LOGIN)
        return LG_STEP_LOGIN;
    if (s->purge && s->ncart > 0) {
        s->item = s->cart[s->ncart - 1];
        return LG_STEP_REMOVE;
    }
    s->purge = false;
    a = pick_action(s, sh);
    /* A checkout needs something in the cart, or it is only 400 empty_cart. */
    if ((a == LG_CHECKOUT || a == LG_E402) && s->ncart == 0)
        a = LG_ADD;
    return a;
}

/* Appends one header line; on failure frees the list and returns NULL. */
static struct curl_slist *add_header(struct curl_slist *list, const char *line)
{
    struct curl_slist *n = curl_slist_append(list, line);

    if (!n)
        curl_slist_free_all(list);
    return n;
}

static int set_headers(struct lg_shopper *s, const char *run_id, bool auth, bool json)
{
    char line[320];
    struct curl_slist *h;

    curl_slist_free_all(s->headers);
    h = add_header(NULL, "Expect:"); /* no 100-continue round trip */
    if (h && json)
        h = add_header(h, "Content-Type: application/json");
    if (h && auth && s->token[0]) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", s->token);
        h = add_header(h, line);
    }
    if (h && (s->action == LG_CHECKOUT || s->action == LG_E402)) {
        /* Unique per attempt; [A-Za-z0-9._-] only (API.md). */
        snprintf(line, sizeof(line), "Idempotency-Key: lg-%s-%u-%llu", run_id, s->index, ++s->seq);
        h = add_header(h, line);
    }
    s->headers = h;
    return h ? 0 : -1;
}

int lg_shopper_prepare(struct lg_shopper *s, struct lg_shared *sh)
{
    const char *method;
    bool auth;
    CURL *e = s->easy;
    CURLcode rc = CURLE_OK;

    s->action = choose(s, sh);
    method = build(s, sh, &auth);
    if (lg_route_fold(method, s->url, s->route, sizeof(s->route)) < 0)
        snprintf(s->route, sizeof(s->route), "%s (route too long)", method);
    s->body.len = 0;
    s->body.keep = s->action == LG_STEP_LOGIN || (s->action == LG_BROWSE && !sh->products_known);
    if (set_headers(s, sh->opts->run_id, auth, s->payload[0] != '\0'))
        return -1;

    curl_easy_reset(e);
    rc |= curl_easy_setopt(e, CURLOPT_URL, s->url);
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, sh->opts->timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, &s->body);
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    if (s->source[0]) {
        rc |= curl_easy_setopt(e, CURLOPT_INTERFACE, s->source);
        rc |= curl_easy_setopt(e, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4);
    }
    if (s->payload[0]) {
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->payload); /* not copied: lives in s */
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(s->payload));
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    return rc == CURLE_OK ? 0 : -1;
}

static json_t *parse_body(const struct lg_shopper *s)
{
    return s->body.len ? json_loadb(s->body.data, s->body.len, 0, NULL) : NULL;
}

static void learn_token(struct lg_shopper *s)
{
    json_t *doc = parse_body(s);
    const char *tok = json_string_value(json_object_get(doc, "token"));

    if (tok && strlen(tok) < sizeof(s->token)) {
        strcpy(s->token, tok);
        s->state = LG_S_SHOP;
    }
    json_decref(doc);
}

static void learn_catalogue(struct lg_shopper *s, struct lg_shared *sh)
{
    json_t *doc = parse_body(s);
    json_int_t total = json_integer_value(json_object_get(doc, "total"));

    if (total > 0 && total <= 1000000000) {
        sh->products = (unsigned)total;
        sh->products_known = true;
    }
    json_decref(doc);
}

static void cart_put(struct lg_shopper *s, unsigned long long id)
{
    for (unsigned i = 0; i < s->ncart; i++)
        if (s->cart[i] == id)
            return;
    if (s->ncart < LG_CART_MAX)
        s->cart[s->ncart++] = id;
}

static void cart_drop(struct lg_shopper *s, unsigned long long id)
{
    for (unsigned i = 0; i < s->ncart; i++) {
        if (s->cart[i] == id) {
            s->cart[i] = s->cart[--s->ncart];
            return;
        }
    }
}

bool lg_shopper_finish(struct lg_shopper *s, struct lg_shared *sh, int status)
{
    bool backoff = status == 0 || status == 429 || status >= 500;

    switch (s->action) {
    case LG_STEP_REGISTER:
        if (status == 201 || status == 409) /* 409: an earlier try went through */
            s->state = LG_S_LOGIN;
        return backoff;
    case LG_STEP_LOGIN:
        if (status == 201)
            learn_token(s);
        else if (status == 401)
            s->state = LG_S_REGISTER;
        return backoff;
    case LG_E401:
        return backoff; /* 401 expected: the session is fine */
    default:
        break;
    }
    if (status == 401 && s->action != LG_BROWSE && s->action != LG_SEARCH && s->action != LG_VIEW &&
        s->action != LG_E404 && s->action != LG_E409) {
        s->token[0] = '\0'; /* the session expired or was lost */
        s->state = LG_S_LOGIN;
        return backoff;
    }
    switch (s->action) {
    case LG_BROWSE:
        if (status == 200 && s->body.keep)
            learn_catalogue(s, sh);
        break;
    case LG_ADD:
        if (status == 200)
            cart_put(s, s->item);
        break;
    case LG_STEP_REMOVE:
        if (status == 200 || status == 404)
            cart_drop(s, s->item);
        break;
    case LG_CHECKOUT:
    case LG_E402:
        if (status == 201 || status == 400) /* ordered, or empty_cart: nothing left */
            s->ncart = 0;
        else if (status == 409)
            s->purge = true; /* out of stock: empty the cart, item by item */
        break;
    default:
        break;
    }
    return backoff;
}
