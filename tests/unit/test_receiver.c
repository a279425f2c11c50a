/* SPDX-License-Identifier: MIT */
/* The test receiver against real libcurl (and raw sockets for what curl would never send).
 * Everything stays on 127.0.0.1: proxy variables are cleared and every handle sets an empty
 * proxy. No sleeps: waits are rcv_wait, curl's own blocking calls and blocking sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "receiver.h"

#define WAIT_MS 10000 /* generous bound for rcv_wait; only reached when something is broken */

typedef struct fixture {
    rcv *r;
} fixture;

typedef struct response {
    char *data;
    size_t len;
    char retry_after[64];
    int saw_connection_close;
} response;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    response *rs = ud;
    size_t n = size * nmemb;
    char *d = realloc(rs->data, rs->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + rs->len, p, n);
    rs->len += n;
    d[rs->len] = '\0';
    rs->data = d;
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    response *rs = ud;
    size_t n = size * nmemb;
    if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        size_t s = 12, e = n;
        while (s < e && (p[s] == ' ' || p[s] == '\t'))
            s++;
        while (e > s && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
            e--;
        size_t k = e - s < sizeof rs->retry_after - 1 ? e - s : sizeof rs->retry_after - 1;
        memcpy(rs->retry_after, p + s, k);
        rs->retry_after[k] = '\0';
    }
    if (n >= 17 && strncasecmp(p, "Connection: close", 17) == 0)
        rs->saw_connection_close = 1;
    return n;
}

static void response_reset(response *rs)
{
    free(rs->data);
    memset(rs, 0, sizeof *rs);
}

/* An easy handle that only ever talks to the receiver. */
static CURL *easy_for(rcv *r, const char *path, response *rs)
{
    char url[256];
    CURL *e = curl_easy_init();
    assert_non_null(e);
    curl_easy_setopt(e, CURLOPT_URL, rcv_url(r, path, url, sizeof url));
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, rs);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, rs);
    return e;
}

static long response_code(CURL *e)
{
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->r = rcv_start(0);
    assert_non_null(f->r);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rcv_stop(f->r);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- raw sockets */

static int raw_connect(rcv *r)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)rcv_port(r));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void raw_send(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(k > 0);
        p += k;
        n -= (size_t)k;
    }
}

/* Everything until the server closes; NUL-terminated, caller frees. */
static char *raw_read_all(int fd, size_t *len_out)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k < 0 && errno == EINTR)
            continue;
        assert_true(k >= 0); /* a timeout here means the server never closed */
        if (k == 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---------------------------------------------------------------- tests */

static void test_default_ok_is_recorded(void **state)
{
    fixture *f = *state;
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/hook/slack?x=1&y=two", &rs);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "X-Test-Header: yes indeed");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "{\"text\":\"hi\"}");

    long long before = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        before = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 200);
    assert_string_equal(rs.data, "ok");
    char *ctype = NULL;
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ctype);
    assert_non_null(ctype);
    assert_string_equal(ctype, "text/plain");

    assert_int_equal(rcv_wait(f->r, 1, WAIT_MS), 0);
    assert_int_equal(rcv_count(f->r), 1);
    rcv_request q;
    assert_int_equal(rcv_get(f->r, 0, &q), 0);
    assert_string_equal(q.method, "POST");
    assert_string_equal(q.path, "/hook/slack?x=1&y=two");
    assert_int_equal(q.body_len, strlen("{\"text\":\"hi\"}"));
    assert_string_equal(q.body, "{\"text\":\"hi\"}");
    assert_int_equal(q.answered_status, 200);
    assert_int_equal(q.complete, 1);
    assert_true(q.received_ms >= before - 1000);
    char buf[128];
    assert_non_null(rcv_request_header(&q, "x-test-header", buf, sizeof buf));
    assert_string_equal(buf, "yes indeed");
    assert_non_null(rcv_request_header(&q, "CONTENT-TYPE", buf, sizeof buf));
    assert_string_equal(buf, "application/json");
    assert_non_null(rcv_request_header(&q, "Host", buf, sizeof buf));
    assert_null(rcv_request_header(&q, "X-Absent", buf, sizeof buf));
    /* truncation keeps the terminator */
    assert_non_null(rcv_request_header(&q, "X-Test-Header", buf, 4));
    assert_string_equal(buf, "yes");
    assert_non_null(strstr(q.headers, "X-Test-Header: yes indeed\r\n"));
    assert_null(strstr(q.headers, "POST ")); /* the request line is not a header */
    rcv_request_free(&q);
    assert_null(q.body);

    assert_int_equal(rcv_get(f->r, 1, &q), -1);
    rcv_request_free(&q);

    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    response_reset(&rs);
}

