/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Addresses as skiff's maps hold them (union skiff_addr with SKIFF_AF_INET or SKIFF_AF_INET6),
 * to and from text and socket addresses. The one place that converts between the three forms,
 * so that "[fd00::1]:80" and an IPv4-mapped peer read the same everywhere.
 */
#ifndef SKIFF_COMMON_ADDR_H
#define SKIFF_COMMON_ADDR_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "skiff/lb.h"

#define ADDR_TEXT_MAX	  INET6_ADDRSTRLEN	 /* an address as text, NUL included */
#define ADDR_ENDPOINT_MAX (INET6_ADDRSTRLEN + 8) /* "[address]:65535", NUL included */

/* "10.0.0.1" or "fd00::1" -> *out. Returns SKIFF_AF_INET or SKIFF_AF_INET6, or 0 with *out
 * zeroed when `text` is NULL or no address. */
int addr_parse(const char *text, union skiff_addr *out);

/* "10.0.0.1:80" or "[fd00::1]:80", `n` bytes (no NUL needed), port 1-65535 -> *out and *port
 * (network order). Returns the family, or 0 when it is not such an endpoint. */
int addr_parse_endpoint(const char *s, size_t n, union skiff_addr *out, uint16_t *port);

/* The text of an address ("none" for family 0); returns buf. */
const char *addr_text(const union skiff_addr *a, int family, char *buf, size_t len);

/* "10.0.0.1:80" or "[fd00::1]:80" for a port in host order; returns buf. */
const char *addr_endpoint(const union skiff_addr *a, int family, uint16_t port, char *buf,
			  size_t len);

/* A socket address for `text` and `port` (host order). Returns its length, or -EINVAL when
 * `text` is no IP address. */
int addr_sockaddr(const char *text, uint16_t port, struct sockaddr_storage *ss);

/* Back from a socket address; an IPv4-mapped IPv6 address becomes IPv4. Returns the family, or
 * 0 for another socket family. *port (may be NULL) gets the port in network order. */
int addr_from_sockaddr(const struct sockaddr_storage *ss, union skiff_addr *a, uint16_t *port);

#endif
