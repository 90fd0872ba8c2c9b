/* tt_http.h - HTTP GETs that never block the event loop (libcurl multi).
 *
 * The direct provider asks three HTTP routes before it opens a WebSocket
 * (the live page, the api-live route, the sign server) for many rooms at
 * once, while other rooms' sockets need their heartbeats on time. A
 * request is therefore started here and finished by tt_http_poll(), which
 * the provider's loop calls on every tick; nothing waits in a blocking
 * call. Bodies have a ceiling, and only the response headers a caller
 * names are kept.
 *
 * Secrets: a request's URL and headers may hold an API key or a session
 * cookie, so nothing here logs them; errors name the host only.
 */
#ifndef TT_HTTP_H
#define TT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct tt_http;              /* the set of requests in flight */
struct tt_http_req;

#define TT_HTTP_MAX_HEADERS 8

struct tt_http_result {
	long status;                 /* HTTP status; 0 when no response came */
	const char *error;           /* transport error (no response), else NULL */
	const char *body;            /* NUL-terminated; may hold NULs when binary */
	size_t body_len;
	bool truncated;              /* the body passed the ceiling */
	/* The values of the headers asked for (want_headers), NULL when absent. */
	const char *header[TT_HTTP_MAX_HEADERS];
};

/* Called once per request, from tt_http_poll(); r is valid only during the
 * call. The request is freed after it returns. */
typedef void tt_http_done_fn(void *ctx, const struct tt_http_result *r);

/* ca_file: a CA bundle to trust instead of the system's (NULL: system). */
struct tt_http *tt_http_new(const char *ca_file);
void tt_http_free(struct tt_http *h);   /* cancels what is in flight, no callbacks */

struct tt_http_get {
	const char *url;
	const char *const *headers;      /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *const *want_headers; /* response header names to keep (any case), NULL-terminated, at most TT_HTTP_MAX_HEADERS */
	size_t max_body;                 /* ceiling on the kept body */
	long timeout_ms;                 /* whole request */
	bool follow_redirects;
};

/* Starts a GET. NULL when it could not be started (out of memory). */
struct tt_http_req *tt_http_start(struct tt_http *h, const struct tt_http_get *g,
    tt_http_done_fn *done, void *ctx);

/* Abandons a request: its callback is not called. */
void tt_http_cancel(struct tt_http *h, struct tt_http_req *r);

/* Moves every request on without blocking and calls the callbacks of
 * those that finished. Returns the number still in flight. */
int tt_http_poll(struct tt_http *h);

/* Percent-encodes s (RFC 3986 unreserved characters kept) into out, NUL-
 * terminated. False when it does not fit. */
bool tt_http_escape(const char *s, char *out, size_t outsz);

#endif