static void test_scripted_429_then_default(void **state)
{
    fixture *f = *state;
    rcv_push(f->r, 429, "Retry-After: 2", "{\"retry_after\":2}");
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/limited", &rs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "x");

    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 429);
    assert_string_equal(rs.retry_after, "2");
    assert_string_equal(rs.data, "{\"retry_after\":2}");

    /* the script is used up: the default answers again, on the same connection */
    response_reset(&rs);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 200);
    assert_string_equal(rs.retry_after, "");

    assert_int_equal(rcv_wait(f->r, 2, WAIT_MS), 0);
    rcv_request q;
    assert_int_equal(rcv_get(f->r, 0, &q), 0);
    assert_int_equal(q.answered_status, 429);
    rcv_request_free(&q);
    assert_int_equal(rcv_get(f->r, 1, &q), 0);
    assert_int_equal(q.answered_status, 200);
    rcv_request_free(&q);

    curl_easy_cleanup(e);
    response_reset(&rs);
}

static void test_500_and_custom_default(void **state)
{
    fixture *f = *state;
    rcv_push(f->r, 500, NULL, "boom");
    rcv_set_default(f->r, 202, "Content-Type: application/json\r\nX-Extra: 1\r\n", "{}");
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/h", &rs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "payload");

    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 500);
    assert_string_equal(rs.data, "boom");

    response_reset(&rs);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 202);
    assert_string_equal(rs.data, "{}");
    char *ctype = NULL;
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ctype);
    assert_string_equal(ctype, "application/json");

    assert_int_equal(rcv_wait(f->r, 2, WAIT_MS), 0);
    rcv_request q;
    assert_int_equal(rcv_get(f->r, 0, &q), 0);
    assert_int_equal(q.answered_status, 500);
    assert_string_equal(q.body, "payload");
    rcv_request_free(&q);

    curl_easy_cleanup(e);
    response_reset(&rs);
}

static void test_hang_times_out_and_is_recorded(void **state)
{
    fixture *f = *state;
    rcv_push(f->r, RCV_HANG, NULL, NULL);
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/slow", &rs);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 300L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "are you there");

    assert_int_equal(curl_easy_perform(e), CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(rcv_wait(f->r, 1, WAIT_MS), 0);
    rcv_request q;
    assert_int_equal(rcv_get(f->r, 0, &q), 0);
    assert_int_equal(q.answered_status, RCV_HANG);
    assert_string_equal(q.path, "/slow");
    assert_string_equal(q.body, "are you there");
    rcv_request_free(&q);
    curl_easy_cleanup(e);

    /* A second hang, released: the client sees the connection closed without an answer. */
    rcv_push(f->r, RCV_HANG, NULL, NULL);
    response_reset(&rs);
    e = easy_for(f->r, "/slow2", &rs);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 200L);
    assert_int_equal(curl_easy_perform(e), CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(rcv_wait(f->r, 2, WAIT_MS), 0);
    rcv_release_hangs(f->r);

    /* After that the default answers as usual. */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    response_reset(&rs);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 200);
    curl_easy_cleanup(e);
    response_reset(&rs);
}

