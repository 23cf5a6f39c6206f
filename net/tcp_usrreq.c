/*
 * tcp_usrreq.c - the socket calls on a TCP socket, run by its netisr.
 *
 * Each call is a "try" (socketvar.h): it does what it can now and
 * returns EAGAIN (or EINPROGRESS for connect) when it must wait, and
 * the socket layer parks it until tcp_input or a timer changes
 * something.  A send that blocks keeps its progress in the request
 * (req->done), so a large send goes in pieces as the buffer drains.
 *
 * Closing (RFC 9293 3.10.4): unread data left means the user lost bytes,
 * so the connection is reset (RFC 1122 4.2.2.13); otherwise the FIN
 * follows the data: ESTABLISHED -> FIN-WAIT-1, CLOSE-WAIT -> LAST-ACK.
 * The socket is marked as its user's no more (SS_NOFDREF) and is freed
 * with the connection, after TIME-WAIT if it comes to that.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/socketvar.h>
#include <net/tcp_var.h>

/* The socket's pending error, consumed: a user sees each error once.
 * 0 if there is none. */
static inline int _tcp_take_error(struct socket *so)
{
	int error = so->so_error;

	so->so_error = 0;
	return error;
}

/* The first try of an active open: a tcpcb in SYN-SENT, filed under its
 * 4-tuple, and its SYN sent.  Returns EINPROGRESS, or ENOBUFS with no
 * connection. */
static int tcp_connect_start(struct so_req *req)
{
	struct socket *so = req->so;
	struct tcpcb *tp = tcp_newtcpcb(so);

	if (tp == NULL)
		return ENOBUFS;
	so->so_faddr = req->addr;
	so->so_fport = req->port;
	tp->iss = tcp_iss();
	tp->snd_una = tp->snd_nxt = tp->snd_max = tp->iss;
	tp->rcv_scale = 0;
	tcp_set_state(tp, TCPS_SYN_SENT);
	tcp_attach_conn(tp);
	NETSTAT_INC(tcp_connects);
	tcp_output(tp);
	return EINPROGRESS;
}

/*
 * Active open: the connection starts here, on the CPU connect picked
 * (so_connect hashed the 4-tuple before sending the request, so the
 * SYN-ACK will arrive on this very netisr).  The first try creates the
 * tcpcb and sends the SYN; later tries only report: EINPROGRESS while
 * the handshake runs, 0 once it is ESTABLISHED.  rcv_scale stays 0
 * until the peer's SYN-ACK shows it scales too (RFC 7323 2.2).
 */
static int tcp_connect(struct so_req *req)
{
	struct socket *so = req->so;
	struct tcpcb *tp = so->so_tcp;

	if (tp == NULL)		/* first try: send the SYN */
		return so->so_state & SS_ISCONNECTED ? EALREADY :
		       tcp_connect_start(req);
	if (tp->t_state == TCPS_SYN_SENT || tp->t_state == TCPS_SYN_RECEIVED)
		return EINPROGRESS;
	return 0;
}

/*
 * connect's try: still waiting for the handshake, or what became of
 * it.  req->done marks whether the SYN has gone (a request is
 * retried by so_wakeup, and must not start a second connection).  A
 * tcpcb gone before ESTABLISHED means the attempt failed: so_error says
 * why (ECONNREFUSED for a RST, EHOSTUNREACH for ICMP, ETIMEDOUT after
 * the SYN's last resend), and is consumed here, as a user would see it
 * once.
 */
static int tcp_connect_result(struct so_req *req)
{
	struct socket *so = req->so;

	if (req->done == 0) {		/* the first try: send the SYN */
		req->done = 1;
		return tcp_connect(req);
	}
	if (so->so_tcp == NULL) {
		int error = _tcp_take_error(so);

		return error ? error : ECONNREFUSED;
	}
	return tcp_connect(req);
}

/* A send on a connection that takes no more (shut down, closing, gone):
 * after some bytes went, 0 with what was sent (a short write), the
 * pending error left for the next call; else that error, consumed, or
 * EPIPE.  So a reset ending a send is heard once, as ECONNRESET, by the
 * call after the short write, and every send after it is EPIPE (as on
 * Linux). */
static int tcp_send_shut(struct so_req *req)
{
	int error;

	if (req->done)
		return 0;
	error = _tcp_take_error(req->so);
	return error ? error : EPIPE;
}

/* The result of a send that took what fitted: 0 once all of it went,
 * else EAGAIN to park it -- but a non-blocking send that moved some
 * bytes has succeeded with those (a short write). */
static inline int _tcp_send_status(const struct so_req *req)
{
	if (req->done == req->len)
		return 0;
	/* Non-blocking: partial is success, nothing at all is EAGAIN. */
	if (req->flags & MSG_DONTWAIT)
		return req->done ? 0 : EAGAIN;
	return EAGAIN;
}

