/* The native accelerator's decoder: each trapping form becomes the exit KVM
 * would give, and a read lands in its register as the CPU would put it. */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm/native_decode.h"

static csh cs;
static greg_t g[NGREG];

static void setup(void)
{
	cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	memset(g, 0, sizeof(g));
}

static void teardown(void)
{
	cs_close(&cs);
}

static struct native_insn decode(const uint8_t *code, size_t n)
{
	struct native_insn in;

	cr_assert_eq(native_decode(cs, code, n, 0x1000, g, &in), 0);
	return in;
}

TestSuite(native_decode, .init = setup, .fini = teardown);

Test(native_decode, out_dx_eax_is_a_4_byte_port_write)
{
	static const uint8_t code[] = { 0xef }; /* out dx, eax */
	struct native_insn in;

	g[REG_RDX] = 0x510;
	g[REG_RAX] = 0x1122334455667788LL;
	in = decode(code, sizeof(code));
	cr_assert_eq(in.kind, NATIVE_INSN_IO);
	cr_assert(in.is_write);
	cr_assert_eq(in.port, 0x510);
	cr_assert_eq(in.size, 4);
	cr_assert_eq(in.value, 0x55667788);
	cr_assert_eq(in.len, 1);
}

Test(native_decode, in_al_imm8_reads_one_byte_into_al_only)
{
	static const uint8_t code[] = { 0xe4, 0x60 }; /* in al, 0x60 */
	struct native_insn in;

	g[REG_RAX] = 0x1234;
	in = decode(code, sizeof(code));
	cr_assert_eq(in.kind, NATIVE_INSN_IO);
	cr_assert(!in.is_write);
	cr_assert_eq(in.port, 0x60);
	cr_assert_eq(in.size, 1);
	native_apply_read(g, &in, 0xab);
	cr_assert_eq(g[REG_RAX], 0x12ab);
}

Test(native_decode, mov_store_immediate_is_an_mmio_write)
{
	static const uint8_t code[] = { 0xc7, 0x02, 0x05, 0x00, 0x00, 0x00 }; /* mov dword [rdx], 5 */
	struct native_insn in = decode(code, sizeof(code));

	cr_assert_eq(in.kind, NATIVE_INSN_MMIO);
	cr_assert(in.is_write);
	cr_assert_eq(in.size, 4);
	cr_assert_eq(in.value, 5);
	cr_assert_eq(in.len, 6);
}

Test(native_decode, mov_store_register_takes_the_register_width)
{
	static const uint8_t code[] = { 0x66, 0x89, 0x08 }; /* mov word [rax], cx */
	struct native_insn in;

	g[REG_RCX] = 0xdeadbeef;
	in = decode(code, sizeof(code));
	cr_assert_eq(in.kind, NATIVE_INSN_MMIO);
	cr_assert_eq(in.size, 2);
	cr_assert_eq(in.value, 0xbeef);
}

Test(native_decode, mov_load_32_bit_zero_extends_the_register)
{
	static const uint8_t code[] = { 0x8b, 0x08 }; /* mov ecx, [rax] */
	struct native_insn in;

	g[REG_RCX] = -1;
	in = decode(code, sizeof(code));
	cr_assert_eq(in.kind, NATIVE_INSN_MMIO);
	cr_assert(!in.is_write);
	cr_assert_eq(in.size, 4);
	native_apply_read(g, &in, 0x12345678);
	cr_assert_eq((uint64_t)g[REG_RCX], 0x12345678ULL);
}

Test(native_decode, mov_load_to_high_byte_register_keeps_the_rest)
{
	static const uint8_t code[] = { 0x8a, 0x23 }; /* mov ah, [rbx] */
	struct native_insn in;

	g[REG_RAX] = 0x11223344;
	in = decode(code, sizeof(code));
	cr_assert_eq(in.kind, NATIVE_INSN_MMIO);
	native_apply_read(g, &in, 0x99);
	cr_assert_eq(g[REG_RAX], 0x11229944);
}

Test(native_decode, movzx_byte_load_zero_extends)
{
	static const uint8_t code[] = { 0x0f, 0xb6, 0x03 }; /* movzx eax, byte [rbx] */
	struct native_insn in;

	g[REG_RAX] = -1;
	in = decode(code, sizeof(code));
	cr_assert_eq(in.kind, NATIVE_INSN_MMIO);
	cr_assert_eq(in.size, 1);
	native_apply_read(g, &in, 0x7f);
	cr_assert_eq(g[REG_RAX], 0x7f);
}

Test(native_decode, sixty_four_bit_load_replaces_the_register)
{
	static const uint8_t code[] = { 0x48, 0x8b, 0x00 }; /* mov rax, [rax] */
	struct native_insn in;

	in = decode(code, sizeof(code));
	cr_assert_eq(in.size, 8);
	native_apply_read(g, &in, 0x0102030405060708ULL);
	cr_assert_eq((uint64_t)g[REG_RAX], 0x0102030405060708ULL);
}

Test(native_decode, hlt_and_unsupported_forms_are_classified)
{
	static const uint8_t hlt[] = { 0xf4 };
	static const uint8_t add_mem[] = { 0x01, 0x08 };   /* add [rax], ecx: not emulated */
	static const uint8_t rep_outsb[] = { 0xf3, 0x6e };  /* string I/O: not emulated */
	static const uint8_t junk[] = { 0x0f, 0xff };

	cr_assert_eq(decode(hlt, 1).kind, NATIVE_INSN_HLT);
	cr_assert_eq(decode(add_mem, 2).kind, NATIVE_INSN_OTHER);
	cr_assert_eq(decode(rep_outsb, 2).kind, NATIVE_INSN_OTHER);
	{
		struct native_insn in;
		int r = native_decode(cs, junk, 2, 0x1000, g, &in);

		cr_assert(r != 0 || in.kind == NATIVE_INSN_OTHER);
	}
}
