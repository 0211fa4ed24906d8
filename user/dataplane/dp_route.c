// SPDX-License-Identifier: Apache-2.0
/*
 * Which interface leads to an address: one RTM_GETROUTE over rtnetlink (libmnl), as
 * `ip route get ADDR` asks it. The STRICT guard uses it to find the node side of a pod's veth
 * (every CNI routes a pod's address to its veth: a /32 or a connected route), whatever the
 * interface is called.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <time.h>

#include "dataplane/dp_internal.h"

static int attr_oif(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == RTA_OIF && !mnl_attr_validate(a, MNL_TYPE_U32))
		*(int *)data = (int)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int reply_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct rtmsg), attr_oif, data);
}

int dp_route_oif(const union skiff_addr *addr, __u8 family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int oif = 0, n, err = 0;
	unsigned int seq = (unsigned int)time(NULL);

	if (!nl)
		return -errno;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family == SKIFF_AF_INET6 ? AF_INET6 : AF_INET;
	rtm->rtm_dst_len = family == SKIFF_AF_INET6 ? 128 : 32;
	mnl_attr_put(nlh, RTA_DST, family == SKIFF_AF_INET6 ? 16 : 4, addr);
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		err = -errno;
	/* a route request (not a dump) has one answer: the route, or an error */
	if (!err && ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) < 0 ||
		     mnl_cb_run(buf, n, seq, mnl_socket_get_portid(nl), reply_cb, &oif) < 0))
		err = -errno;
	mnl_socket_close(nl);
	if (err)
		return err;
	return oif > 0 ? oif : -ENOENT;
}
