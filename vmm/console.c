/* Guest console sink; see console.h. */
#include "vmm/console.h"

#include <errno.h>
#include <string.h>

int console_open(struct console *c, const char *name, const char *path)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	if (!path || !strcmp(path, "-")) {
		c->out = stderr;
		snprintf(c->prefix, sizeof(c->prefix), "[%s] ", name);
		return 0;
	}
	c->out = fopen(path, "a");
	if (!c->out)
		return -errno;
	c->owns_out = 1;
	return 0;
}

/* Called with c->lock held. */
static void console_flush_line(struct console *c)
{
	fprintf(c->out, "%s%.*s\n", c->prefix, (int)c->len, c->line);
	fflush(c->out);
	c->len = 0;
}

static void console_putc_locked(struct console *c, char ch)
{
	if (ch == '\r')
		return;
	if (ch == '\n') {
		console_flush_line(c);
		return;
	}
	/* Non-printable bytes from a guest are shown escaped, never raw. */
	if ((unsigned char)ch < 0x20 && ch != '\t')
		ch = '?';
	c->line[c->len++] = ch;
	if (c->len == CONSOLE_LINE_MAX)
		console_flush_line(c);
}

void console_putc(struct console *c, char ch)
{
	pthread_mutex_lock(&c->lock);
	console_putc_locked(c, ch);
	pthread_mutex_unlock(&c->lock);
}

void console_write(struct console *c, const char *s, size_t n)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < n; i++)
		console_putc_locked(c, s[i]);
	pthread_mutex_unlock(&c->lock);
}

void console_close(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->len)
		console_flush_line(c);
	pthread_mutex_unlock(&c->lock);
	if (c->owns_out)
		fclose(c->out);
	c->out = NULL;
	pthread_mutex_destroy(&c->lock);
}
