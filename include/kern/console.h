/*
 * kern/console.h - the kernel console (kern/kern_cons.c).
 */
#ifndef KERN_CONSOLE_H
#define KERN_CONSOLE_H

/* Switch output from the 0xE9 debug port to COM1.  Boot CPU, early. */
void cons_init(void);

/* From now on print without taking the console lock.  Called by panic(). */
void cons_enter_panic(void);

/*
 * Divert console output to tap(c, arg) instead of the hardware, or back to
 * the hardware with tap == NULL.  For tests that check what a function
 * prints.  Any context; takes the console lock.
 */
typedef void (*cons_tap_t)(int c, void *arg);
void cons_set_tap(cons_tap_t tap, void *arg);

#endif /* KERN_CONSOLE_H */
