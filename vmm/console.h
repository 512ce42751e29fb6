/*
 * A guest's console: everything the guest prints (UART bytes, test-device
 * prints) goes to one line-buffered sink, either gmm's stderr with a
 * "[name] " prefix or a log file of its own.
 */
#ifndef GMM_VMM_CONSOLE_H
#define GMM_VMM_CONSOLE_H

#include <pthread.h>
#include <stdio.h>

#define CONSOLE_LINE_MAX 1024

struct console {
	pthread_mutex_t lock;  /* protects line[] and len */
	FILE *out;             /* stderr or the log file */
	int owns_out;
	char prefix[80];
	char line[CONSOLE_LINE_MAX];
	size_t len;
};

/* path NULL or "-": stderr with a prefix; otherwise the file is created or
 * appended to. Returns -errno. */
int console_open(struct console *c, const char *name, const char *path);
void console_putc(struct console *c, char ch);
void console_write(struct console *c, const char *s, size_t n);
void console_close(struct console *c);

#endif
