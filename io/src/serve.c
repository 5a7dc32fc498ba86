/* serve.c - the HTTP/1.1 server: listener, connections, parsing, ordered
 * responses, timeouts and the graceful stop. Endpoints are in
 * serve_routes.c and serve_fanout.c, metrics in serve_metrics.c.
 *
 * DESIGN
 *
 * Threads. Everything here runs on the loop thread: accepting, reading,
 * parsing (http_parser), routing, writing, timers, metrics. CPU work (job
 * set-up and runs, result JSON, /backends) goes to the server's pt_pool
 * through the io_work bridge; its completion comes back on the loop thread
 * and completes the request. Nothing here blocks.
 *
 * Reading. Every read lands in one server-wide buffer and is parsed at once;
 * the parser callbacks copy the request line, the few headers we look at and
 * the body into the connection's message buffers. A request is counted
 * against max_header_bytes (request line + header lines: 431) and
 * max_body_bytes (413, refused from Content-Length before the body comes).
 * When a connection has max_pipeline requests waiting, or its unsent output
 * passes OUT_HIGH, the parser is paused (http_parser_pause) in
 * on_message_complete and reading stops; the unparsed rest of the read is
 * kept in `pending` and parsed when the queue drains. So a client cannot
 * make the server buffer more than one read plus a bounded queue.
 *
 * Ordering. Each parsed request joins the connection's queue in arrival
 * order. Handlers complete requests in any order (a job may finish after a
 * later /healthz); the pump writes responses from the head of the queue only
 * while the head is complete, so responses go out strictly in order. All
 * responses completed during one read are written with one write.
 *
 * Keep-alive. http_should_keep_alive() (HTTP/1.1 default on, HTTP/1.0 only
 * with Connection: keep-alive, Connection: close) decides per request; after
 * a request that closes nothing more is parsed, and the response says
 * "Connection: close". A connection closes by shutting down its write side,
 * then reading and discarding until the peer closes or LINGER_MS pass
 * ("lingering close"), so a client still sending (a refused body) reads the
 * error response instead of a reset.
 *
 * Timeouts. One uv_timer per connection, re-armed lazily: activity only
 * updates timestamps; when the timer fires it recomputes the deadline from
 * the connection's state and re-arms if it lies ahead. The deadline is the
 * request deadline (first byte + request_timeout: a slowloris client that
 * trickles its header is answered 408 and dropped however often it sends),
 * else none while the connection waits for the server's own work, else the
 * write-progress deadline while output is pending (a client that does not
 * read), else the idle timeout.
 *
 * Stopping. pt_server_stop() (any thread, via uv_async) closes the listener,
 * closes idle connections, stops parsing on busy ones and lets their queued
 * requests finish (the last answer says Connection: close). When no
 * connection and no work is left, the server closes its own handles and
 * calls on_stopped. After shutdown_timeout_ms the remaining connections are
 * closed; their requests are orphaned and freed when their work ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve_int.h"

#define OUT_HIGH  (1u << 20)  /* unsent output at which a connection stops parsing */
#define LINGER_MS 2000u       /* the longest lingering close */
#define KEEP_BUF  (64u << 10) /* per-connection buffers above this are freed after use */
#define BACKLOG   511

struct pt__conn {
    uv_tcp_t tcp; /* first: the handle's data points at the conn anyway */
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    pt_server *srv;
    pt__conn *prev, *next; /* the server's list */
    unsigned open_handles; /* tcp + timer until both close callbacks ran */
    http_parser parser;

    /* the message being parsed */
    bool in_message;
    uint64_t msg_start_ms; /* uv_now at its first byte */
    uint64_t msg_start_ns; /* uv_hrtime at its first byte */
    size_t head_bytes;
    pt__sbuf url, body, path, query;
    char field[32];
    size_t field_len;
    char expect[32];
    size_t expect_len;
    int hdr_state;     /* 0 none, 1 in a field name, 2 in a value */
    bool in_expect;    /* the value being read is Expect's */
    int reject_status; /* set by a callback that refuses the request */
    char reject_msg[160];

    pt__sbuf pending; /* input not yet parsed (parser paused) */

    pt__req *qhead, *qtail; /* requests in arrival order */
    unsigned nqueued;

    pt__sbuf out;  /* output not yet handed to the kernel or to uv_write */
    pt__sbuf wbuf; /* output owned by the uv_write in progress */
    bool writing;

    bool reading;
    bool paused;       /* the parser is paused (see pending) */
    bool in_feed;      /* inside conn_feed: no nested parsing, flush at its end */
    bool stop_parsing; /* nothing more is parsed on this connection */
    bool close_after;  /* close once the queue is answered and written */
    bool shutting;     /* uv_shutdown issued */
    bool lingering;    /* write side shut; reading and discarding */
    bool peer_eof;
    bool closing;
    uint64_t last_activity_ms, last_write_ms, linger_start_ms;
    uint64_t armed_due; /* the timer's due time (uv_now ms); 0 = not armed */
};

