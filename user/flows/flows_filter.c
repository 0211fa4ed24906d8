// SPDX-License-Identifier: Apache-2.0
/* The query of GET /flows: ns=, pod=, verdict=, since= (seconds ago), follow=1. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "flows/flows.h"

/* Percent-decode `n` bytes of `s` into out; false when it does not fit. */
static bool unescape(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
			c = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= len)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int param(const char *k, size_t kl, const char *v, struct flows_filter *ft, char *err,
		 size_t errlen)
{
	char val[256];
	char *end;
	long s;

	if (!unescape(v, strlen(v), val, sizeof(val)))
		return snprintf(err, errlen, "%.*s: value too long", (int)kl, k), -1;
	if (kl == 2 && !strncmp(k, "ns", 2) && strlen(val) < sizeof(ft->ns))
		strcpy(ft->ns, val);
	else if (kl == 3 && !strncmp(k, "pod", 3) && strlen(val) < sizeof(ft->pod))
		strcpy(ft->pod, val);
	else if (kl == 7 && !strncmp(k, "verdict", 7)) {
		if (strcmp(val, "forwarded") && strcmp(val, "denied") && strcmp(val, "dropped"))
			return snprintf(err, errlen, "verdict=%s: use forwarded, denied or dropped",
					val),
			       -1;
		strcpy(ft->verdict, val);
	} else if (kl == 5 && !strncmp(k, "since", 5)) {
		s = strtol(val, &end, 10);
		if (*end || s < 0)
			return snprintf(err, errlen, "since=%s: seconds ago, a whole number", val),
			       -1;
		ft->since_ms = now_ms() - s * 1000;
	} else if (kl == 6 && !strncmp(k, "follow", 6)) {
		ft->follow = !strcmp(val, "1") || !strcmp(val, "true");
	} else {
		return snprintf(err, errlen,
				"unknown parameter %.*s (ns, pod, verdict, since, "
				"follow)",
				(int)kl, k),
		       -1;
	}
	return 0;
}

int flows_filter_parse(const char *query, struct flows_filter *ft, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *tok;

	memset(ft, 0, sizeof(*ft));
	if (!query || !*query)
		return 0;
	if (strlen(query) >= sizeof(buf))
		return snprintf(err, errlen, "query too long"), -1;
	strcpy(buf, query);
	for (tok = strtok_r(buf, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			return snprintf(err, errlen, "%s: not NAME=VALUE", tok), -1;
		if (param(tok, (size_t)(eq - tok), eq + 1, ft, err, errlen))
			return -1;
	}
	return 0;
}
