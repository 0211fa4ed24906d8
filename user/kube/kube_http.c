// SPDX-License-Identifier: Apache-2.0
/*
 * One GET against the API server over libcurl, its body fed through json-c's tokener as it
 * arrives. A watch is a chunked response that never ends on its own, one JSON event per line;
 * the tokener keeps a partial object across chunks, so an event split anywhere by the network
 * is still read whole, and nothing waits for the end of the body.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "kube/kube_internal.h"
#include "kube/kube_json.h"

struct kh_req {
	struct kube_watcher *w;
	CURL *h;
	json_tokener *tok;
	struct kube_stream body;
	kube_obj_fn fn;
	void *ctx;
	long status;
	int err; /* from fn, or -EPROTO */
	char *msg;
	size_t msglen;
};

static void kh_status_message(struct kh_req *r, struct json_object *o)
{
	struct json_object *m;

	if (r->msglen && json_object_object_get_ex(o, "message", &m))
		snprintf(r->msg, r->msglen, "%s", json_object_get_string(m));
}

static int kh_object(void *ctx, struct json_object *o)
{
	struct kh_req *r = ctx;

	if (r->status != 200) {
		kh_status_message(r, o);
		return 0;
	}
	return r->fn(r->w, r->ctx, o);
}

static size_t kh_write(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct kh_req *r = ctx;
	size_t len = size * nmemb;

	if (!r->status)
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
	r->err = kube_stream_feed(&r->body, p, len, kh_object, r);
	return r->err < 0 ? 0 : len; /* 0 ends the transfer */
}

/* Called by libcurl about once a second even on an idle watch: the way a close gets in. */
static int kh_progress(void *ctx, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
	struct kube_source *ks = ((struct kh_req *)ctx)->w->ks;
	bool stop;

	(void)dlt, (void)dln, (void)ult, (void)uln;
	pthread_mutex_lock(&ks->lock);
	stop = ks->stopping;
	pthread_mutex_unlock(&ks->lock);
	return stop;
}

static void kh_setup(struct kh_req *r, const char *url, long timeout_s)
{
	curl_easy_setopt(r->h, CURLOPT_URL, url);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, kh_write);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(r->h, CURLOPT_XFERINFOFUNCTION, kh_progress);
	curl_easy_setopt(r->h, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(r->h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(r->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(r->h, CURLOPT_USERAGENT, "skiffd");
	curl_easy_setopt(r->h, CURLOPT_PROTOCOLS_STR, "https");
}

const char *kube_failure_text(int rc, long status, const char *msg, char *buf, size_t len)
{
	if (rc < 0)
		snprintf(buf, len, "%s%s%s", strerror(-rc), msg[0] ? ": " : "", msg);
	else
		snprintf(buf, len, "HTTP %ld%s%s", status, msg[0] ? ": " : "", msg);
	return buf;
}

int kube_http_get(struct kube_watcher *w, const char *path, long timeout_s, kube_obj_fn fn,
		  void *ctx, long *status, char *msg, size_t msglen)
{
	struct kh_req r = {.w = w, .fn = fn, .ctx = ctx, .msg = msg, .msglen = msglen};
	struct curl_slist *hdrs = NULL;
	char url[2048], errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	int rc;

	if (msglen)
		msg[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", w->ks->conn.server, path);
	r.h = curl_easy_init();
	/* an event wraps its object two levels down; 64 leaves room for deeply nested CRDs */
	r.tok = json_tokener_new_ex(64);
	if (!r.h || !r.tok) {
		rc = -ENOMEM;
		goto out;
	}
	kube_stream_init(&r.body, r.tok);
	kh_setup(&r, url, timeout_s);
	curl_easy_setopt(r.h, CURLOPT_ERRORBUFFER, errbuf);
	rc = kube_conn_apply(&w->ks->conn, r.h, &hdrs);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot read the token file %s: %s", w->ks->conn.token_file,
			 strerror(-rc));
		goto out;
	}
	cc = curl_easy_perform(r.h);
	if (!r.status)
		curl_easy_getinfo(r.h, CURLINFO_RESPONSE_CODE, &r.status);
	*status = r.status;
	if (r.err < 0)
		rc = r.err;
	else if (cc == CURLE_ABORTED_BY_CALLBACK)
		rc = -ECANCELED;
	else if (cc != CURLE_OK) {
		snprintf(msg, msglen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		rc = -EIO;
	} else {
		rc = kube_stream_end(&r.body, kh_object, &r); /* a body without a last newline */
	}
out:
	kube_stream_free(&r.body);
	curl_slist_free_all(hdrs);
	if (r.tok)
		json_tokener_free(r.tok);
	if (r.h)
		curl_easy_cleanup(r.h);
	return rc;
}