/* --- buffers ---------------------------------------------------------- */

int pt__sbuf_reserve(pt__sbuf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    size_t need = b->len + n;
    if (need < b->len)
        return PT_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    char *p = realloc(b->p, cap);
    if (!p)
        return PT_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int pt__sbuf_add(pt__sbuf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (pt__sbuf_reserve(b, n))
        return PT_ENOMEM;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

int pt__sbuf_adds(pt__sbuf *b, const char *s)
{
    return pt__sbuf_add(b, s, strlen(s));
}

int pt__sbuf_addf(pt__sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PT_EINVAL;
    if ((size_t)n >= b->cap - b->len) {
        if (pt__sbuf_reserve(b, (size_t)n + 1))
            return PT_ENOMEM;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}

void pt__sbuf_free(pt__sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int pt__sbuf_write(void *ctx, const char *buf, size_t len)
{
    return pt__sbuf_add(ctx, buf, len);
}

/* --- responses -------------------------------------------------------- */

const char *pt__http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

int pt__json_error_body(pt__sbuf *b, int status, const char *msg)
{
    pt_json *j;
    if (pt_json_create(&j, pt__sbuf_write, b, 0))
        return PT_ENOMEM;
    pt_json_object_begin(j);
    pt_json_key(j, "error");
    pt_json_str(j, msg);
    pt_json_key(j, "status");
    pt_json_int(j, status);
    pt_json_object_end(j);
    pt_json_finish(j);
    int rc = pt_json_error(j);
    pt_json_destroy(j);
    return rc;
}

static void req_free(pt__req *r)
{
    pt__sbuf_free(&r->body);
    free(r);
}

static void conn_pump(pt__conn *c);
static void conn_flush(pt__conn *c);
static void conn_resume(pt__conn *c);
static void conn_timer_refresh(pt__conn *c);

void pt__req_complete(pt__req *r, int status, const char *ctype, pt__sbuf *body)
{
    r->pending = false;
    if (!r->conn) { /* orphaned: its connection closed while it ran */
        if (body)
            pt__sbuf_free(body);
        req_free(r);
        return;
    }
    r->ready = true;
    r->status = status;
    r->ctype = ctype;
    if (body) {
        pt__sbuf_free(&r->body);
        r->body = *body;
        memset(body, 0, sizeof(*body));
    }
    pt__conn *c = r->conn;
    conn_pump(c);
    if (!c->in_feed) {
        conn_flush(c);
        conn_resume(c);
        conn_timer_refresh(c);
    }
}

void pt__req_error_msg(pt__req *r, int status, const char *msg)
{
    pt__sbuf b = {0};
    pt__json_error_body(&b, status, msg);
    pt__req_complete(r, status, "application/json", &b);
}

void pt__req_error(pt__req *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pt__req_error_msg(r, status, msg);
}

/* The Date header value, refreshed when the loop's second changes. */
static const char *server_date(pt_server *s)
{
    uint64_t sec = uv_now(s->loop) / 1000;
    if (sec != s->date_sec || !s->date[0]) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_sec = sec;
    }
    return s->date;
}

/* Writes the answered requests at the head of the queue into c->out. */
static void conn_pump(pt__conn *c)
{
    pt_server *s = c->srv;
    while (c->qhead && c->qhead->ready) {
        pt__req *r = c->qhead;
        c->qhead = r->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->nqueued--;
        /* Say "close" exactly when the connection closes after this one. */
        bool last =
            c->close_after && !c->qhead && !c->in_message && (c->stop_parsing || !c->pending.len);
        bool close = !r->keep_alive || last;
        const char *conn_hdr = close       ? "Connection: close\r\n"
                               : r->http10 ? "Connection: keep-alive\r\n"
                                           : "";
        int rc = pt__sbuf_addf(&c->out,
                               "HTTP/1.1 %d %s\r\nServer: ptool\r\nDate: %s\r\n"
                               "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                               r->status, pt__http_reason(r->status), server_date(s),
                               r->ctype ? r->ctype : "application/json", r->body.len, conn_hdr,
                               r->extra);
        if (!rc && !r->head)
            rc = pt__sbuf_add(&c->out, r->body.p, r->body.len);
        double secs = (double)(uv_hrtime() - r->start_ns) * 1e-9;
        pt__metrics_request(&s->metrics, r->route, r->status, secs);
        s->metrics.in_flight--;
        req_free(r);
        if (rc) { /* out of memory for the response: give up on the connection */
            c->stop_parsing = true;
            c->close_after = true;
            c->out.len = 0;
            break;
        }
    }
}

/* --- connections -------------------------------------------------------- */

static void server_check_stopped(pt_server *s);

static void on_conn_handle_closed(uv_handle_t *h)
{
    pt__conn *c = h->data;
    if (--c->open_handles)
        return;
    pt__sbuf_free(&c->url);
    pt__sbuf_free(&c->body);
    pt__sbuf_free(&c->path);
    pt__sbuf_free(&c->query);
    pt__sbuf_free(&c->pending);
    pt__sbuf_free(&c->out);
    pt__sbuf_free(&c->wbuf);
    free(c);
}

/* Closes now: queued requests with work in progress are orphaned. */
static void conn_close(pt__conn *c)
{
    if (c->closing)
        return;
    pt_server *s = c->srv;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    for (pt__req *r = c->qhead, *next; r; r = next) {
        next = r->next;
        s->metrics.in_flight--;
        if (r->pending) {
            r->conn = NULL;
            r->next = NULL;
        } else {
            req_free(r);
        }
    }
    c->qhead = c->qtail = NULL;
    c->nqueued = 0;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    server_check_stopped(s);
}

static unsigned linger_ms(const pt_server *s)
{
    return s->o.idle_timeout_ms < LINGER_MS ? s->o.idle_timeout_ms : LINGER_MS;
}

static uint64_t conn_due(const pt__conn *c)
{
    const pt_server *s = c->srv;
    if (c->lingering)
        return c->linger_start_ms + linger_ms(s);
    if (c->in_message)
        return c->msg_start_ms + s->o.request_timeout_ms;
    if (c->writing || c->out.len || c->shutting)
        return c->last_write_ms + s->o.idle_timeout_ms;
    if (c->qhead)
        return 0; /* waiting for the server's own work */
    return c->last_activity_ms + s->o.idle_timeout_ms;
}

static void on_conn_timer(uv_timer_t *t);

static void conn_timer_refresh(pt__conn *c)
{
    if (c->closing)
        return;
    uint64_t due = conn_due(c);
    if (!due) {
        if (c->armed_due) {
            uv_timer_stop(&c->timer);
            c->armed_due = 0;
        }
        return;
    }
    if (c->armed_due && c->armed_due <= due)
        return; /* fires first and re-arms */
    uint64_t now = uv_now(c->srv->loop);
    uv_timer_start(&c->timer, on_conn_timer, due > now ? due - now : 0, 0);
    c->armed_due = due;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    pt__conn *c = h->data;
    buf->base = c->srv->readbuf;
    buf->len = sizeof(c->srv->readbuf);
}

static void conn_update_reading(pt__conn *c)
{
    if (c->closing)
        return;
    bool want = c->lingering || (!c->paused && !c->stop_parsing && !c->peer_eof && !c->shutting);
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    pt__conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0 || c->peer_eof) {
        conn_close(c);
        return;
    }
    c->lingering = true;
    c->linger_start_ms = uv_now(c->srv->loop);
    conn_update_reading(c);
    conn_timer_refresh(c);
}

/* Everything is answered and written: shut the write side, then linger. */
static void conn_finish(pt__conn *c)
{
    if (c->closing || c->shutting)
        return;
    if (c->peer_eof) {
        conn_close(c);
        return;
    }
    c->shutting = true;
    c->sreq.data = c;
    conn_update_reading(c);
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    pt__conn *c = req->data;
    c->writing = false;
    c->wbuf.len = 0;
    if (c->wbuf.cap > KEEP_BUF) /* a big answer's buffer need not stay */
        pt__sbuf_free(&c->wbuf);
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->last_write_ms = uv_now(c->srv->loop);
    conn_flush(c);
    conn_resume(c);
    conn_timer_refresh(c);
}

static void conn_flush(pt__conn *c)
{
    if (c->closing)
        return;
    if (!c->writing && c->out.len) {
        uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == UV_EAGAIN || n == UV_ENOSYS)
            n = 0;
        if (n < 0) {
            conn_close(c);
            return;
        }
        c->last_write_ms = uv_now(c->srv->loop);
        if ((size_t)n < c->out.len) {
            /* The kernel took part: hand the rest to uv_write, which owns
             * wbuf until on_write; new output collects in out. */
            pt__sbuf t = c->wbuf;
            c->wbuf = c->out;
            c->out = t;
            c->out.len = 0;
            uv_buf_t wb = uv_buf_init(c->wbuf.p + n, (unsigned)(c->wbuf.len - (size_t)n));
            c->wreq.data = c;
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &wb, 1, on_write) != 0) {
                conn_close(c);
                return;
            }
            c->writing = true;
        } else {
            c->out.len = 0;
            if (c->out.cap > KEEP_BUF)
                pt__sbuf_free(&c->out);
        }
    }
    if (!c->writing && !c->out.len && c->close_after && !c->qhead && !c->in_message &&
        (c->stop_parsing || !c->pending.len))
        conn_finish(c);
}

