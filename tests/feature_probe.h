/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel feature probes for the cmocka tests, and the skip convention that goes with them.
 *
 * A test that needs a feature calls FEATURE_REQUIRE(name, probe) first thing. When the running
 * kernel lacks the feature the case is skipped with a named reason: it prints
 * "# skip reason: NAME: WHY" and calls cmocka's skip(); tests/run.sh lists every skip with that
 * reason and counts a skip without one as a failure. A feature named in SKIFF_EXPECT_FEATURES
 * (comma- or space-separated, e.g. "ktls"; vmtests/guest.sh sets it for Debian's 6.1 kernel)
 * must be there: the case fails instead of skipping. A probe that cannot decide (say, no socket
 * to probe with) fails the case too: only a clear "absent" may skip.
 *
 * Probes return FEATURE_PRESENT, FEATURE_ABSENT or FEATURE_PROBE_ERROR and write why into their
 * buffer. They run in the caller's network namespace and leave nothing behind.
 */
#ifndef SKIFF_TESTS_FEATURE_PROBE_H
#define SKIFF_TESTS_FEATURE_PROBE_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

enum feature_state { FEATURE_PROBE_ERROR = -1, FEATURE_ABSENT = 0, FEATURE_PRESENT = 1 };

typedef enum feature_state (*feature_probe_fn)(char *why, size_t len);

/* An established TCP pair on 127.0.0.1 (client end in fds[0], accepted end in fds[1]). */
static inline int feature_tcp_pair(int fds[2])
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int l;

	fds[0] = fds[1] = -1;
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		goto fail;
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	fds[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fds[1] < 0)
		goto fail;
	close(l);
	return 0;
fail:
	if (fds[0] >= 0)
		close(fds[0]);
	close(l);
	fds[0] = -1;
	return -1;
}

/*
 * kTLS: the "tls" upper-layer protocol can be attached to an established TCP socket. ENOENT
 * means the kernel has no tls ULP (CONFIG_TLS unset, or the module cannot be loaded); the kernel
 * loads the module itself when it can.
 */
static inline enum feature_state feature_probe_ktls(char *why, size_t len)
{
	static enum feature_state cached = FEATURE_PROBE_ERROR;
	static char cached_why[200];
	static bool done;
	int fds[2], err = 0;

	if (!done) {
		if (feature_tcp_pair(fds)) {
			snprintf(cached_why, sizeof(cached_why),
				 "cannot probe: no TCP connection on 127.0.0.1 (%s)",
				 strerror(errno));
			cached = FEATURE_PROBE_ERROR;
		} else {
			if (setsockopt(fds[1], SOL_TCP, TCP_ULP, "tls", sizeof("tls")))
				err = errno;
			close(fds[0]);
			close(fds[1]);
			if (!err) {
				snprintf(cached_why, sizeof(cached_why),
					 "the kernel has the tls ULP");
				cached = FEATURE_PRESENT;
			} else if (err == ENOENT) {
				snprintf(cached_why, sizeof(cached_why),
					 "the kernel has no tls ULP (setsockopt TCP_ULP \"tls\": "
					 "ENOENT)");
				cached = FEATURE_ABSENT;
			} else {
				snprintf(cached_why, sizeof(cached_why),
					 "cannot probe: setsockopt TCP_ULP \"tls\": %s",
					 strerror(err));
				cached = FEATURE_PROBE_ERROR;
			}
		}
		done = true;
	}
	snprintf(why, len, "%s", cached_why);
	return cached;
}

/* Is NAME listed in SKIFF_EXPECT_FEATURES? */
static inline bool feature_expected(const char *name)
{
	const char *list = getenv("SKIFF_EXPECT_FEATURES"), *p;
	size_t n = strlen(name);

	for (p = list; p && *p;) {
		size_t w;

		p += strspn(p, ", \t");
		w = strcspn(p, ", \t");
		if (w == n && !strncmp(p, name, n))
			return true;
		p += w;
	}
	return false;
}

/*
 * In a cmocka test: go on when the feature is there; otherwise skip with the reason, or fail
 * when the feature is expected or the probe could not tell.
 */
#define FEATURE_REQUIRE(name, probe)                                                               \
	do {                                                                                       \
		char why_[256];                                                                    \
		enum feature_state st_ = (probe)(why_, sizeof(why_));                              \
		if (st_ == FEATURE_PROBE_ERROR)                                                    \
			fail_msg("%s: %s", (name), why_);                                          \
		if (st_ == FEATURE_ABSENT && feature_expected(name))                               \
			fail_msg(                                                                  \
			    "%s is expected on this kernel (SKIFF_EXPECT_FEATURES=%s), but %s",    \
			    (name), getenv("SKIFF_EXPECT_FEATURES"), why_);                        \
		if (st_ == FEATURE_ABSENT) {                                                       \
			printf("# skip reason: %s: %s\n", (name), why_);                           \
			fflush(stdout);                                                            \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

#endif /* SKIFF_TESTS_FEATURE_PROBE_H */