static void test_hang_released_gives_empty_reply(void **state)
{
    fixture *f = *state;
    rcv_push(f->r, RCV_HANG, NULL, NULL);
    /* The request runs in a multi handle so that this thread can release the hang. */
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/held", &rs);
    CURLM *m = curl_multi_init();
    curl_multi_add_handle(m, e);
    int running = 1;
    while (running && rcv_count(f->r) < 1) {
        assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    assert_int_equal(rcv_count(f->r), 1);
    rcv_release_hangs(f->r);
    while (running) {
        assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    int left;
    CURLMsg *msg = curl_multi_info_read(m, &left);
    assert_non_null(msg);
    assert_int_equal(msg->data.result, CURLE_GOT_NOTHING);
    curl_multi_remove_handle(m, e);
    curl_multi_cleanup(m);
    curl_easy_cleanup(e);
    response_reset(&rs);
}

static int is_reset_error(CURLcode rc)
{
    return rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING;
}

static void test_reset(void **state)
{
    fixture *f = *state;
    response rs = { 0 };

    /* small body */
    rcv_push(f->r, RCV_RESET, NULL, NULL);
    CURL *e = easy_for(f->r, "/reset1", &rs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "hello world");
    CURLcode rc = curl_easy_perform(e);
    assert_true(is_reset_error(rc));
    curl_easy_cleanup(e);

    /* no body */
    rcv_push(f->r, RCV_RESET, NULL, NULL);
    e = easy_for(f->r, "/reset2", &rs);
    rc = curl_easy_perform(e);
    assert_true(is_reset_error(rc));
    curl_easy_cleanup(e);

    /* mid-upload: 4 MB, no 100-continue, so curl is still sending when the RST comes */
    size_t big = 4u << 20;
    char *data = malloc(big);
    assert_non_null(data);
    memset(data, 'z', big);
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    rcv_push(f->r, RCV_RESET, NULL, NULL);
    e = easy_for(f->r, "/reset3", &rs);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)big);
    rc = curl_easy_perform(e);
    assert_true(is_reset_error(rc));
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    free(data);

    assert_int_equal(rcv_wait(f->r, 3, WAIT_MS), 0);
    rcv_request q;
    assert_int_equal(rcv_get(f->r, 0, &q), 0);
    assert_string_equal(q.path, "/reset1");
    assert_int_equal(q.answered_status, RCV_RESET);
    assert_int_equal(q.complete, 0);
    assert_true(q.body_len < strlen("hello world"));
    rcv_request_free(&q);
    assert_int_equal(rcv_get(f->r, 1, &q), 0);
    assert_string_equal(q.method, "GET");
    assert_int_equal(q.answered_status, RCV_RESET);
    assert_int_equal(q.complete, 1);
    rcv_request_free(&q);
    assert_int_equal(rcv_get(f->r, 2, &q), 0);
    assert_int_equal(q.answered_status, RCV_RESET);
    assert_int_equal(q.complete, 0);
    assert_true(q.body_len > 0 && q.body_len < big);
    rcv_request_free(&q);

    /* a reset as the default answer */
    rcv_set_default(f->r, RCV_RESET, NULL, NULL);
    e = easy_for(f->r, "/reset4", &rs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "x");
    rc = curl_easy_perform(e);
    assert_true(is_reset_error(rc));
    curl_easy_cleanup(e);
    assert_int_equal(rcv_wait(f->r, 4, WAIT_MS), 0);
    rcv_set_default(f->r, 200, NULL, "ok");

    /* the receiver is fine afterwards */
    e = easy_for(f->r, "/after", &rs);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 200);
    curl_easy_cleanup(e);
    response_reset(&rs);
}

static void test_keepalive_reuses_connection(void **state)
{
    fixture *f = *state;
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/k", &rs);
    long first_port = 0;
    for (int i = 0; i < 3; i++) {
        char url[128], path[32];
        snprintf(path, sizeof path, "/k/%d", i);
        curl_easy_setopt(e, CURLOPT_URL, rcv_url(f->r, path, url, sizeof url));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, path);
        response_reset(&rs);
        assert_int_equal(curl_easy_perform(e), CURLE_OK);
        assert_int_equal(response_code(e), 200);
        long conns = -1, port = 0;
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
        curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &port);
        assert_int_equal(conns, i == 0 ? 1 : 0);
        if (i == 0)
            first_port = port;
        assert_int_equal(port, first_port);
    }
    assert_int_equal(rcv_wait(f->r, 3, WAIT_MS), 0);
    for (size_t i = 0; i < 3; i++) {
        rcv_request q;
        char path[32];
        snprintf(path, sizeof path, "/k/%zu", i);
        assert_int_equal(rcv_get(f->r, i, &q), 0);
        assert_string_equal(q.path, path);
        assert_string_equal(q.body, path);
        rcv_request_free(&q);
    }
    curl_easy_cleanup(e);
    response_reset(&rs);
}

