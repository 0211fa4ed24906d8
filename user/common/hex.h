/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SKIFF_COMMON_HEX_H
#define SKIFF_COMMON_HEX_H

/* The value of one hexadecimal digit, either case; -1 for any other byte. */
static inline int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