/* Queues an error answer for the message being parsed or just refused. */
static void conn_queue_error(pt__conn *c, int status, const char *msg)
{
    pt_server *s = c->srv;
    pt__req *r = calloc(1, sizeof(*r));
    c->stop_parsing = true;
    c->close_after = true;
    c->in_message = false;
    if (!r)
        return;
    r->srv = s;
    r->conn = c;
    r->route = PT__ROUTE_INVALID;
    r->start_ns = c->msg_start_ns ? c->msg_start_ns : uv_hrtime();
    r->keep_alive = false;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->nqueued++;
    s->metrics.in_flight++;
    pt__req_error_msg(r, status, msg);
}

static void on_conn_timer(uv_timer_t *t)
{
    pt__conn *c = t->data;
    c->armed_due = 0;
    uint64_t due = conn_due(c);
    if (!due)
        return;
    if (due > uv_now(c->srv->loop)) {
        conn_timer_refresh(c);
        return;
    }
    if (c->in_message && !c->lingering && !c->shutting) {
        /* The request did not arrive whole in time (a slow client or a
         * slowloris): answer 408 and drop the connection. */
        c->srv->metrics.conns_timed_out++;
        char msg[128];
        snprintf(msg, sizeof(msg), "request timeout: the request did not arrive within %u ms",
                 c->srv->o.request_timeout_ms);
        conn_queue_error(c, 408, msg);
        c->pending.len = 0;
        conn_update_reading(c);
        conn_flush(c);
        conn_timer_refresh(c);
        return;
    }
    if (c->writing || c->out.len)
        c->srv->metrics.conns_timed_out++;
    conn_close(c); /* idle, a peer that does not read, or the linger ran out */
}

