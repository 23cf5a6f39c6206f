/*
 * net/net.h - bringing the network stack up, and its shell commands
 * (net/net_init.c, net/net_shell.c; docs/net.md).
 */
#ifndef NET_NET_H
#define NET_NET_H

/*
 * Start the protocol threads, the tables and the services, and configure
 * the first interface from the command line (ip=, gw=).  Boot thread,
 * after the drivers attached and SMP is up.
 */
void net_init(void);

/* Start the echo, discard and HTTP services (services.c).  Boot. */
void net_services_start(void);
/* Connections the services are serving now (tests wait for 0). */
int net_services_active(void);

/* Shell commands: each takes the rest of the command line. */
void net_cmd_ifconfig(const char *args);
void net_cmd_arp(const char *args);
void net_cmd_netstat(const char *args);
void net_cmd_ping(const char *args);

#endif /* NET_NET_H */
