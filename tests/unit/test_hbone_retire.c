// SPDX-License-Identifier: Apache-2.0
/*
 * Where the kernel seals an HBONE connection's records (kTLS), its send key cannot be renewed:
 * skiffd counts the records each write may have made (hb_tls_ktls_sent) and retires the
 * connection with GOAWAY once the count reaches TLS_REC_KTLS_RETIRE (2^23), then ends it before
 * the key's 2^24th record. This runs the real accounting on a real nghttp2 session (both
 * roles) and reads the GOAWAY frame from what nghttp2 then sends; no kernel is needed, so it runs
 * where kTLS does not exist (the lab's kTLS tests cover the sockets themselves).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hbone/hbone_internal.h"

#define H2_PREFACE_LEN 24

static struct hb_conn *conn_new(struct proxy *p, bool server)
{
	struct hb_conn *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->p = p;
	c->server = server;
	c->ev.fd = -1;
	assert_int_equal(hb_session_init(c), 0);
	return c;
}

static void conn_free(struct hb_conn *c)
{
	nghttp2_session_del(c->h2);
	free(c->wbuf);
	free(c);
}

/* Does nghttp2's output hold a GOAWAY with NO_ERROR? (Frames: 3-byte length, type, flags,
 * stream id; GOAWAY is type 7, its error code the payload's bytes 4..7.) */
static bool goaway_sent(struct hb_conn *c)
{
	unsigned char all[4096];
	size_t len = 0, pos;
	const uint8_t *out;
	ssize_t n;

	while ((n = nghttp2_session_mem_send(c->h2, &out)) > 0) {
		assert_true(len + (size_t)n <= sizeof(all));
		memcpy(all + len, out, n);
		len += n;
	}
	pos = len >= H2_PREFACE_LEN && !memcmp(all, "PRI ", 4) ? H2_PREFACE_LEN : 0; /* client */
	for (; pos + 9 <= len;) {
		size_t flen = (size_t)all[pos] << 16 | all[pos + 1] << 8 | all[pos + 2];
		const unsigned char *pl = all + pos + 9;

		if (all[pos + 3] == 7 && flen >= 8 && !pl[4] && !pl[5] && !pl[6] && !pl[7])
			return true;
		pos += 9 + flen;
	}
	return false;
}

/* Each write is counted as at least the records the kernel could have closed with it. */
static void test_count_is_an_upper_bound(void **state)
{
	static const size_t lens[] = {1, 100, 16383, 16384, 16385, 65536, 1 << 20};
	struct proxy p = {.epfd = -1};
	struct hb_conn *c = conn_new(&p, true);

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint64_t before = c->ktls_recs;
		/* the full records of it and of the one left open before it, and its last one */
		uint64_t most = (lens[i] + TLS_REC_MAX_PLAIN - 1) / TLS_REC_MAX_PLAIN + 1;

		hb_tls_ktls_sent(c, lens[i]);
		assert_true(c->ktls_recs - before >= most);
	}
	assert_false(c->retiring);
	assert_false(goaway_sent(c));
	conn_free(c);
}

/* GOAWAY once the count reaches 2^23, not before; the connection ends before 2^24. */
static void retire(bool server)
{
	struct proxy p = {.epfd = -1};
	struct hb_conn *c = conn_new(&p, server);
	int writes = 0;

	goaway_sent(c); /* the SETTINGS every session starts with */
	hb_tls_ktls_sent(c, (size_t)(TLS_REC_KTLS_RETIRE - 100) * TLS_REC_MAX_PLAIN);
	assert_false(c->retiring);
	assert_false(goaway_sent(c));
	while (!c->retiring && writes < 100) {
		hb_tls_ktls_sent(c, 1);
		writes++;
	}
	assert_true(c->retiring);
	assert_true(c->ktls_recs >= TLS_REC_KTLS_RETIRE && c->ktls_recs < TLS_REC_KTLS_RETIRE + 2);
	assert_true(goaway_sent(c));
	assert_false(c->dead); /* its streams finish: a GOAWAY is not a reset */
	hb_tls_ktls_sent(c, 1);
	assert_false(goaway_sent(c)); /* once */
	/* the streams went on sending: it must end before the key's last record */
	hb_tls_ktls_sent(c, (size_t)(TLS_REC_KTLS_END - TLS_REC_KTLS_RETIRE - 200) *
				TLS_REC_MAX_PLAIN);
	assert_false(c->dead);
	while (!c->dead)
		hb_tls_ktls_sent(c, TLS_REC_MAX_PLAIN);
	assert_true(c->ktls_recs >= TLS_REC_KTLS_END && c->ktls_recs < TLS_REC_KTLS_END + 3);
	assert_true(TLS_REC_KTLS_END + (1 << 16) < (1ULL << 24)); /* room for a last write */
	conn_free(c);
}

static void test_server_retires(void **state)
{
	(void)state;
	retire(true);
}

static void test_client_retires(void **state)
{
	(void)state;
	retire(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_count_is_an_upper_bound),
	    cmocka_unit_test(test_server_retires),
	    cmocka_unit_test(test_client_retires),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
