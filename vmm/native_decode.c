/* See native_decode.h. */
#include "vmm/native_decode.h"

#include <stdio.h>
#include <string.h>

/* Capstone register -> (gregs index, width, high byte). */
struct reg_slot {
	int greg;
	unsigned size;
	bool high8;
};

static bool reg_lookup(x86_reg r, struct reg_slot *s)
{
	static const struct { x86_reg r64, r32, r16, r8; int greg; x86_reg hi8; } map[] = {
		{ X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL, REG_RAX, X86_REG_AH },
		{ X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL, REG_RBX, X86_REG_BH },
		{ X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, REG_RCX, X86_REG_CH },
		{ X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, REG_RDX, X86_REG_DH },
		{ X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL, REG_RSI, X86_REG_INVALID },
		{ X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL, REG_RDI, X86_REG_INVALID },
		{ X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL, REG_RBP, X86_REG_INVALID },
		{ X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL, REG_RSP, X86_REG_INVALID },
		{ X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B, REG_R8, X86_REG_INVALID },
		{ X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B, REG_R9, X86_REG_INVALID },
		{ X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B, REG_R10, X86_REG_INVALID },
		{ X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B, REG_R11, X86_REG_INVALID },
		{ X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B, REG_R12, X86_REG_INVALID },
		{ X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B, REG_R13, X86_REG_INVALID },
		{ X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B, REG_R14, X86_REG_INVALID },
		{ X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B, REG_R15, X86_REG_INVALID },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		s->greg = map[i].greg;
		s->high8 = false;
		if (r == map[i].r64) { s->size = 8; return true; }
		if (r == map[i].r32) { s->size = 4; return true; }
		if (r == map[i].r16) { s->size = 2; return true; }
		if (r == map[i].r8)  { s->size = 1; return true; }
		if (r == map[i].hi8) { s->size = 1; s->high8 = true; return true; }
	}
	return false;
}

static uint64_t reg_value(const greg_t *g, const struct reg_slot *s)
{
	uint64_t v = (uint64_t)g[s->greg];

	if (s->high8)
		return (v >> 8) & 0xff;
	return s->size == 8 ? v : v & ((1ULL << (8 * s->size)) - 1);
}

/* in/out: the port is dx or an imm8; the data register is al/ax/eax. */
static int decode_io(const cs_x86 *x, bool out, const greg_t *g, struct native_insn *in)
{
	const cs_x86_op *port_op = out ? &x->operands[0] : &x->operands[1];
	const cs_x86_op *data_op = out ? &x->operands[1] : &x->operands[0];
	struct reg_slot s;

	if (x->op_count != 2 || data_op->type != X86_OP_REG || !reg_lookup(data_op->reg, &s) || s.greg != REG_RAX)
		return -1;
	if (port_op->type == X86_OP_IMM)
		in->port = (uint16_t)port_op->imm;
	else if (port_op->type == X86_OP_REG && port_op->reg == X86_REG_DX)
		in->port = (uint16_t)g[REG_RDX];
	else
		return -1;
	in->kind = NATIVE_INSN_IO;
	in->is_write = out;
	in->size = s.size;
	in->dst_greg = out ? -1 : REG_RAX;
	in->dst_size = s.size;
	if (out)
		in->value = reg_value(g, &s);
	return 0;
}

/* mov/movzx between a register or immediate and memory. */
static int decode_mmio(const cs_x86 *x, unsigned id, const greg_t *g, struct native_insn *in)
{
	const cs_x86_op *a = &x->operands[0], *b = &x->operands[1];
	struct reg_slot s;

	if (x->op_count != 2)
		return -1;
	if (a->type == X86_OP_MEM && id == X86_INS_MOV) { /* store */
		in->is_write = true;
		in->size = a->size;
		if (b->type == X86_OP_IMM)
			in->value = (uint64_t)b->imm & (a->size == 8 ? ~0ULL : (1ULL << (8 * a->size)) - 1);
		else if (b->type == X86_OP_REG && reg_lookup(b->reg, &s))
			in->value = reg_value(g, &s);
		else
			return -1;
		in->dst_greg = -1;
	} else if (b->type == X86_OP_MEM && a->type == X86_OP_REG && reg_lookup(a->reg, &s)) { /* load */
		in->is_write = false;
		in->size = b->size;
		in->dst_greg = s.greg;
		in->dst_size = s.size;
		in->dst_high8 = s.high8;
		in->zero_extend = id == X86_INS_MOVZX;
	} else {
		return -1;
	}
	if (in->size != 1 && in->size != 2 && in->size != 4 && in->size != 8)
		return -1;
	in->kind = NATIVE_INSN_MMIO;
	return 0;
}

int native_decode(csh cs, const uint8_t *code, size_t n, uint64_t rip, const greg_t *gregs,
		  struct native_insn *out)
{
	cs_insn *insn;
	size_t count = cs_disasm(cs, code, n, rip, 1, &insn);
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->kind = NATIVE_INSN_OTHER;
	out->dst_greg = -1;
	if (!count)
		return -1;
	out->len = insn->size;
	snprintf(out->mnemonic, sizeof(out->mnemonic), "%s", insn->mnemonic);
	switch (insn->id) {
	case X86_INS_IN:
	case X86_INS_OUT:
		if (decode_io(&insn->detail->x86, insn->id == X86_INS_OUT, gregs, out))
			out->kind = NATIVE_INSN_OTHER;
		break;
	case X86_INS_HLT:
		out->kind = NATIVE_INSN_HLT;
		break;
	case X86_INS_MOV:
	case X86_INS_MOVABS:
	case X86_INS_MOVZX:
		if (decode_mmio(&insn->detail->x86, insn->id == X86_INS_MOVABS ? X86_INS_MOV : insn->id,
				gregs, out))
			out->kind = NATIVE_INSN_OTHER;
		break;
	default:
		break;
	}
	cs_free(insn, count);
	return ret;
}

void native_apply_read(greg_t *g, const struct native_insn *in, uint64_t data)
{
	uint64_t old, v;

	if (in->dst_greg < 0)
		return;
	old = (uint64_t)g[in->dst_greg];
	v = in->size == 8 ? data : data & ((1ULL << (8 * in->size)) - 1);
	if (in->dst_high8)
		v = (old & ~0xff00ULL) | ((v & 0xff) << 8);
	else if (in->dst_size >= 4)
		v = in->dst_size == 4 ? v & 0xffffffffULL : v; /* 32-bit writes zero-extend */
	else
		v = (old & ~((1ULL << (8 * in->dst_size)) - 1)) | (v & ((1ULL << (8 * in->dst_size)) - 1));
	g[in->dst_greg] = (greg_t)v;
}