static void test_connection_close_is_honoured(void **state)
{
    fixture *f = *state;
    response rs = { 0 };

    /* the client asks */
    struct curl_slist *h = curl_slist_append(NULL, "Connection: close");
    CURL *e = easy_for(f->r, "/c", &rs);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    for (int i = 0; i < 2; i++) {
        response_reset(&rs);
        assert_int_equal(curl_easy_perform(e), CURLE_OK);
        long conns = 0;
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
        assert_int_equal(conns, 1);
        assert_true(rs.saw_connection_close);
    }
    curl_easy_cleanup(e);
    curl_slist_free_all(h);

    /* the script asks */
    rcv_push(f->r, 200, "Connection: close\r\n", "bye");
    e = easy_for(f->r, "/c", &rs);
    for (int i = 0; i < 2; i++) {
        response_reset(&rs);
        assert_int_equal(curl_easy_perform(e), CURLE_OK);
        long conns = 0;
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
        assert_int_equal(conns, 1);
        assert_int_equal(rs.saw_connection_close, i == 0);
    }
    curl_easy_cleanup(e);
    assert_int_equal(rcv_wait(f->r, 4, WAIT_MS), 0);
    response_reset(&rs);
}

static void fill_pattern(unsigned char *p, size_t n)
{
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

static void test_big_body_with_100_continue(void **state)
{
    fixture *f = *state;
    size_t n = 2u << 20;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    fill_pattern(data, n);
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/big", &rs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    /* Without our 100 Continue curl would wait for this, past its 30 s transfer timeout. */
    curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS, 60000L);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 200);

    assert_int_equal(rcv_wait(f->r, 1, WAIT_MS), 0);
    rcv_request q;
    assert_int_equal(rcv_get(f->r, 0, &q), 0);
    char buf[64];
    assert_non_null(rcv_request_header(&q, "Expect", buf, sizeof buf));
    assert_string_equal(buf, "100-continue");
    assert_int_equal(q.body_len, n);
    assert_memory_equal(q.body, data, n);
    rcv_request_free(&q);
    curl_easy_cleanup(e);
    response_reset(&rs);
    free(data);
}

typedef struct upload {
    const unsigned char *data;
    size_t len, off, step;
} upload;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    upload *u = ud;
    size_t n = size * nmemb;
    if (n > u->step)
        n = u->step; /* small, uneven pieces: many chunks */
    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    u->step = u->step * 3 + 1;
    return n;
}

static void test_chunked_upload(void **state)
{
    fixture *f = *state;
    size_t n = 300000;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    fill_pattern(data, n);
    upload u = { .data = data, .len = n, .step = 7 };
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/chunked", &rs);
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &u);
    curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS, 60000L);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 200);

    /* and the connection stays usable after a chunked body */
    response_reset(&rs);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "after");
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    long conns = -1;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
    assert_int_equal(conns, 0);

    assert_int_equal(rcv_wait(f->r, 2, WAIT_MS), 0);
    rcv_request q;
    assert_int_equal(rcv_get(f->r, 0, &q), 0);
    char buf[64];
    assert_non_null(rcv_request_header(&q, "transfer-encoding", buf, sizeof buf));
    assert_string_equal(buf, "chunked");
    assert_int_equal(q.body_len, n);
    assert_memory_equal(q.body, data, n);
    rcv_request_free(&q);
    assert_int_equal(rcv_get(f->r, 1, &q), 0);
    assert_string_equal(q.body, "after");
    rcv_request_free(&q);

    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    response_reset(&rs);
    free(data);
}

#define NCONC 64

static void run_multi(CURLM *m, rcv *r, size_t stop_at_count)
{
    int running = 1;
    while (running) {
        assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
        if (stop_at_count && rcv_count(r) >= stop_at_count)
            return;
        if (running)
            assert_int_equal(curl_multi_poll(m, NULL, 0, 1000, NULL), CURLM_OK);
    }
}