/* Parses data (NULL: only the pending input) and writes what completed. */
static void conn_feed(pt__conn *c, const char *data, size_t len);

static void conn_resume(pt__conn *c)
{
    if (c->paused && !c->in_feed && !c->closing && !c->stop_parsing)
        conn_feed(c, NULL, 0);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    pt__conn *c = st->data;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF || c->lingering) {
            conn_close(c);
            return;
        }
        /* The client half-closed: answer what it sent, then close. */
        c->peer_eof = true;
        c->close_after = true;
        if (c->in_message) { /* a request cut short: nothing to answer */
            c->in_message = false;
            c->stop_parsing = true;
        }
        conn_update_reading(c);
        conn_flush(c);
        conn_timer_refresh(c);
        return;
    }
    c->last_activity_ms = uv_now(c->srv->loop);
    if (c->lingering || c->stop_parsing)
        return; /* discarded */
    if (c->pending.len) {
        if (pt__sbuf_add(&c->pending, buf->base, (size_t)nread)) {
            conn_close(c);
            return;
        }
        conn_feed(c, NULL, 0);
    } else {
        conn_feed(c, buf->base, (size_t)nread);
    }
}

static bool conn_can_parse(const pt__conn *c)
{
    return c->nqueued < c->srv->o.max_pipeline && c->out.len + c->wbuf.len < OUT_HIGH;
}

static void conn_parse_error(pt__conn *c, enum http_errno e)
{
    char msg[256];
    int status = c->reject_status;
    if (status) {
        snprintf(msg, sizeof(msg), "%s", c->reject_msg);
    } else if (e == HPE_HEADER_OVERFLOW) {
        status = 431;
        snprintf(msg, sizeof(msg), "request header too large");
    } else {
        status = 400;
        snprintf(msg, sizeof(msg), "malformed request: %s", http_errno_description(e));
    }
    conn_queue_error(c, status, msg);
}

/* Parses len bytes; returns how many were consumed (all, unless paused). */
static size_t conn_execute(pt__conn *c, const char *data, size_t len)
{
    size_t n = http_parser_execute(&c->parser, &c->srv->settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        c->paused = true;
        return n;
    }
    if (e != HPE_OK) {
        conn_parse_error(c, e);
        return len;
    }
    if (c->parser.upgrade) {
        /* CONNECT or Upgrade: answered as plain HTTP, then nothing more. */
        c->stop_parsing = true;
        c->close_after = true;
        return len;
    }
    return n;
}

static void conn_feed(pt__conn *c, const char *data, size_t len)
{
    c->in_feed = true;
    if (data) {
        size_t n = conn_execute(c, data, len);
        if (n < len && c->paused && !c->stop_parsing && !c->closing &&
            pt__sbuf_add(&c->pending, data + n, len - n))
            c->stop_parsing = c->close_after = true; /* out of memory */
    }
    while (c->paused && !c->stop_parsing && !c->closing && conn_can_parse(c)) {
        http_parser_pause(&c->parser, 0);
        c->paused = false;
        if (!c->pending.len)
            break;
        size_t n = conn_execute(c, c->pending.p, c->pending.len);
        memmove(c->pending.p, c->pending.p + n, c->pending.len - n);
        c->pending.len -= n;
    }
    c->in_feed = false;
    if (c->closing)
        return;
    if (c->stop_parsing)
        c->pending.len = 0;
    conn_pump(c);
    conn_update_reading(c);
    conn_flush(c);
    conn_timer_refresh(c);
}

