/* tt_http.c - see tt_http.h. */
#include "tt_http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct tt_http_req {
	struct tt_http_req *next, *prev;
	CURL *easy;
	struct curl_slist *headers;
	tt_http_done_fn *done;
	void *ctx;
	char *body;
	size_t len, cap, max;
	bool truncated;
	const char *const *want;
	char *header[TT_HTTP_MAX_HEADERS];
};

struct tt_http {
	CURLM *multi;
	char *ca_file;
	struct tt_http_req *reqs;
};

static bool curl_ready;

struct tt_http *
tt_http_new(const char *ca_file)
{
	struct tt_http *h;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return NULL;
		curl_ready = true;
	}
	h = calloc(1, sizeof *h);
	if (h == NULL)
		return NULL;
	h->multi = curl_multi_init();
	h->ca_file = ca_file != NULL ? strdup(ca_file) : NULL;
	if (h->multi == NULL || (ca_file != NULL && h->ca_file == NULL)) {
		tt_http_free(h);
		return NULL;
	}
	return h;
}

static void
req_free(struct tt_http *h, struct tt_http_req *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		h->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	if (r->easy != NULL) {
		curl_multi_remove_handle(h->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	for (size_t i = 0; i < TT_HTTP_MAX_HEADERS; i++)
		free(r->header[i]);
	free(r->body);
	free(r);
}

void
tt_http_free(struct tt_http *h)
{
	if (h == NULL)
		return;
	while (h->reqs != NULL)
		req_free(h, h->reqs);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	free(h->ca_file);
	free(h);
}

static size_t
on_body(char *data, size_t size, size_t n, void *userp)
{
	struct tt_http_req *r = userp;
	size_t len = size * n, keep = len;

	if (r->len + keep > r->max) {
		/* Past the ceiling: keep what fits and stop the transfer. */
		keep = r->max - r->len;
		r->truncated = true;
		len = 0;
	}
	if (r->len + keep + 1 > r->cap) {
		size_t cap = r->cap == 0 ? 16384 : r->cap;
		char *p;

		while (cap < r->len + keep + 1)
			cap *= 2;
		p = realloc(r->body, cap);
		if (p == NULL)
			return 0; /* curl reports a write error */
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, keep);
	r->len += keep;
	r->body[r->len] = '\0';
	return len;
}

/* Keeps the values of the headers the caller asked for. A redirect's
 * headers are replaced by the final response's. */
static size_t
on_header(char *data, size_t size, size_t n, void *userp)
{
	struct tt_http_req *r = userp;
	size_t len = size * n;
	const char *colon = memchr(data, ':', len);

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		for (size_t i = 0; i < TT_HTTP_MAX_HEADERS; i++) {
			free(r->header[i]);
			r->header[i] = NULL;
		}
		return len;
	}
	if (colon == NULL || r->want == NULL)
		return len;
	for (size_t i = 0; i < TT_HTTP_MAX_HEADERS && r->want[i] != NULL; i++) {
		size_t nl = strlen(r->want[i]);
		const char *v = colon + 1, *end = data + len;

		if ((size_t)(colon - data) != nl || strncasecmp(data, r->want[i], nl) != 0)
			continue;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(r->header[i]);
		r->header[i] = strndup(v, (size_t)(end - v));
	}
	return len;
}

struct tt_http_req *
tt_http_start(struct tt_http *h, const struct tt_http_get *g, tt_http_done_fn *done, void *ctx)
{
	struct tt_http_req *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->next = h->reqs;
	if (h->reqs != NULL)
		h->reqs->prev = r;
	h->reqs = r;
	r->done = done;
	r->ctx = ctx;
	r->max = g->max_body;
	r->want = g->want_headers;
	r->easy = curl_easy_init();
	if (r->easy == NULL)
		goto fail;
	for (size_t i = 0; g->headers != NULL && g->headers[i] != NULL; i++) {
		struct curl_slist *l = curl_slist_append(r->headers, g->headers[i]);

		if (l == NULL)
			goto fail;
		r->headers = l;
	}
	curl_easy_setopt(r->easy, CURLOPT_URL, g->url);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, g->timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, g->timeout_ms < 10000 ? g->timeout_ms : 10000L);
	curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (g->follow_redirects) {
		/* An https request is never redirected to plain http (the
		 * base URLs are checked to be lowercase http:// or https://). */
		curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(r->easy, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR,
		    strncmp(g->url, "https:", 6) == 0 ? "https" : "http,https");
	}
	if (h->ca_file != NULL)
		curl_easy_setopt(r->easy, CURLOPT_CAINFO, h->ca_file);
	if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK)
		goto fail;
	return r;
fail:
	req_free(h, r);
	return NULL;
}

void
tt_http_cancel(struct tt_http *h, struct tt_http_req *r)
{
	if (r != NULL)
		req_free(h, r);
}

/* A curl error as a short text that names no URL (it may hold a key). */
static const char *
transport_error(CURLcode code)
{
	return curl_easy_strerror(code);
}

int
tt_http_poll(struct tt_http *h)
{
	int running = 0, left;
	CURLMsg *m;

	curl_multi_perform(h->multi, &running);
	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct tt_http_req *r = NULL;
		struct tt_http_result res = { 0 };

		if (m->msg != CURLMSG_DONE)
			continue;
		for (r = h->reqs; r != NULL && r->easy != m->easy_handle; r = r->next)
			;
		if (r == NULL)
			continue;
		if (m->data.result != CURLE_OK && !(m->data.result == CURLE_WRITE_ERROR && r->truncated)) {
			res.error = transport_error(m->data.result);
		} else {
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
		}
		res.body = r->body != NULL ? r->body : "";
		res.body_len = r->len;
		res.truncated = r->truncated;
		for (size_t i = 0; i < TT_HTTP_MAX_HEADERS; i++)
			res.header[i] = r->header[i];
		r->done(r->ctx, &res);
		req_free(h, r);
	}
	return running;
}

bool
tt_http_escape(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			if (o + 1 >= outsz)
				return false;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsz)
				return false;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= outsz)
		return false;
	out[o] = '\0';
	return true;
}