/*
 * send's try: copy what fits into the send ring and push it out.  The
 * ring holds the bytes until they are acknowledged, so the copy is the
 * only one a send makes; tcp_output cuts segments from the ring.  A
 * blocking send of more than fits parks with its progress in req->done
 * and continues as ACKs free space (tcp_input calls so_wakeup).  After
 * some bytes went, a later error ends the call with what was sent, like
 * a short write (tcp_send_shut).
 */
static int tcp_send_try(struct so_req *req)
{
	struct socket *so = req->so;
	struct tcpcb *tp = so->so_tcp;
	uint32_t took;

	if (so->so_state & SS_CANTSENDMORE || tp == NULL ||
	    tp->t_flags & TF_NEEDFIN)
		return tcp_send_shut(req);
	if (tp->t_state == TCPS_SYN_SENT || tp->t_state == TCPS_SYN_RECEIVED)
		return EAGAIN;
	took = sb_append(&so->so_snd, (const uint8_t *)req->sbuf + req->done,
			 (uint32_t)MIN(req->len - req->done, (size_t)UINT32_MAX));
	req->done += took;
	if (took > 0)
		tcp_output(tp);
	return _tcp_send_status(req);
}

/* A recv that finds the ring empty: a pending error first, then end of
 * stream (0: the peer's FIN came, SHUT_RD, or the connection is gone),
 * ENOTCONN on a socket that never had a connection (a listener too, as
 * on Linux), else EAGAIN to wait for data. */
static int tcp_recv_empty(struct socket *so)
{
	int error = _tcp_take_error(so);

	if (error)
		return error;
	if (so->so_state & SS_CANTRCVMORE)
		return 0;	/* end of stream */
	if (so->so_tcp == NULL)
		return ENOTCONN;	/* never connected, or a listener */
	return EAGAIN;
}

/*
 * recv's try: whatever the receive ring holds, up to len.  Pending
 * errors come before end of stream, end of stream (0 bytes, no error)
 * after every byte was read.  Taking bytes opens the window, so
 * tcp_output decides whether the peer should hear of it now (a window
 * update is due when it grew by half the ring or by two segments).
 */
static int tcp_recv_try(struct so_req *req)
{
	struct socket *so = req->so;
	struct tcpcb *tp = so->so_tcp;
	uint32_t n = (uint32_t)MIN(req->len, (size_t)so->so_rcv.sb_len);

	if (n == 0)
		return tcp_recv_empty(so);
	sb_take(&so->so_rcv, req->rbuf, n);
	req->done = n;
	/* Room was made: the peer may be waiting for a window update. */
	if (tp != NULL)
		tcp_output(tp);
	return 0;
}

/*
 * accept's try: the first connection on the listener's queue.  A
 * connection reaches the queue only after its handshake completed on the
 * CPU its 4-tuple hashes to, carried here as a message (tcp_handoff);
 * the accepted socket keeps living on that CPU, and calls on it go there.
 */
static int tcp_accept_try(struct so_req *req)
{
	struct socket *head = req->so, *so;

	if (!(head->so_state & SS_LISTENING))
		return EINVAL;
	if ((so = TAILQ_FIRST(&head->so_acceptq)) == NULL)
		return EAGAIN;
	TAILQ_REMOVE(&head->so_acceptq, so, so_qlink);
	head->so_qlen--;
	NETSTAT_INC(tcp_accepts);
	req->newso = so;
	return 0;
}

/*
 * The user is done sending (close or SHUT_WR): the FIN goes after the
 * data (RFC 9293 3.10.4, CLOSE).  A connection that never reached the
 * peer (CLOSED, LISTEN, SYN-SENT) just ends; an open one moves to
 * FIN-WAIT-1, one the peer already closed to LAST-ACK; one that is
 * closing already stays as it is.  Returns NULL if tp is gone.
 */
static struct tcpcb *tcp_usrclosed(struct tcpcb *tp)
{
	switch (tp->t_state) {
	case TCPS_CLOSED:
	case TCPS_LISTEN:
	case TCPS_SYN_SENT:
		return tcp_close(tp);
	case TCPS_SYN_RECEIVED:
	case TCPS_ESTABLISHED:
		tcp_set_state(tp, TCPS_FIN_WAIT_1);
		break;
	case TCPS_CLOSE_WAIT:
		tcp_set_state(tp, TCPS_LAST_ACK);
		break;
	default:
		return tp;		/* already closing */
	}
	tp->t_flags |= TF_NEEDFIN;
	tp->t_so->so_state |= SS_CANTSENDMORE;
	tcp_output(tp);
	return tp;
}

/* A queued, never-accepted connection of a closing listener: reset it
 * on its own netisr. */
void tcp_refuse(struct netmsg *nm)
{
	struct socket *so = (struct socket *)((uint8_t *)nm -
		__builtin_offsetof(struct socket, so_handoff));

	lwkt_replymsg(&nm->nm_lmsg, 0);
	so->so_state |= SS_NOFDREF;
	if (so->so_tcp != NULL)
		tcp_drop(so->so_tcp, ECONNRESET);
	else
		so_free(so);
}

/* close of a listener: every other CPU already removed it from its
 * table (so_close), so nothing new can be queued; what is queued is
 * refused on the CPU that owns each connection. */
