/* codegen/attention.h — the plan of a fused Attention node, shared by
 * lower_attention.c (the general path: row blocks on the GEMM kernels) and
 * lower_attention_small.c (short sequences: the block's scores in
 * registers).  Internal to codegen. */
#ifndef ONNXCC_ATTENTION_H
#define ONNXCC_ATTENTION_H

#include "cg.h"

/* The task's pointers: ctx entries and AttnPlan.bs/off rows. */
enum { AP_Q, AP_K, AP_V, AP_BIAS, AP_O, AP_K2, AP_V2, AP_N };

typedef struct AttnPlan {
	int64_t nq, nk, d, dv;
	int br;                          /* batch rank */
	int64_t bdims[IR_MAX_RANK];
	int64_t bs[AP_N][IR_MAX_RANK];   /* batch strides of the AP_* operands */
	int64_t q_rs, q_cs;              /* Q strides along Nq and d */
	int nks, nvs;                    /* segments of K and of V (1 or 2) */
	int64_t kn[2], vn[2];            /* keys per K segment, rows per V segment */
	int64_t kb_rs[2], kb_cs[2];      /* K^T (the B of Q.K^T) along d and Nk */
	int64_t v_rs[2], v_cs[2];        /* V along Nk and dv */
	int64_t o_rs;                    /* O along Nq (along dv: 1) */
	int64_t off[AP_N];               /* element offsets of the operands (sel_*) */
	int64_t bias_rs, bias_cs;        /* bias strides along Nq and Nk */
	bool has_bias, k_t;
	int64_t ktp;                     /* > 0: K^T staged per batch entry, row stride ktp */
	float scale;
	int small_nv;                    /* > 0: lower_attention_small.c, W-lane vectors per score row */
	int64_t nbatch, rows, nblk;      /* R = rows per block, nblk blocks */
	int64_t sld;                     /* general path: score row stride (floats; >= nk) */
} AttnPlan;

/* The small-sequence path (lower_attention_small.c).  cg_attn_small_rows
 * returns the most query rows per block the path keeps in registers for A
 * (0: A does not qualify: one K and V segment, keys within 4 vectors, dv
 * within 4 vectors, K^T staged or contiguous along the keys, V contiguous
 * along dv).  cg_attn_small_block emits one block of `rows` (<= that
 * many) query rows from i0: emit_block's arithmetic, in the same order
 * (the same bits; see lower_attention_small.c); sbuf holds rows x
 * small_nv*W floats;
 * pn[] are the next batch entry's pointers (any entry's when there is
 * none: they are only prefetched), whose rows i0.. it asks into L2. */
int cg_attn_small_rows(const Cg *cg, const AttnPlan *A);
void cg_attn_small_block(Cg *cg, const AttnPlan *A, LLVMValueRef *p, LLVMValueRef *pn, LLVMValueRef i0,
                         int64_t rows, LLVMValueRef sbuf, LLVMValueRef kt);
/* True when A takes the small path and its last score vector would hold
 * one key (49 = 3 x 16 + 1): cg_attn_small_block then reads that key from
 * K in place, and the staged K^T (stage_kt) need not hold it. */
bool cg_attn_small_k1(const Cg *cg, const AttnPlan *A);
/* Tests: true makes every Attention take the general path. */
extern bool cg_attn_small_off;
/* Tests: true makes the general path compute the last keys' scores in
 * Q.K^T's edge tile (no score_tail) and take each row's max in a pass of
 * its own (no softmax_rows pipelining): the forms those replaced, for
 * bitwise comparison. */
extern bool cg_attn_tail_off;
/* Tests: true makes the general path compute Q.K^T on the GEMM
 * micro-kernels and take the row maxes in the exp loop (exp_sum_next),
 * not in its own score tiles (qk_tiles), for bitwise comparison. */
extern bool cg_attn_qk_off;
/* Tests: true makes the general path's score rows nk floats apart (not
 * rounded up to W: AttnPlan.sld), for bitwise comparison. */
extern bool cg_attn_pad_off;

#endif
