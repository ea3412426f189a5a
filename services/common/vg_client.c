#include "vg_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vg_log.h"

/* An answer bigger than this is not one a service sends: treat it as garbled. */
#define CALL_BODY_MAX (64u * 1024 * 1024)

static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;

static void handle_destroy(void *h)
{
    curl_easy_cleanup(h);
}

static void handle_key_create(void)
{
    if (pthread_key_create(&handle_key, handle_destroy))
        vg_die("pthread_key_create failed");
}

void vg_client_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT))
        vg_die("curl_global_init failed");
    pthread_once(&handle_once, handle_key_create);
}

void vg_client_global_cleanup(void)
{
    CURL *h;

    pthread_once(&handle_once, handle_key_create);
    /* Thread exit frees other threads' handles; the calling (main) thread's
     * handle is freed here, since returning from main runs no destructors. */
    h = pthread_getspecific(handle_key);
    if (h) {
        curl_easy_cleanup(h);
        pthread_setspecific(handle_key, NULL);
    }
    curl_global_cleanup();
}

static CURL *thread_handle(void)
{
    CURL *h;

    pthread_once(&handle_once, handle_key_create);
    h = pthread_getspecific(handle_key);
    if (h) {
        /* Reset clears options but keeps the connection cache: keep-alive survives. */
        curl_easy_reset(h);
        return h;
    }
    h = curl_easy_init();
    if (h && pthread_setspecific(handle_key, h)) {
        curl_easy_cleanup(h);
        return NULL;
    }
    return h;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct vg_call *call = arg;
    size_t len = size * nmemb;
    char *grown;

    if (call->body_len + len > CALL_BODY_MAX)
        return 0;
    grown = realloc(call->body, call->body_len + len + 1);
    if (!grown)
        return 0;
    call->body = grown;
    memcpy(call->body + call->body_len, data, len);
    call->body_len += len;
    call->body[call->body_len] = '\0';
    return len;
}

/* Copies the value of header line "Name: value\r\n" into out when it is named name. */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);

    if (len <= nlen || strncasecmp(line, name, nlen) || line[nlen] != ':')
        return;
    line += nlen + 1;
    len -= nlen + 1;
    while (len && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(out, line, len);
    out[len] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *arg)
{
    struct vg_call *call = arg;
    size_t len = size * nmemb;

    /* A new status line (after a redirect or 100 Continue) starts a new header set. */
    if (len > 5 && !strncmp(line, "HTTP/", 5)) {
        call->content_type[0] = '\0';
        call->retry_after[0] = '\0';
    }
    header_value(line, len, "Content-Type", call->content_type, sizeof(call->content_type));
    header_value(line, len, "Retry-After", call->retry_after, sizeof(call->retry_after));
    return len;
}

static int map_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return VG_CALL_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
        return VG_CALL_CONNECT;
    default:
        /* RECV_ERROR, GOT_NOTHING and the rest: the callee may have acted on
         * the request, so these must not read as "never delivered". */
        return VG_CALL_PROTOCOL;
    }
}

int vg_http_call(const char *method, const char *url, const char *const *headers, const char *body,
                 size_t body_len, long timeout_ms, struct vg_call *out)
{
    struct curl_slist *list = NULL;
    CURL *h = thread_handle();
    long status = 0;
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    if (!h)
        return VG_CALL_CONNECT;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    /* curl would wait up to a second for 100 Continue on larger bodies. */
    list = curl_slist_append(list, "Expect:");

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 2000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(method, "GET") && !body) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (body || strcmp(method, "DELETE")) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        }
    }
    rc = curl_easy_perform(h);
    curl_slist_free_all(list);
    /* The handle outlives the call: drop pointers into this call's stack. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (rc != CURLE_OK) {
        vg_call_free(out);
        vg_debug("%s %s: %s", method, url, curl_easy_strerror(rc));
        return map_error(rc);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    out->status = (int)status;
    if (!out->body) {
        out->body = calloc(1, 1);
        if (!out->body)
            return VG_CALL_PROTOCOL;
    }
    return VG_CALL_OK;
}

void vg_call_free(struct vg_call *call)
{
    free(call->body);
    call->body = NULL;
    call->body_len = 0;
}
