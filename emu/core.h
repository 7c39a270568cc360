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
/* What a trap's detail (trap_why, trap_value) says, beside its cause. */
enum {
    WHY_NONE = 0,
    WHY_ACCESS,         /* a load or store: value = effective address (trap_size, trap_store) */
    WHY_DMA_DST,        /* a DMA transfer's destination: value = its address */
    WHY_DMA_SRC,        /* a DMA transfer's source: value = its address */
    WHY_DMA_SIZE,       /* `dma` of too many words: value = the count */
    WHY_EDGE,           /* send/recv off the array: value = the direction */
    WHY_CODE_END,       /* the PC ran past the last word of the image: value = the PC */
    WHY_CODE_OUTSIDE,   /* the PC is outside the image (a jump): value = the PC */
    WHY_JUMP,           /* a jump to a misaligned address: value = the target */
    WHY_WORD,           /* the word decodes to no instruction: value = the word */
    WHY_SREG,           /* no such special register (or not writable): value = its number */
    WHY_LIMIT           /* the cycle limit: value = the limit */
};
/* What a blocked PE waits for (pe_t.wait; the direction in wait_dir). */
enum { WAIT_NONE = 0, WAIT_SEND = 1, WAIT_RECV = 2, WAIT_SYNC = 3 };
/* Why pe_run returned. */
enum {
    RUN_HALTED = 0, RUN_TRAP = 1, RUN_PAUSED = 2, RUN_BREAK = 3, RUN_TRACE_FULL = 4,
    RUN_WATCH = 5, RUN_SLICE = 6
};

/* A predecoded instruction: op indexes the generated instruction table. */
typedef struct {
    uint16_t op;
    uint8_t rd, rs, rt;
    uint8_t run;          /* macl-family instructions from here on (repeat_block), at most 255 */
    int32_t imm;
} dec_t;

/* Tracing: one record per retired instruction, its events in a second buffer. */
enum { TRACE_EV_MAX = 8 };  /* events one instruction may add */
enum {
    EV_WRITE = 0,   /* arg = register, b = value */
    EV_LOAD,        /* arg = size, region, a = address, b = the bytes read (zero-extended) */
    EV_STORE,       /* arg = size, region, a = address, b = the bytes written */
    EV_SEND,        /* arg = direction, b = value */
    EV_RECV,        /* arg = direction, b = value */
    EV_DMA,         /* a DMA transfer issued: a = destination, b = source,
                       region = destination region | source region << 8 */
    EV_DMA_SIZE,    /* a = rows, b = bytes per row */
    EV_DMA_TIME,    /* a, b = first and last+1 cycle of the transfer, less the issue cycle */
    EV_STALL        /* arg = cause (STALL_*), a = cycles (low 32 bits), b = high 32 bits */
};
typedef struct {
    uint8_t kind, arg;
    uint16_t region;
    uint32_t a, b;
} trace_ev_t;
typedef struct {
    uint64_t cycle;       /* the cycle it issued in */
    uint32_t pc, word;
    uint32_t busy;        /* cycles from issue until the PE may issue again (halt: is done) */
    uint32_t ev;          /* its events: trace_ev[ev .. ev + nev) */
    uint16_t pe, nev;
} trace_t;

typedef struct {
    uint32_t r[REG_COUNT];
    uint32_t pc;
    uint32_t row, col, id;
    uint32_t halted, at_sync;
    uint32_t wait, wait_dir;   /* WAIT_*: what it was blocked on when it last was */
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
    uint8_t *breakpoints;       /* imem_words flags (a breakpoint in break_*), or NULL */
    uint32_t nbreak;
    uint32_t *break_pc;         /* nbreak instruction addresses ... */
    int32_t *break_pe;          /* ... and the PE each one stops (-1: any) */
    uint32_t skip_break;        /* resume past a breakpoint once */
    uint32_t break_hit_pe, break_hit_pc;   /* the PE and PC that stopped the run */
    /* watchpoints: a store to a watched word (by the PE named, -1: any) ends the cycle's run */
    uint32_t nwatch;
    uint32_t *watch_addr;       /* word addresses */
    int32_t *watch_pe;
    uint32_t watch_hit, watch_index, watch_hit_pe, watch_hit_pc;
    uint32_t watch_hit_addr, watch_old, watch_new;
    uint32_t ahead, deferred;   /* a PE is running ahead of the array's cycle */
    uint32_t lockstep;          /* never run ahead: every PE stops exactly at a trap */
    uint64_t *bank_stamp;       /* sm_banks: cycle of last use */
    uint32_t *bank_count;       /* sm_banks: accesses in that cycle */
    uint64_t cycle;
    /* the trap that ended the run, and its detail (WHY_*) */
    uint32_t trap_cause, trap_pe, trap_pc;
    uint32_t trap_why, trap_size, trap_store;
    uint64_t trap_value;
    /* tracing: records are appended while trace_cap > trace_n */
    trace_t *trace;
    uint32_t trace_cap, trace_n;
    trace_ev_t *trace_ev;
    uint32_t trace_ev_cap, trace_ev_n;
    uint64_t *trace_mark;       /* npes * STALL_CAUSES: stall counters at the last record */
    /* pe_run returns RUN_SLICE after about this many ns of wall time (0: never) */
    uint64_t slice_ns;
} machine_t;
/* cdef-end */

#endif
