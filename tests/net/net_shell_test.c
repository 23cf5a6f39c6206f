/*
 * net_shell_test.c - the network's shell commands typed on the serial
 * port by Linux, and the boot's ip= and gw=: suite `net_shell`, in the
 * `net` group (tests/ktest-groups), whose kernel command line carries
 * `ip=192.0.2.2/24 gw=192.0.2.1` (`-append` in the group's line).
 *
 * A command is typed the way a user would: the runner's agent writes it
 * to the serial input after answering a `shell_type` request, the test
 * runs one round of the real shell (shell_step: prompt, read_line,
 * execute), and `shell_check` has the agent judge what came out on the
 * serial port against what Linux knows -- its own MAC in our ARP table,
 * our connection to its server on the CPU we say it is on
 * (tests/net/peers.py).
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/shell.h>
#include <net/if.h>
#include <net/net.h>
#include <net/socket.h>
#include "net_testlib.h"

#define GUEST_ADDR	"192.0.2.2"
#define HOST_ADDR	"192.0.2.1"
#define ECHO_PORT	5004

/* Have the runner type line on the serial port, run it through the
 * shell, and let the runner judge the output by check's expectations. */
static void shell_over_serial(const char *line, const char *check)
{
	struct peer_result r;

	peer_run(&r, "shell_type %s", line);
	KT_ASSERT_EQ(r.status, 0);
	shell_step();
	peer_run(&r, "shell_check %s", check);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "all expected");
}

/*
 * This suite's tests run after others in the boot may have set vnet0's
 * address (peer_if sets 192.0.2.2/24 with no gateway when it differs):
 * a gateway of 192.0.2.1 can only have come from the command line.
 */
KTEST(net_shell, ip_and_gw_on_the_command_line_configure_vnet0)
{
	struct ifnet *ifp = if_find("vnet0");
	char ip[32], gw[32];
	uint32_t addr, gateway;

	if (ifp == NULL)
		KT_SKIP("no virtio-net device in this boot");
	KT_ASSERT_TRUE(cmdline_get("ip", ip, sizeof(ip)));
	KT_ASSERT_TRUE(cmdline_get("gw", gw, sizeof(gw)));
	KT_EXPECT_STREQ(ip, GUEST_ADDR "/24");
	KT_EXPECT_STREQ(gw, HOST_ADDR);
	inet_aton(GUEST_ADDR, &addr);
	inet_aton(HOST_ADDR, &gateway);
	KT_EXPECT_EQ(ifp->if_addr, addr);
	KT_EXPECT_EQ(ifp->if_netmask, htonl(0xffffff00u));
	KT_EXPECT_EQ(ifp->if_gateway, gateway);
}

KTEST(net_shell, ifconfig_over_serial_shows_mac_address_and_gateway)
{
	shell_over_serial("ifconfig", "ifconfig");
}

KTEST(net_shell, ping_over_serial_gets_linux_replies)
{
	shell_over_serial("ping " HOST_ADDR " 3", "ping count=3");
}

/* After the ping, netisr 0's table holds Linux's address and MAC. */
KTEST(net_shell, arp_over_serial_shows_linux_mac)
{
	shell_over_serial("ping " HOST_ADDR " 1", "ping count=1");
	shell_over_serial("arp", "arp");
}

/*
 * With a connection of ours to a Linux echo server open, netstat must
 * list it on the CPU that owns it (so_cpu), every CPU's connection
 * count, and the counters.
 */
KTEST(net_shell, netstat_over_serial_lists_connections_per_cpu)
{
	struct peer_result r;
	struct socket *so;
	char check[64];
	uint32_t host;

	peer_run(&r, "serve_echo %d", ECHO_PORT);
	KT_ASSERT_EQ(r.status, 0);
	inet_aton(HOST_ADDR, &host);
	KT_ASSERT_EQ(so_create(SOCK_STREAM, &so), 0);
	KT_ASSERT_EQ(so_connect(so, host, htons(ECHO_PORT)), 0);
	ksnprintf(check, sizeof(check), "netstat cpus=%d cpu=%d port=%d",
		  ncpus, so_cpu(so), ECHO_PORT);
	shell_over_serial("netstat", check);
	so_close(so);
}
