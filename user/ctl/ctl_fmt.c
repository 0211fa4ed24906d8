// SPDX-License-Identifier: Apache-2.0
/* Pure text formatting for skiffctl (ctl_fmt.h): no I/O, unit-tested. */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl_fmt.h"

void ctl_fmt_share(char *buf, size_t len, uint64_t part, uint64_t total)
{
	/* tenths of a percent, rounded to nearest */
	uint64_t tenths = total ? (part * 1000 + total / 2) / total : 0;

	if (!total)
		snprintf(buf, len, "-");
	else if (part && !tenths)
		snprintf(buf, len, "<0.1 %%");
	else if (tenths % 10 == 0)
		snprintf(buf, len, "%llu %%", (unsigned long long)(tenths / 10));
	else
		snprintf(buf, len, "%llu.%llu %%", (unsigned long long)(tenths / 10),
			 (unsigned long long)(tenths % 10));
}

void ctl_fmt_fill(char *buf, size_t len, long entries, uint32_t max)
{
	char free_share[16];

	if (entries < 0) {
		snprintf(buf, len, "n/a (socket storage)");
		return;
	}
	ctl_fmt_share(free_share, sizeof(free_share),
		      (uint64_t)entries >= max ? 0 : max - (uint64_t)entries, max);
	snprintf(buf, len, "%ld/%u (%s free)", entries, max, free_share);
}

int ctl_fill_low(long entries, uint32_t max)
{
	return entries >= 0 && max &&
	       (uint64_t)(max - (entries > max ? max : entries)) * 100 <
		   (uint64_t)max * CTL_FILL_WARN_PCT;
}

void ctl_fmt_service_name(char *buf, size_t len, const char *name)
{
	size_t n = strlen(name);

	if (n > 4 && !strcmp(name + n - 4, "/TCP"))
		n -= 4;
	snprintf(buf, len, "%.*s", (int)n, name);
}

void ctl_fmt_service(struct strbuf *b, const char *name, const struct ctl_backend *be, size_t n,
		     uint32_t total)
{
	char svc[512], share[16];
	size_t real = 0;

	for (size_t i = 0; i < n; i++)
		real += be[i].label != NULL;
	ctl_fmt_service_name(svc, sizeof(svc), name);
	sb_printf(b, "%s \u2192 %zu backend%s", svc, real, real == 1 ? "" : "s");
	if (!n)
		return;
	sb_printf(b, " (");
	for (size_t i = 0; i < n; i++) {
		ctl_fmt_share(share, sizeof(share), be[i].weight, total);
		sb_printf(b, "%s%s %s", i ? ", " : "", be[i].label ? be[i].label : "no backend",
			  share);
	}
	sb_printf(b, ")");
}