static void test_64_concurrent(void **state)
{
    fixture *f = *state;
    CURLM *m = curl_multi_init();
    assert_non_null(m);
    CURL *handles[NCONC];
    response rs[NCONC];
    memset(rs, 0, sizeof rs);

    /* Round 1: every request hangs, so all 64 connections are open at once when the receiver
     * has recorded 64 requests. */
    for (int i = 0; i < NCONC; i++)
        rcv_push(f->r, RCV_HANG, NULL, NULL);
    for (int i = 0; i < NCONC; i++) {
        char path[32];
        snprintf(path, sizeof path, "/held/%d", i);
        handles[i] = easy_for(f->r, path, &rs[i]);
        curl_easy_setopt(handles[i], CURLOPT_POSTFIELDS, "held");
        curl_multi_add_handle(m, handles[i]);
    }
    run_multi(m, f->r, NCONC);
    assert_int_equal(rcv_wait(f->r, NCONC, WAIT_MS), 0);
    rcv_release_hangs(f->r);
    run_multi(m, f->r, 0);
    int left, done = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        assert_int_equal(msg->msg, CURLMSG_DONE);
        assert_int_equal(msg->data.result, CURLE_GOT_NOTHING);
        done++;
    }
    assert_int_equal(done, NCONC);
    for (int i = 0; i < NCONC; i++) {
        curl_multi_remove_handle(m, handles[i]);
        curl_easy_cleanup(handles[i]);
    }

    /* Round 2: 64 at once, answered. */
    rcv_clear(f->r);
    assert_int_equal(rcv_count(f->r), 0);
    for (int i = 0; i < NCONC; i++) {
        char path[32];
        snprintf(path, sizeof path, "/n/%d", i);
        handles[i] = easy_for(f->r, path, &rs[i]);
        curl_easy_setopt(handles[i], CURLOPT_COPYPOSTFIELDS, path);
        curl_multi_add_handle(m, handles[i]);
    }
    run_multi(m, f->r, 0);
    done = 0;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        assert_int_equal(msg->data.result, CURLE_OK);
        assert_int_equal(response_code(msg->easy_handle), 200);
        done++;
    }
    assert_int_equal(done, NCONC);
    assert_int_equal(rcv_wait(f->r, NCONC, WAIT_MS), 0);
    int seen[NCONC] = { 0 };
    for (size_t i = 0; i < NCONC; i++) {
        rcv_request q;
        assert_int_equal(rcv_get(f->r, i, &q), 0);
        int k = -1;
        assert_int_equal(sscanf(q.path, "/n/%d", &k), 1);
        assert_true(k >= 0 && k < NCONC);
        assert_string_equal(q.body, q.path);
        seen[k]++;
        rcv_request_free(&q);
    }
    for (int i = 0; i < NCONC; i++) {
        assert_int_equal(seen[i], 1);
        curl_multi_remove_handle(m, handles[i]);
        curl_easy_cleanup(handles[i]);
        response_reset(&rs[i]);
    }
    curl_multi_cleanup(m);
}

static void test_204_and_head(void **state)
{
    fixture *f = *state;
    rcv_push(f->r, 204, NULL, "ignored");
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/discord", &rs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "{\"content\":\"x\"}");
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 204);
    assert_int_equal(rs.len, 0);

    /* HEAD: headers only, and the connection is still in step afterwards */
    response_reset(&rs);
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 200);
    assert_int_equal(rs.len, 0);
    response_reset(&rs);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_string_equal(rs.data, "ok");
    long conns = -1;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
    assert_int_equal(conns, 0);

    assert_int_equal(rcv_wait(f->r, 3, WAIT_MS), 0);
    rcv_request q;
    assert_int_equal(rcv_get(f->r, 1, &q), 0);
    assert_string_equal(q.method, "HEAD");
    rcv_request_free(&q);
    curl_easy_cleanup(e);
    response_reset(&rs);
}

