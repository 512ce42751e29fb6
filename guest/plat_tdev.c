/*
 * plat.h on gmm's test device (guest/abi.h): the payload goes into this
 * vCPU's mailbox page, then `out %eax, (%dx)` to GMM_TDEV_PORT with the
 * command. One port exit per message (about 8-10 us here), so results and
 * prints are for the end of a run and for rare progress lines only.
 */
#include "guest/fmt.h"
#include "guest/plat_backend.h"

#define MAILBOX_BYTES 4096

static uint64_t mailbox_base;   /* gva of vCPU 0's mailbox */

static char *mailbox(int cpu)
{
	return (char *)(mailbox_base + (uint64_t)cpu * MAILBOX_BYTES);
}

static void tdev_init(uint64_t base, const struct gmm_boot_info *bi)
{
	mailbox_base = base + (bi->magic == GMM_BOOT_MAGIC ? bi->mailbox_gpa : GMM_GPA_MAILBOX);
}

/* outl's "memory" clobber keeps the mailbox stores before the exit that
 * reads them; x86 needs no fence for its own stores. */
static void tdev_cmd(uint32_t cmd)
{
	outl(GMM_TDEV_PORT, cmd);
}

static void tdev_print(int cpu, const char *line)
{
	struct sbuf sb;

	sb_init(&sb, mailbox(cpu), MAILBOX_BYTES);
	sb_puts(&sb, line);
	tdev_cmd(GMM_TDEV_PRINT);
}

static void tdev_result(int cpu, const char *key, const char *value)
{
	struct sbuf sb;

	sb_init(&sb, mailbox(cpu), MAILBOX_BYTES);
	sb_puts(&sb, key);
	sb_putc(&sb, '=');
	sb_puts(&sb, value);
	tdev_cmd(GMM_TDEV_RESULT);
}

__attribute__((noreturn)) static void tdev_exit(int cpu, uint32_t code)
{
	*(volatile uint32_t *)mailbox(cpu) = code;
	tdev_cmd(GMM_TDEV_EXIT);
	plat_park();  /* gmm stops the guest; nothing runs after the exit */
}

__attribute__((noreturn)) static void tdev_vcpu_done(int cpu)
{
	(void)cpu;
	tdev_cmd(GMM_TDEV_VCPU_DONE);
	plat_park();
}

const struct plat_ops plat_tdev_ops = {
	.init = tdev_init,
	.print = tdev_print,
	.result = tdev_result,
	.exit = tdev_exit,
	.vcpu_done = tdev_vcpu_done,
};
