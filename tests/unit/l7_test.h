/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the L7 tests share: a free loopback port, and a small HPACK writer for header blocks
 * written by hand. The writer is the tests' own on purpose: blocks that check skiffd's HPACK
 * code must not be made by it.
 */
#ifndef SKIFF_TESTS_L7_TEST_H
#define SKIFF_TESTS_L7_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP port on 127.0.0.1 that was free a moment ago. */
static inline uint16_t free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* An HPACK integer (RFC 7541 5.1) with a `prefix`-bit prefix after the bits in `first`. */
static inline size_t hp_int(uint8_t *p, uint32_t v, int prefix, uint8_t first)
{
	uint32_t max = (1u << prefix) - 1;
	size_t n = 0;

	if (v < max) {
		p[n++] = first | v;
		return n;
	}
	p[n++] = first | max;
	for (v -= max; v >= 128; v >>= 7)
		p[n++] = 0x80 | (v & 0x7f);
	p[n++] = v;
	return n;
}

/* A plain (not Huffman-coded) string literal. */
static inline size_t hp_str(uint8_t *p, const char *s, size_t len)
{
	size_t n = hp_int(p, len, 7, 0);

	memcpy(p + n, s, len);
	return n + len;
}

/* A literal the client adds to its table (RFC 7541 6.2.1, new name). */
static inline size_t hp_add(uint8_t *p, const char *name, const char *value)
{
	size_t n = 0;

	p[n++] = 0x40;
	n += hp_str(p + n, name, strlen(name));
	return n + hp_str(p + n, value, strlen(value));
}

#endif