static void test_raw_pipelined_and_http10(void **state)
{
    fixture *f = *state;
    int fd = raw_connect(f->r);
    const char req[] = "\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                       "POST /b HTTP/1.1\nHost: x\nContent-Length: 3\n\nabc"
                       "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       "Connection: close\r\n\r\n"
                       "2;ext=1\r\nde\r\n1\r\nf\r\n0\r\nTrailer: x\r\n\r\n";
    raw_send(fd, req, sizeof req - 1);
    char *out = raw_read_all(fd, NULL);
    close(fd);
    assert_int_equal(count_substr(out, "HTTP/1.1 200 OK\r\n"), 3);
    assert_int_equal(count_substr(out, "Connection: close\r\n"), 1);
    free(out);
    assert_int_equal(rcv_wait(f->r, 3, WAIT_MS), 0);
    rcv_request q;
    assert_int_equal(rcv_get(f->r, 0, &q), 0);
    assert_string_equal(q.path, "/a");
    assert_int_equal(q.body_len, 0);
    assert_string_equal(q.body, "");
    rcv_request_free(&q);
    assert_int_equal(rcv_get(f->r, 1, &q), 0);
    assert_string_equal(q.path, "/b");
    assert_string_equal(q.body, "abc");
    char buf[16];
    assert_string_equal(rcv_request_header(&q, "host", buf, sizeof buf), "x");
    rcv_request_free(&q);
    assert_int_equal(rcv_get(f->r, 2, &q), 0);
    assert_string_equal(q.path, "/c");
    assert_string_equal(q.body, "def");
    rcv_request_free(&q);

    /* HTTP/1.0 without keep-alive: answered, then closed */
    fd = raw_connect(f->r);
    const char req10[] = "GET /old HTTP/1.0\r\n\r\n";
    raw_send(fd, req10, sizeof req10 - 1);
    out = raw_read_all(fd, NULL);
    close(fd);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "\r\n\r\nok"));
    free(out);
    assert_int_equal(rcv_wait(f->r, 4, WAIT_MS), 0);
}

static void expect_error_answer(rcv *r, const char *req, size_t len, const char *status_line)
{
    int fd = raw_connect(r);
    raw_send(fd, req, len);
    shutdown(fd, SHUT_WR);
    char *out = raw_read_all(fd, NULL);
    close(fd);
    char head[64];
    snprintf(head, sizeof head, "%s", out);
    free(out);
    if (strncmp(head, status_line, strlen(status_line)) != 0)
        fail_msg("expected \"%s\", got \"%s\"", status_line, head);
}