/* --- parser callbacks -------------------------------------------------- */

static int refuse(pt__conn *c, int status, const char *msg)
{
    c->reject_status = status;
    snprintf(c->reject_msg, sizeof(c->reject_msg), "%s", msg);
    return -1;
}

static int count_head(pt__conn *c, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes > c->srv->o.max_header_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request header too large (limit %zu bytes)",
                 c->srv->o.max_header_bytes);
        return refuse(c, 431, msg);
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    pt__conn *c = p->data;
    c->in_message = true;
    c->msg_start_ms = uv_now(c->srv->loop);
    c->msg_start_ns = uv_hrtime();
    c->head_bytes = 0;
    c->url.len = c->body.len = 0;
    c->field_len = c->expect_len = 0;
    c->hdr_state = 0;
    c->reject_status = 0;
    conn_timer_refresh(c); /* the request deadline may be earlier */
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    pt__conn *c = p->data;
    if (count_head(c, len))
        return -1;
    return pt__sbuf_add(&c->url, at, len) ? refuse(c, 503, "out of memory") : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    pt__conn *c = p->data;
    if (count_head(c, len + 4)) /* ": " and CRLF */
        return -1;
    if (c->hdr_state != 1) {
        c->field_len = 0;
        c->hdr_state = 1;
    }
    size_t room = sizeof(c->field) - 1 - c->field_len;
    size_t n = len < room ? len : room;
    memcpy(c->field + c->field_len, at, n);
    c->field_len += n;
    c->field[c->field_len] = '\0';
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    pt__conn *c = p->data;
    if (count_head(c, len))
        return -1;
    if (c->hdr_state != 2) { /* a new value: is it Expect's? */
        c->hdr_state = 2;
        c->in_expect = strcasecmp(c->field, "expect") == 0;
        if (c->in_expect)
            c->expect_len = 0;
    }
    if (c->in_expect) {
        size_t room = sizeof(c->expect) - 1 - c->expect_len;
        size_t n = len < room ? len : room;
        memcpy(c->expect + c->expect_len, at, n);
        c->expect_len += n;
        c->expect[c->expect_len] = '\0';
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    pt__conn *c = p->data;
    pt_server *s = c->srv;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > s->o.max_body_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request body too large (%llu bytes; limit %zu)",
                 (unsigned long long)p->content_length, s->o.max_body_bytes);
        return refuse(c, 413, msg);
    }
    /* Expect: 100-continue: say go on, unless earlier answers are still due
     * (they must come first; the client then sends after its own wait). */
    if (c->expect_len && strcasecmp(c->expect, "100-continue") == 0 && !c->qhead && !c->out.len &&
        !c->writing)
        pt__sbuf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    pt__conn *c = p->data;
    pt_server *s = c->srv;
    if (c->body.len + len > s->o.max_body_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request body too large (limit %zu bytes)", s->o.max_body_bytes);
        return refuse(c, 413, msg);
    }
    return pt__sbuf_add(&c->body, at, len) ? refuse(c, 503, "out of memory") : 0;
}

/* Percent-decodes the path s[0..n) into out (NUL-terminated): 0, or -1 for
 * a bad escape or an encoded NUL. */
static int decode_path(const char *s, size_t n, pt__sbuf *out)
{
    out->len = 0;
    if (pt__sbuf_reserve(out, n + 1) || io_pct_decode_strict(s, n, false, out->p, n + 1))
        return -1;
    out->len = strlen(out->p);
    return 0;
}

static void conn_dispatch(pt__conn *c, pt__req *r, unsigned method)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(c->url.p, c->url.len, 0, &u) != 0 ||
        !(u.field_set & (1u << UF_PATH))) {
        r->route = PT__ROUTE_INVALID;
        pt__req_error(r, 400, "malformed request target");
        return;
    }
    if (decode_path(c->url.p + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len, &c->path)) {
        r->route = PT__ROUTE_INVALID;
        pt__req_error(r, 400, "malformed request target: bad percent-encoding in the path");
        return;
    }
    c->query.len = 0;
    if (u.field_set & (1u << UF_QUERY))
        pt__sbuf_add(&c->query, c->url.p + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    if (pt__sbuf_add(&c->query, "", 1) || pt__sbuf_add(&c->body, "", 1)) {
        pt__req_error(r, 503, "out of memory");
        return;
    }
    const char *allow = NULL;
    r->route = pt__route_match(c->path.p, &allow);
    if (r->route == PT__ROUTE_OTHER) {
        pt__req_error(r, 404,
                      "no such endpoint: %.200s (endpoints: /healthz, /metrics, /jobs, "
                      "/backends, /is_prime/N,..., /run/JOB, /fanout)",
                      c->path.p);
        return;
    }
    bool get_like = strncmp(allow, "GET", 3) == 0;
    bool ok = get_like ? (method == HTTP_GET || method == HTTP_HEAD) : method == HTTP_POST;
    if (!ok) {
        snprintf(r->extra, sizeof(r->extra), "Allow: %s\r\n", allow);
        pt__req_error(r, 405, "method %s not allowed on %.200s (allowed: %s)",
                      http_method_str((enum http_method)method), c->path.p, allow);
        return;
    }
    pt__http_in in = {
        .path = c->path.p,
        .path_len = c->path.len,
        .query = c->query.p,
        .body = c->body.p,
        .body_len = c->body.len - 1,
    };
    pt__route_dispatch(r, &in);
}

