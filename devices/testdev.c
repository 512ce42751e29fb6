/* Test device; see testdev.h and guest/abi.h for the protocol. */
#include "devices/testdev.h"

#include <string.h>

#include "guest/abi.h"
#include "vmm/console.h"

#define MAILBOX_BYTES 4096

/* Copy the mailbox out before parsing: the guest may change it under us
 * (another vCPU of a misbehaving guest), and the text must end in NUL. */
static int mailbox_text(struct testdev *td, struct vcpu *vcpu, char *buf)
{
	const void *mb = td->ops->mailbox(td->ctx, vcpu);

	if (!mb)
		return -1;
	memcpy(buf, mb, MAILBOX_BYTES);
	buf[MAILBOX_BYTES - 1] = '\0';
	return 0;
}

static void testdev_result(struct testdev *td, char *text)
{
	char *eq = strchr(text, '=');
	char *p;

	if (!eq || eq == text) {
		atomic_fetch_add(&td->nr_bad, 1);
		return;
	}
	*eq = '\0';
	for (p = text; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
			atomic_fetch_add(&td->nr_bad, 1);
			return;
		}
	}
	td->ops->result(td->ctx, text, eq + 1);
}

static void testdev_write(void *opaque, struct vcpu *vcpu, uint64_t off, const void *data, unsigned size)
{
	struct testdev *td = opaque;
	char buf[MAILBOX_BYTES];
	uint32_t cmd = 0, code;

	if (off != 0 || size != 4) {
		atomic_fetch_add(&td->nr_bad, 1);
		return;
	}
	memcpy(&cmd, data, 4);
	if (cmd != GMM_TDEV_VCPU_DONE && mailbox_text(td, vcpu, buf)) {
		atomic_fetch_add(&td->nr_bad, 1);
		return;
	}
	switch (cmd) {
	case GMM_TDEV_PRINT:
		console_write(td->out, buf, strlen(buf));
		if (buf[0] && buf[strlen(buf) - 1] != '\n')
			console_putc(td->out, '\n');
		break;
	case GMM_TDEV_RESULT:
		testdev_result(td, buf);
		break;
	case GMM_TDEV_EXIT:
		memcpy(&code, buf, sizeof(code));
		td->ops->exit(td->ctx, vcpu, code);
		break;
	case GMM_TDEV_VCPU_DONE:
		td->ops->vcpu_done(td->ctx, vcpu);
		break;
	default:
		atomic_fetch_add(&td->nr_bad, 1);
		break;
	}
}

static void testdev_read(void *opaque, struct vcpu *vcpu, uint64_t off, void *data, unsigned size)
{
	uint32_t id = GMM_TDEV_ID;

	(void)opaque;
	(void)vcpu;
	if (off == 0 && size == 4)
		memcpy(data, &id, 4);
}

static const struct bus_ops testdev_ops_bus = { .read = testdev_read, .write = testdev_write };

int testdev_init(struct testdev *td, struct bus *pio, const struct testdev_ops *ops, void *ctx,
		 struct console *out)
{
	td->ops = ops;
	td->ctx = ctx;
	td->out = out;
	atomic_init(&td->nr_bad, 0);
	return bus_register(pio, GMM_TDEV_PORT, 4, &testdev_ops_bus, td);
}
