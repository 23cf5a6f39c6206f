/*
 * net_init.c - the order in which the network stack comes up.
 *
 * Drivers have attached their interfaces during pci_init, but until the
 * protocol threads run, ether_input drops what arrives (ether_nostack).
 * Then: the netisrs, ARP's timer, the command line's address (which
 * sends a gratuitous ARP).
 */
#include <kern/types.h>
#include <kern/kprintf.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/net.h>
#include <net/netisr.h>
#include <net/socketvar.h>
#include <net/tcp_var.h>

void net_init(void)
{
	mbuf_init();
	netisr_init();
	arp_init();
	so_init();
	tcp_init();
	if_config_cmdline();
	if (if_find(NULL) != NULL)	/* something to serve on */
		net_services_start();
}