static void test_malformed_input(void **state)
{
    fixture *f = *state;
    static const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET / \r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "G\x01T / HTTP/1.1\r\n\r\n",
        "GET /\x7f HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error_answer(f->r, bad[i], strlen(bad[i]), "HTTP/1.1 400 ");

    expect_error_answer(f->r, "GET / HTTP/2.0\r\n\r\n", 18, "HTTP/1.1 505 ");
    expect_error_answer(f->r, "VERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", 33, "HTTP/1.1 501 ");
    const char te[] = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
    expect_error_answer(f->r, te, sizeof te - 1, "HTTP/1.1 501 ");
    const char huge_cl[] = "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    expect_error_answer(f->r, huge_cl, sizeof huge_cl - 1, "HTTP/1.1 413 ");
    const char huge_chunk[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "fffffffffffffffffffff\r\n";
    expect_error_answer(f->r, huge_chunk, sizeof huge_chunk - 1, "HTTP/1.1 413 ");

    /* a 2000-byte target does not fit rcv_request.path */
    size_t n = 2100;
    char *req = malloc(n + 64);
    assert_non_null(req);
    memcpy(req, "GET /", 5);
    memset(req + 5, 'a', 2000);
    strcpy(req + 2005, " HTTP/1.1\r\n\r\n");
    expect_error_answer(f->r, req, strlen(req), "HTTP/1.1 414 ");
    free(req);

    /* header block over 64 KB, never terminated */
    n = 70 * 1024;
    req = malloc(n);
    assert_non_null(req);
    const char start[] = "GET / HTTP/1.1\r\nX-Long: ";
    memcpy(req, start, sizeof start - 1);
    memset(req + sizeof start - 1, 'b', n - (sizeof start - 1));
    expect_error_answer(f->r, req, n, "HTTP/1.1 431 ");
    /* a request line over 64 KB */
    memcpy(req, "GET /", 5);
    memset(req + 5, 'c', n - 5);
    expect_error_answer(f->r, req, n, "HTTP/1.1 431 ");
    free(req);

    /* binary noise */
    unsigned char noise[4096];
    fill_pattern(noise, sizeof noise);
    for (size_t i = 0; i < sizeof noise; i++)
        if (noise[i] == '\r' || noise[i] == '\n')
            noise[i] = 'x';
    memcpy(noise + sizeof noise - 4, "\r\n\r\n", 4);
    expect_error_answer(f->r, (const char *)noise, sizeof noise, "HTTP/1.1 400 ");

    /* clients that vanish mid-request */
    const char *partial[] = { "GET / HT", "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
                              "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab" };
    for (size_t i = 0; i < 3; i++) {
        int fd = raw_connect(f->r);
        raw_send(fd, partial[i], strlen(partial[i]));
        shutdown(fd, SHUT_WR);
        char *out = raw_read_all(fd, NULL);
        assert_string_equal(out, "");
        free(out);
        close(fd);
    }

    /* none of that was recorded or consumed the script, and the receiver still works */
    assert_int_equal(rcv_count(f->r), 0);
    rcv_push(f->r, 418, NULL, "teapot");
    response rs = { 0 };
    CURL *e = easy_for(f->r, "/still-alive", &rs);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(response_code(e), 418);
    curl_easy_cleanup(e);
    response_reset(&rs);
    assert_int_equal(rcv_count(f->r), 1);
}

static void test_url_clear_pop_and_wait_timeout(void **state)
{
    fixture *f = *state;
    char url[64], expect[64];
    snprintf(expect, sizeof expect, "http://127.0.0.1:%d/p?q=1", rcv_port(f->r));
    assert_string_equal(rcv_url(f->r, "/p?q=1", url, sizeof url), expect);
    snprintf(expect, sizeof expect, "http://127.0.0.1:%d", rcv_port(f->r));
    assert_string_equal(rcv_url(f->r, NULL, url, sizeof url), expect);
    assert_true(rcv_port(f->r) > 0);

    assert_int_equal(rcv_wait(f->r, 1, 0), -1);
    assert_int_equal(rcv_wait(f->r, 0, 0), 0);
    assert_int_equal(rcv_wait(f->r, 1, 20), -1);

    response rs = { 0 };
    CURL *e = easy_for(f->r, "/one", &rs);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    curl_easy_setopt(e, CURLOPT_URL, rcv_url(f->r, "/two", url, sizeof url));
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    assert_int_equal(rcv_wait(f->r, 2, WAIT_MS), 0);
    rcv_request q;
    assert_int_equal(rcv_pop(f->r, &q), 0);
    assert_string_equal(q.path, "/one");
    rcv_request_free(&q);
    assert_int_equal(rcv_count(f->r), 1);
    rcv_clear(f->r);
    assert_int_equal(rcv_count(f->r), 0);
    assert_int_equal(rcv_pop(f->r, &q), -1);
    assert_int_equal(rcv_get(f->r, 0, &q), -1);
    rcv_request_free(&q);
    rcv_request_free(NULL);
    curl_easy_cleanup(e);
    response_reset(&rs);
}

static void test_fixed_port_and_stop_with_open_connections(void **state)
{
    (void)state;
    /* take a free port from a first receiver, then ask for it explicitly */
    rcv *a = rcv_start(0);
    assert_non_null(a);
    int port = rcv_port(a);
    rcv_stop(a);
    rcv *r = rcv_start(port);
    assert_non_null(r);
    assert_int_equal(rcv_port(r), port);
    assert_null(rcv_start(port)); /* taken */
    assert_null(rcv_start(70000));

    /* stop must not wait for an idle keep-alive client, a half-sent request or a hang */
    int idle = raw_connect(r);
    int half = raw_connect(r);
    raw_send(half, "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nab", 43);
    rcv_push(r, RCV_HANG, NULL, NULL);
    int hung = raw_connect(r);
    raw_send(hung, "GET /h HTTP/1.1\r\n\r\n", 19);
    assert_int_equal(rcv_wait(r, 1, WAIT_MS), 0);
    rcv_stop(r);
    char *out = raw_read_all(hung, NULL);
    assert_string_equal(out, "");
    free(out);
    close(idle);
    close(half);
    close(hung);
    rcv_stop(NULL);
}

static void clear_proxy_env(void)
{
    static const char *vars[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                  "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

int main(void)
{
    clear_proxy_env();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_ok_is_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scripted_429_then_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_500_and_custom_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hang_times_out_and_is_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hang_released_gives_empty_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_reuses_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_close_is_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_body_with_100_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_64_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_204_and_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_pipelined_and_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_clear_pop_and_wait_timeout, setup, teardown),
        cmocka_unit_test(test_fixed_port_and_stop_with_open_connections),
    };
    int failed = cmocka_run_group_tests_name("receiver", tests, NULL, NULL);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
