/*
 * kern/errno.h - error numbers returned by kernel functions.
 *
 * The values are the BSD ones (DragonFly's sys/errno.h), so that a reader
 * can look any of them up in a BSD manual.  Kernel functions return 0 for
 * success and one of these, positive, for failure.
 */
#ifndef KERN_ERRNO_H
#define KERN_ERRNO_H

#define EPERM		1	/* operation not permitted */
#define ENOENT		2	/* no such file, entry or message */
#define ESRCH		3	/* no such process or thread */
#define EINTR		4	/* interrupted (e.g. a message aborted) */
#define EIO		5	/* input/output error, or corrupt data */
#define ENXIO		6	/* device not configured */
#define E2BIG		7	/* argument list too long */
#define ENOEXEC		8	/* not an executable this kernel can run */
#define EBADF		9	/* bad descriptor */
#define ECHILD		10	/* no child process to wait for */
#define EDEADLK		11	/* resource deadlock avoided */
#define ENOMEM		12	/* cannot allocate memory */
#define EACCES		13	/* permission denied */
#define EFAULT		14	/* bad address */
#define EBUSY		16	/* device or resource busy */
#define EEXIST		17	/* already exists */
#define EXDEV		18	/* cross-device link */
#define ENODEV		19	/* operation not supported by device */
#define ENOTDIR		20	/* not a directory */
#define EISDIR		21	/* is a directory */
#define EINVAL		22	/* invalid argument */
#define ENFILE		23	/* too many open files in system */
#define EMFILE		24	/* too many open files */
#define ENOTTY		25	/* not a terminal (ioctl) */
#define EFBIG		27	/* file too large */
#define ENOSPC		28	/* no space left on device */
#define ESPIPE		29	/* seek on a pipe */
#define EROFS		30	/* read-only file system */
#define EMLINK		31	/* too many links */
#define EPIPE		32	/* broken pipe */
#define ERANGE		34	/* result too large */
#define EAGAIN		35	/* resource temporarily unavailable */
#define EWOULDBLOCK	EAGAIN	/* a sleep or wait timed out */
#define EINPROGRESS	36	/* operation now in progress */
#define EALREADY	37	/* operation already in progress */
#define ENOTSOCK	38	/* not a socket */
#define EDESTADDRREQ	39	/* destination address required */
#define EMSGSIZE	40	/* message too long */
#define ENOPROTOOPT	42	/* protocol not available (no such option) */
#define EPROTONOSUPPORT	43	/* protocol not supported */
#define ESOCKTNOSUPPORT	44	/* socket type not supported */
#define EOPNOTSUPP	45	/* operation not supported */
#define EAFNOSUPPORT	47	/* address family not supported */
#define EADDRINUSE	48	/* address already in use */
#define ENETDOWN	50	/* network is down */
#define ENETUNREACH	51	/* network is unreachable */
#define ECONNRESET	54	/* connection reset by peer */
#define ENOBUFS		55	/* no buffer space available */
#define EISCONN		56	/* socket is already connected */
#define ENOTCONN	57	/* socket is not connected */
#define ETIMEDOUT	60	/* operation timed out */
#define ECONNREFUSED	61	/* connection refused */
#define ELOOP		62	/* too many levels of symbolic links */
#define ENAMETOOLONG	63	/* file name too long */
#define EHOSTUNREACH	65	/* no route to host */
#define ENOTEMPTY	66	/* directory not empty */
#define ENOSYS		78	/* function not implemented */

/*
 * Not an error: a message port's put function returns EASYNC when it has
 * queued the message and the reply will come later (kern/msgport.h).
 */
#define EASYNC		99

#endif /* KERN_ERRNO_H */