static int on_message_complete(http_parser *p)
{
    pt__conn *c = p->data;
    pt_server *s = c->srv;
    c->in_message = false;
    if (c->stop_parsing) {
        http_parser_pause(p, 1);
        return 0;
    }
    pt__req *r = calloc(1, sizeof(*r));
    if (!r)
        return refuse(c, 503, "out of memory");
    r->srv = s;
    r->conn = c;
    r->start_ns = c->msg_start_ns;
    r->keep_alive = http_should_keep_alive(p) != 0;
    r->http10 = p->http_major < 1 || (p->http_major == 1 && p->http_minor == 0);
    r->head = p->method == HTTP_HEAD;
    r->route = PT__ROUTE_INVALID;
    if (!r->keep_alive || s->state != PT__RUNNING) {
        c->stop_parsing = true; /* nothing after a closing request counts */
        c->close_after = true;
    }
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->nqueued++;
    s->metrics.in_flight++;
    conn_dispatch(c, r, p->method);
    /* Handlers copy what they keep: a big body's buffer need not stay. */
    if (c->body.cap > KEEP_BUF)
        pt__sbuf_free(&c->body);
    if (c->stop_parsing || !conn_can_parse(c))
        http_parser_pause(p, 1);
    return 0;
}

/* --- accepting ------------------------------------------------------- */

typedef struct reject_conn {
    uv_tcp_t tcp;
} reject_conn;

static void on_reject_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Over max_connections: accept, answer 503 and close. */
static void reject_connection(pt_server *s)
{
    reject_conn *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return;
    rc->tcp.data = rc;
    if (uv_tcp_init(s->loop, &rc->tcp) != 0) {
        free(rc);
        return;
    }
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&rc->tcp) == 0) {
        char body[160], msg[512];
        int blen = snprintf(body, sizeof(body),
                            "{\"error\":\"too many connections (limit %u)\",\"status\":503}\n",
                            s->o.max_connections);
        int n = snprintf(msg, sizeof(msg),
                         "HTTP/1.1 503 Service Unavailable\r\nServer: ptool\r\nDate: %s\r\n"
                         "Content-Type: application/json\r\nContent-Length: %d\r\n"
                         "Connection: close\r\nRetry-After: 1\r\n\r\n%s",
                         server_date(s), blen, body);
        uv_buf_t b = uv_buf_init(msg, (unsigned)n);
        uv_try_write((uv_stream_t *)&rc->tcp, &b, 1);
        s->metrics.conns_rejected++;
    }
    uv_close((uv_handle_t *)&rc->tcp, on_reject_closed);
}

