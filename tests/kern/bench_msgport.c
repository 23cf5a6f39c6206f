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
#include <machine/cpufunc.h>

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

/*
 * lwkt_sendmsg to a server on another CPU, the sender's side only: each
 * send is timed on its own (rdtsc around it) and the cheapest one counts,
 * which filters out any moment the measuring CPU spent elsewhere.  The
 * server's work and the replies are not timed.
 */
#define REMOTE_WINDOW 32

static int bench_sink(struct msg_server *srv, lwkt_msg_t msg)
{
	return 0;
}

KBENCH(msgport_sendmsg_remote, 4096)
{
	struct msg_server srv;
	struct lwkt_port rport;
	struct lwkt_msg msgs[REMOTE_WINDOW];
	uint64_t best = UINT64_MAX;

	if (ncpus < 2) {
		kbench_skip("needs 2 CPUs; kbench booted with 1");
		return;
	}
	if (msgserver_start(&srv, "bench-sink", 1, bench_sink, NULL) != 0)
		return;
	lwkt_initport_thread(&rport, curthread);
	for (uint64_t i = 0; i < n; i += REMOTE_WINDOW) {
		for (int k = 0; k < REMOTE_WINDOW; k++) {
			uint64_t t0, t1;

			lwkt_initmsg(&msgs[k], &rport, 0);
			t0 = rdtsc();
			lwkt_sendmsg(&srv.ms_port, &msgs[k]);
			t1 = rdtsc();
			best = MIN(best, t1 - t0);
		}
		for (int k = 0; k < REMOTE_WINDOW; k++)
			lwkt_waitport(&rport, 0, 0, NULL);
	}
	msgserver_stop(&srv);
	lwkt_destroyport(&rport);
	kbench_report(best, 1);
}
