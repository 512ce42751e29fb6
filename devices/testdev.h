/*
 * The test device: how the test guest talks to gmm (guest/abi.h). One 32-bit
 * port; a write is a command whose payload sits in the issuing vCPU's
 * mailbox page. The device only parses; what a result or an exit means is the
 * VM's business, reached through testdev_ops.
 */
#ifndef GMM_DEVICES_TESTDEV_H
#define GMM_DEVICES_TESTDEV_H

#include <stdatomic.h>
#include <stdint.h>

#include "devices/bus.h"

struct console;
struct vcpu;

struct testdev_ops {
	/* Host pointer to vCPU's 4 KiB mailbox, or NULL if it is not RAM. */
	const void *(*mailbox)(void *ctx, struct vcpu *vcpu);
	void (*result)(void *ctx, const char *key, const char *value);
	void (*exit)(void *ctx, struct vcpu *vcpu, uint32_t code);
	void (*vcpu_done)(void *ctx, struct vcpu *vcpu);
};

struct testdev {
	const struct testdev_ops *ops;
	void *ctx;
	struct console *out;
	atomic_ulong nr_bad;   /* malformed commands, counted and ignored */
};

int testdev_init(struct testdev *td, struct bus *pio, const struct testdev_ops *ops, void *ctx,
		 struct console *out);

#endif