static void on_connection(uv_stream_t *ls, int status)
{
    pt_server *s = ls->data;
    if (status < 0 || s->state != PT__RUNNING)
        return;
    if (s->nconns >= s->o.max_connections) {
        reject_connection(s);
        return;
    }
    pt__conn *c = calloc(1, sizeof(*c));
    if (!c) {
        reject_connection(s);
        return;
    }
    c->srv = s;
    c->tcp.data = c;
    c->timer.data = c;
    if (uv_tcp_init(s->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    c->open_handles = 1;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0 || uv_timer_init(s->loop, &c->timer) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
        return;
    }
    c->open_handles = 2;
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->metrics.conns_accepted++;
    c->last_activity_ms = c->last_write_ms = uv_now(s->loop);
    conn_update_reading(c);
    if (!c->reading) {
        conn_close(c);
        return;
    }
    conn_timer_refresh(c);
}

/* --- pending work and the stop -------------------------------------------- */

void pt__server_pending_add(pt_server *s)
{
    s->pending++;
}

void pt__server_pending_done(pt_server *s)
{
    s->pending--;
    server_check_stopped(s);
}

int pt__server_work(pt_server *s, pt_io_work_fn fn, pt_io_done_fn done, void *arg)
{
    int rc = pt_io_bridge_submit(s->bridge, fn, done, arg);
    if (rc == 0)
        s->pending++;
    return rc;
}

static void free_server(pt_server *s);

static void on_server_handle_closed(uv_handle_t *h)
{
    pt_server *s = h->data;
    if (--s->open_handles)
        return;
    if (s->create_failed) {
        free_server(s);
        return;
    }
    s->state = PT__STOPPED;
    if (s->o.on_stopped)
        s->o.on_stopped(s, s->o.on_stopped_arg, !s->forced);
}

static void server_check_stopped(pt_server *s)
{
    if (s->state != PT__DRAINING || s->nconns || s->pending)
        return;
    s->state = PT__CLOSING;
    uv_timer_stop(&s->shutdown_timer);
    pt_io_bridge_close(s->bridge); /* nothing in flight: does not block */
    s->bridge = NULL;
    uv_close((uv_handle_t *)&s->stop_async, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->shutdown_timer, on_server_handle_closed);
}

/* A connection at the stop: close it if idle, else answer what has arrived
 * and close after. */
static void conn_drain(pt__conn *c)
{
    if (c->closing)
        return;
    if (c->in_message) /* a request still arriving is not answered */
        c->in_message = false;
    c->stop_parsing = true;
    c->close_after = true;
    c->pending.len = 0;
    if (!c->qhead && !c->out.len && !c->writing && !c->shutting) {
        conn_close(c);
        return;
    }
    conn_update_reading(c);
    conn_flush(c);
    conn_timer_refresh(c);
}

static void on_shutdown_deadline(uv_timer_t *t)
{
    pt_server *s = t->data;
    if (s->nconns)
        s->forced = true;
    while (s->conns)
        conn_close(s->conns);
}

static void begin_drain(pt_server *s)
{
    if (s->state != PT__RUNNING)
        return;
    s->state = PT__DRAINING;
    uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
    uv_timer_start(&s->shutdown_timer, on_shutdown_deadline, s->o.shutdown_timeout_ms, 0);
    for (pt__conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        conn_drain(c);
    }
    server_check_stopped(s);
}

static void on_stop_async(uv_async_t *h)
{
    begin_drain(h->data);
}

void pt_server_stop(pt_server *s)
{
    if (!s)
        return;
    bool expected = false;
    if (atomic_compare_exchange_strong(&s->stop_requested, &expected, true))
        uv_async_send(&s->stop_async);
}

/* --- creation ------------------------------------------------------------ */

/* Binds and listens on a socket of our own, so that a failure leaves no
 * handle behind: the fd, or -errno. */
static int open_listener(const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, sa, len) != 0 || listen(fd, BACKLOG) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static void free_server(pt_server *s)
{
    if (s->upstreams) {
        for (size_t i = 0; i < s->o.nupstreams; i++)
            free(s->upstreams[i]);
        free(s->upstreams);
    }
    free(s->files_dir);
    free(s);
}

int pt_server_create(pt_server **out, uv_loop_t *loop, pt_runtime *rt,
                     const pt_server_options *opts, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || !loop || !rt)
        return io_errf(err, errlen, PT_EINVAL, "pt_server_create: no loop or runtime");
    pt_server *s = calloc(1, sizeof(*s));
    if (!s)
        return io_errf(err, errlen, PT_ENOMEM, "out of memory");
    int fd = -1, rc;
    if (opts)
        s->o = *opts;
    s->loop = loop;
    s->rt = rt;
    pt_server_options *o = &s->o;
    snprintf(s->host, sizeof(s->host), "%s", o->host && *o->host ? o->host : "127.0.0.1");
    o->host = s->host;
    if ((unsigned)o->backend >= PT_BACKEND_COUNT || o->port > 65535) {
        rc = io_errf(err, errlen, PT_EINVAL, "bad backend or port");
        goto fail;
    }
    unsigned rthreads = pt_runtime_threads(rt);
    s->max_threads = o->threads ? o->threads : rthreads;
    if (!o->workers)
        o->workers = rthreads;
    if (!o->max_connections)
        o->max_connections = 1024;
    if (!o->max_header_bytes)
        o->max_header_bytes = 8 * 1024;
    if (!o->max_body_bytes)
        o->max_body_bytes = 1024 * 1024;
    if (!o->max_pipeline)
        o->max_pipeline = 32;
    if (!o->max_jobs)
        o->max_jobs = o->workers;
    if (!o->max_queued_jobs)
        o->max_queued_jobs = 1024;
    if (!o->idle_timeout_ms)
        o->idle_timeout_ms = 30000;
    if (!o->request_timeout_ms)
        o->request_timeout_ms = 10000;
    if (!o->shutdown_timeout_ms)
        o->shutdown_timeout_ms = 10000;
    if (!o->max_file_bytes)
        o->max_file_bytes = 1024 * 1024;
    if (o->files_dir) {
        if (!(s->files_dir = strdup(o->files_dir))) {
            rc = io_errf(err, errlen, PT_ENOMEM, "out of memory");
            goto fail;
        }
        o->files_dir = s->files_dir;
    }
    if (o->nupstreams) {
        s->upstreams = calloc(o->nupstreams, sizeof(*s->upstreams));
        if (!s->upstreams) {
            rc = io_errf(err, errlen, PT_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < o->nupstreams; i++)
            if (!(s->upstreams[i] = strdup(o->upstreams[i]))) {
                rc = io_errf(err, errlen, PT_ENOMEM, "out of memory");
                goto fail;
            }
        o->upstreams = (const char *const *)s->upstreams;
    }

    /* The address: numeric IPv4 or IPv6 ("localhost" = 127.0.0.1). */
    struct sockaddr_storage ss;
    const char *h = strcmp(s->host, "localhost") == 0 ? "127.0.0.1" : s->host;
    if (uv_ip4_addr(h, (int)o->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(h, (int)o->port, (struct sockaddr_in6 *)&ss) != 0) {
        rc =
            io_errf(err, errlen, PT_EINVAL, "--host: '%s' is not an IPv4 or IPv6 address", s->host);
        goto fail;
    }
    socklen_t slen =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    fd = open_listener((struct sockaddr *)&ss, slen);
    if (fd < 0) {
        rc = io_errf(err, errlen, fd, "cannot listen on %s:%u: %s", s->host, o->port,
                     uv_strerror(fd));
        fd = -1;
        goto fail;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        rc = io_errf(err, errlen, -errno, "getsockname: %s", uv_strerror(-errno));
        goto fail;
    }
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);

    pt_pool_options po = {.threads = o->workers};
    if ((rc = pt_pool_create(&s->pool, &po)) != 0) {
        rc = io_errf(err, errlen, rc, "cannot start the worker pool: %s", pt_strerror(rc));
        goto fail;
    }
    /* From here on handles exist: a failure closes them, and the server is
     * freed by the last close callback (the loop must run once more). */
    s->listener.data = s->stop_async.data = s->shutdown_timer.data = s;
    if ((rc = uv_tcp_init(loop, &s->listener)) != 0) {
        rc = io_errf(err, errlen, rc, "uv_tcp_init: %s", uv_strerror(rc));
        goto fail;
    }
    s->open_handles = 1;
    if ((rc = uv_tcp_open(&s->listener, fd)) != 0) {
        rc = io_errf(err, errlen, rc, "uv_tcp_open: %s", uv_strerror(rc));
        goto fail_closing;
    }
    fd = -1; /* the handle owns it */
    if ((rc = uv_timer_init(loop, &s->shutdown_timer)) != 0) {
        rc = io_errf(err, errlen, rc, "uv_timer_init: %s", uv_strerror(rc));
        goto fail_closing;
    }
    s->open_handles = 2;
    if ((rc = uv_async_init(loop, &s->stop_async, on_stop_async)) != 0) {
        rc = io_errf(err, errlen, rc, "uv_async_init: %s", uv_strerror(rc));
        goto fail_closing;
    }
    s->open_handles = 3;
    if ((rc = pt_io_bridge_create(&s->bridge, loop, s->pool)) != 0) {
        rc = io_errf(err, errlen, rc, "cannot set up the loop bridge: %s", pt_strerror(rc));
        goto fail_closing;
    }
    if ((rc = uv_listen((uv_stream_t *)&s->listener, BACKLOG, on_connection)) != 0) {
        rc = io_errf(err, errlen, rc, "cannot listen: %s", uv_strerror(rc));
        goto fail_closing;
    }

    http_parser_settings_init(&s->settings);
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_value = on_header_value;
    s->settings.on_headers_complete = on_headers_complete;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;
    s->state = PT__RUNNING;
    *out = s;
    return 0;

fail_closing:
    s->create_failed = true;
    if (s->bridge)
        pt_io_bridge_close(s->bridge);
    s->bridge = NULL;
    if (fd >= 0)
        close(fd);
    pt_pool_destroy(s->pool);
    s->pool = NULL;
    {
        uv_handle_t *hs[] = {(uv_handle_t *)&s->listener, (uv_handle_t *)&s->shutdown_timer,
                             (uv_handle_t *)&s->stop_async};
        unsigned n = s->open_handles;
        for (unsigned i = 0; i < n; i++)
            uv_close(hs[i], on_server_handle_closed);
    }
    *out = NULL;
    return rc;
fail:
    if (fd >= 0)
        close(fd);
    pt_pool_destroy(s->pool);
    free_server(s);
    *out = NULL;
    return rc;
}

unsigned pt_server_port(const pt_server *s)
{
    return s ? s->port : 0;
}

void pt_server_destroy(pt_server *s)
{
    if (!s)
        return;
    pt_pool_destroy(s->pool);
    free_server(s);
}