static int tcp_close_listener(struct socket *so)
{
	struct socket *child;

	so_fail_waiters(so, EINTR);
	while ((child = TAILQ_FIRST(&so->so_acceptq)) != NULL) {
		TAILQ_REMOVE(&so->so_acceptq, child, so_qlink);
		netmsg_init(&child->so_handoff, netisr_done_port(),
			    tcp_refuse);
		lwkt_sendmsg(netisr_port(child->so_cpu),
			     &child->so_handoff.nm_lmsg);
	}
	so_free(so);
	return 0;
}

/* close's try: never waits.  The user is gone at once (SS_NOFDREF);
 * the connection finishes on its own and frees the socket. */
static int tcp_close_try(struct so_req *req)
{
	struct socket *so = req->so;
	struct tcpcb *tp = so->so_tcp;

	if (so->so_state & SS_LISTENING)
		return tcp_close_listener(so);
	so_fail_waiters(so, EINTR);
	so->so_state |= SS_NOFDREF;
	if (tp == NULL) {
		so_free(so);
		return 0;
	}
	if (so->so_rcv.sb_len > 0)	/* unread data: reset, not FIN */
		tcp_drop(tp, ECONNRESET);
	else
		tcp_usrclosed(tp);
	return 0;
}

/* shutdown: SHUT_RD throws away what is buffered and what comes;
 * SHUT_WR sends the FIN after the data; SHUT_RDWR does both.  Parked
 * calls are retried, so a blocked recv sees its end of stream. */
static int tcp_shutdown(struct so_req *req)
{
	struct socket *so = req->so;

	if (req->value != SHUT_WR) {
		so->so_state |= SS_CANTRCVMORE;
		sb_take(&so->so_rcv, NULL, so->so_rcv.sb_len);
	}
	if (req->value != SHUT_RD && so->so_tcp != NULL)
		tcp_usrclosed(so->so_tcp);
	so_wakeup(so);
	return 0;
}

/* bind: the local address and port so_bind reserved; the socket now
 * owns the port and releases it when freed (so_free). */
static int tcp_bind(struct so_req *req)
{
	struct socket *so = req->so;

	so->so_laddr = req->addr;
	so->so_lport = req->port;
	so->so_port_owned = true;
	return 0;
}

/* listen: the socket takes connections from now on (tcp_input's LISTEN
 * step finds it), at most req->value of them queued unaccepted. */
static int tcp_listen(struct so_req *req)
{
	req->so->so_state |= SS_LISTENING;
	req->so->so_backlog = req->value;
	return 0;
}

/* TCP_NODELAY on or off: on the socket, which a connection made later
 * copies (tcp_newtcpcb, and accepted ones from their listener), and on
 * the connection if there is one. */
static int tcp_setopt(struct so_req *req)
{
	struct socket *so = req->so;

	so->so_nodelay = req->value != 0;
	if (so->so_tcp != NULL)
		so->so_tcp->t_flags = req->value ?
			so->so_tcp->t_flags | TF_NODELAY :
			so->so_tcp->t_flags & ~TF_NODELAY;
	return 0;
}

/* so_readable's answer: the bytes to read, -1 at end of stream, else 0. */
static int tcp_readable(const struct socket *so)
{
	if (so->so_rcv.sb_len > 0)
		return (int)so->so_rcv.sb_len;
	return so->so_state & SS_CANTRCVMORE ? -1 : 0;
}

/*
 * Every socket call on a TCP socket, on its netisr (so_dispatch).  Returns
 * the call's result, or EAGAIN / EINPROGRESS to park it.  Never blocks:
 * a netisr must keep serving packets.
 */
int tcp_usr(struct so_req *req)
{
	struct socket *so = req->so;

	INVARIANT(netisr_on(mycpuid) && so->so_cpu == mycpuid,
		  "tcp_usr: a TCP socket's call runs on the netisr that owns "
		  "the socket; so_dispatch forwards it there");
	switch (req->op) {
	case SO_OP_BIND:
		return tcp_bind(req);
	case SO_OP_LISTEN:
		return tcp_listen(req);
	case SO_OP_ACCEPT:
		return tcp_accept_try(req);
	case SO_OP_CONNECT:
		return tcp_connect_result(req);
	case SO_OP_SEND:
		return tcp_send_try(req);
	case SO_OP_RECV:
		return tcp_recv_try(req);
	case SO_OP_SHUTDOWN:
		return tcp_shutdown(req);
	case SO_OP_CLOSE:
		return tcp_close_try(req);
	case SO_OP_SETOPT:
		return tcp_setopt(req);
	case SO_OP_ERROR:
		req->value = _tcp_take_error(so);
		return 0;
	case SO_OP_PARKED:		/* answered by so_dispatch */
		return EINVAL;
	case SO_OP_STATE:
		req->value = so->so_tcp ? (int)so->so_tcp->t_state : -1;
		return 0;
	case SO_OP_READABLE:
		req->value = tcp_readable(so);
		return 0;
	}
	return EOPNOTSUPP;
}
