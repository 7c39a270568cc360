/* The machine state of the array emulator and the helpers instruction
 * semantics are written in (isa/isa.toml `lane` and `body` strings).
 *
 * Lane arithmetic is done on unsigned 32-bit words and int64_t lane values
 * that cannot overflow (a 32x32 product fits in 63 bits); results are
 * truncated to the lane width explicitly, saturation is explicit and sets the
 * sticky `sat` flag.  Nothing relies on -fwrapv. */
#ifndef PEARRAY_CORE_H
#define PEARRAY_CORE_H

#include <stdint.h>

/* cdef-begin: emu/build_core.py hands this part to cffi */
enum { REG_COUNT = 16, LOOP_LEVELS = 2, DIRS = 4, REGIONS = 3, DMA_QUEUE_MAX = 8 };
enum { DIR_N = 0, DIR_E = 1, DIR_S = 2, DIR_W = 3 };
enum { REGION_LM = 0, REGION_SM = 1, REGION_GM = 2 };

/* Stall causes (counted per PE), then trap causes (cause of the run's end). */
enum {
    STALL_MEMORY = 0, STALL_BANK, STALL_SEND, STALL_RECV, STALL_SYNC, STALL_DMA, STALL_CAUSES
};
enum {
    TRAP_NONE = 0, TRAP_ILLEGAL, TRAP_MISALIGNED, TRAP_OUT_OF_RANGE, TRAP_EDGE,
    TRAP_LOOP_DEPTH, TRAP_CYCLE_LIMIT, TRAP_DEADLOCK
};
/* Why pe_run returned. */
enum {
    RUN_HALTED = 0, RUN_TRAP = 1, RUN_PAUSED = 2, RUN_BREAK = 3, RUN_TRACE_FULL = 4
};

/* A predecoded instruction: op indexes the generated instruction table. */
typedef struct {
    uint16_t op;
    uint8_t rd, rs, rt;
    int32_t imm;
} dec_t;

typedef struct {
    uint64_t cycle;
    uint32_t pe, pc, word;
    uint32_t nw;          /* registers written: 0..3 */
    uint32_t reg[3];
    uint32_t val[3];
} trace_t;

typedef struct {
    uint32_t r[REG_COUNT];
    uint32_t pc;
    uint32_t row, col, id;
    uint32_t halted, at_sync;
    uint32_t sat, lfsr;
    uint64_t busy_until;       /* first cycle it may issue again */
    uint32_t loop_depth;
    uint32_t loop_start[LOOP_LEVELS], loop_end[LOOP_LEVELS], loop_count[LOOP_LEVELS];
    uint32_t in_val[DIRS], in_full[DIRS];
    uint64_t in_time[DIRS];    /* cycle the input register was filled / emptied */
    uint32_t ncode;
    dec_t *dec;                /* ncode predecoded words */
    uint32_t *code;            /* the raw words (for traces) */
    uint8_t *lm;
    uint64_t dma_end[DMA_QUEUE_MAX]; /* end cycles of the DMA engine's queued transfers */
    uint64_t dma_free;         /* the cycle the engine has finished all of them */
    int32_t dma_ss, dma_ds;    /* row strides of dma2d: special registers dss, dds */
    /* counters */
    uint64_t retired, macs, stall[STALL_CAUSES];
    uint64_t loads[REGIONS], stores[REGIONS], load_bytes[REGIONS], store_bytes[REGIONS];
    uint64_t bank_conflicts, halt_cycle;
} pe_t;

typedef struct {
    uint32_t rows, cols, npes;
    uint32_t imem_words;
    uint32_t lm_size, sm_size, gm_size;
    uint32_t lm_base, sm_base, gm_base;
    uint32_t sm_banks;
    uint32_t cost[REGIONS];
    uint32_t lfsr_taps;
    uint32_t dma_queue;         /* transfers a DMA engine holds (1..DMA_QUEUE_MAX) */
    uint32_t gm_port_words;     /* words per cycle of the GM port the engines share */
    uint64_t gm_port_free;      /* when the port is next free, in 1/gm_port_words cycles */
    pe_t *pes;
    uint8_t *sm, *gm;
    uint8_t *breakpoints;       /* imem_words flags, or NULL */
    uint32_t skip_break;        /* resume past a breakpoint once */
    uint32_t ahead, deferred;   /* a PE is running ahead of the array's cycle */
    uint32_t lockstep;          /* never run ahead: every PE stops exactly at a trap */
    uint64_t *bank_stamp;       /* sm_banks: cycle of last use */
    uint32_t *bank_count;       /* sm_banks: accesses in that cycle */
    uint64_t cycle;
    /* the trap that ended the run */
    uint32_t trap_cause, trap_pe, trap_pc;
    /* tracing: records are appended while trace_cap > trace_n */
    trace_t *trace;
    uint32_t trace_cap, trace_n;
} machine_t;
/* cdef-end */

#endif
