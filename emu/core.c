/* The array's cycle loop, memory system, neighbours and traps.
 *
 * The decoder (decode_word), the instruction table (INSN_*) and the
 * execute cases (EXEC_CASES) are generated from isa/isa.toml by
 * emu/codegen.py and pasted in front of this file by emu/build_core.py. */
#include <string.h>
#include <assert.h>
#include <time.h>

/* ------------------------------------------------------------ lane helpers */

/* Every helper takes the lane width w (any width dividing 32) as a parameter; the
 * generated functions pass their instruction's W, a constant the compiler folds. */
static inline uint32_t lane_mask(int w) {
    return (uint32_t)(((uint64_t)1 << w) - 1);
}
static inline int64_t ulane(uint32_t x, int lane, int w) {
    return (int64_t)((x >> (lane * w)) & lane_mask(w));
}
static inline int64_t slane(uint32_t x, int lane, int w) {
    int64_t half = (int64_t)1 << (w - 1);
    return (ulane(x, lane, w) ^ half) - half;   /* sign-extend w bits, branch-free */
}
static inline uint32_t lane_bits(int64_t v, int lane, int w) {
    return ((uint32_t)(uint64_t)v & lane_mask(w)) << (lane * w);
}
static inline int64_t asr64(int64_t a, int64_t s) {
    return a >= 0 ? a >> s : -((-a - 1) >> s) - 1;   /* floor(a / 2^s), no UB */
}
static inline int64_t rshr64(int64_t a, int64_t s) {
    return s == 0 ? a : asr64(a + ((int64_t)1 << (s - 1)), s);
}
static inline int64_t sat_s(int64_t x, int w, uint32_t *flag) {
    int64_t hi = ((int64_t)1 << (w - 1)) - 1, lo = -((int64_t)1 << (w - 1));
    if (x > hi) { *flag = 1; return hi; }
    if (x < lo) { *flag = 1; return lo; }
    return x;
}
static inline int64_t sat_u(int64_t x, int w, uint32_t *flag) {
    int64_t hi = ((int64_t)1 << w) - 1;
    if (x > hi) { *flag = 1; return hi; }
    if (x < 0) { *flag = 1; return 0; }
    return x;
}
static inline uint32_t lfsr_step(pe_t *pe, uint32_t taps) {
    uint32_t x = pe->lfsr;
    x = (x & 1u) ? (x >> 1) ^ taps : (x >> 1);
    pe->lfsr = x;
    return x;
}
static inline int64_t srnd64(pe_t *pe, uint32_t taps, int64_t a, int64_t s) {
    uint32_t r = lfsr_step(pe, taps);
    int64_t u = s == 0 ? 0 : (int64_t)(r & ((1u << s) - 1));
    return asr64(a + u, s);
}
static inline int64_t s32(uint32_t x) {
    return (x & 0x80000000u) ? (int64_t)x - ((int64_t)1 << 32) : (int64_t)x;
}
/* Sum of lane products at width w, lanes of a read signed (sa=1) or not. */
static inline int64_t dot64(uint32_t a, uint32_t b, int w, int sa) {
    int64_t sum = 0;
    for (int l = 0; l < 32 / w; l++)
        sum += (sa ? slane(a, l, w) : ulane(a, l, w)) * slane(b, l, w);
    return sum;
}
/* Narrow two words of lanes 2w wide into one word of w-bit lanes, each source lane
 * first shifted right by s with round half up, then saturated (packs: s = 0): the
 * lanes of a fill the low half of the result, those of b the high half. */
static inline uint32_t packsr32(uint32_t a, uint32_t b, int64_t s, int w, uint32_t *flag) {
    int sw = 2 * w, n = 32 / sw;
    uint32_t out = 0;
    for (int l = 0; l < n; l++) {
        out |= lane_bits(sat_s(rshr64(slane(a, l, sw), s), w, flag), l, w);
        out |= lane_bits(sat_s(rshr64(slane(b, l, sw), s), w, flag), l + n, w);
    }
    return out;
}
/* The low (hi = 0) or high half of the w-bit lanes of a, sign-extended to 2w bits. */
static inline uint32_t unpk32(uint32_t a, int hi, int w) {
    int half = 16 / w;
    uint32_t out = 0;
    for (int l = 0; l < half; l++)
        out |= lane_bits(slane(a, hi * half + l, w), l, 2 * w);
    return out;
}

/* ------------------------------------------------------------ memory */

enum { ST_OK = 0, ST_BLOCKED = 1, ST_TRAP = 2, ST_DEFER = 3 };

/* While a PE runs ahead of the array's cycle (m->ahead), anything another PE
 * could observe or affect (SM/GM, neighbours, sync, halt) is deferred: the
 * instruction is retried when the array's cycle reaches the PE's own. */

/* Record a trap.  Running ahead, the instruction is deferred instead, so that it
 * traps in the array's cycle in which it issues (see pe_run). */
static int trap_full(machine_t *m, pe_t *pe, uint32_t cause, uint32_t why, uint64_t value,
                     uint32_t size, uint32_t store) {
    if (m->ahead) { m->deferred = 1; return ST_DEFER; }
    if (!m->trap_cause) {
        m->trap_cause = cause;
        m->trap_pe = pe->id;
        m->trap_pc = pe->pc;
        m->trap_why = why;
        m->trap_value = value;
        m->trap_size = size;
        m->trap_store = store;
    }
    return ST_TRAP;
}
/* A trap with its detail (WHY_*, see core.h). */
static int trap_why(machine_t *m, pe_t *pe, uint32_t cause, uint32_t why, uint64_t value) {
    return trap_full(m, pe, cause, why, value, 0, 0);
}
static int trap(machine_t *m, pe_t *pe, uint32_t cause) {
    return trap_full(m, pe, cause, WHY_NONE, 0, 0, 0);
}
/* A load or store that cannot be made: its address, size and direction. */
static void trap_access(machine_t *m, pe_t *pe, uint32_t cause, uint32_t addr, uint32_t size,
                        int store) {
    trap_full(m, pe, cause, WHY_ACCESS, addr, size, (uint32_t)store);
}

/* ------------------------------------------------------------ tracing, watchpoints */

/* An event of the instruction being traced (t is NULL when not tracing: the fast
 * paths pass a constant 0, so all of this compiles away there). */
static inline void trace_ev(machine_t *m, trace_t *t, uint32_t kind, uint32_t arg, uint32_t a,
                            uint32_t b) {
    if (t && t->nev < TRACE_EV_MAX) {
        trace_ev_t *e = &m->trace_ev[t->ev + t->nev++];
        e->kind = (uint8_t)kind; e->arg = (uint8_t)arg; e->region = 0; e->a = a; e->b = b;
    }
}
static inline void trace_write(machine_t *m, trace_t *t, uint32_t reg, uint32_t v) {
    if (reg) trace_ev(m, t, EV_WRITE, reg, 0, v);
}
static inline void trace_mem(machine_t *m, trace_t *t, uint32_t kind, uint32_t addr,
                             uint32_t size, uint32_t v) {
    trace_ev(m, t, kind, size, addr, size == 4 ? v : v & ((1u << (8 * size)) - 1));
}
/* Start a record for the instruction at pc (committed by trace_retire). */
static inline trace_t *trace_begin(machine_t *m, pe_t *pe, uint64_t now, uint32_t pc) {
    if (m->trace_n >= m->trace_cap) return 0;
    trace_t *t = &m->trace[m->trace_n];
    t->cycle = now; t->pe = (uint16_t)pe->id; t->pc = pc; t->word = pe->code[pc >> 2];
    t->ev = m->trace_ev_n; t->nev = 0; t->busy = 0;
    return t;
}
/* The instruction retired: its stalls since the PE's last record, then commit. */
static void trace_retire(machine_t *m, pe_t *pe, trace_t *t, uint64_t busy) {
    uint64_t *mark = m->trace_mark + (uint64_t)pe->id * STALL_CAUSES;
    for (int c = 0; c < STALL_CAUSES; c++) {
        uint64_t d = pe->stall[c] - mark[c];
        if (d) trace_ev(m, t, EV_STALL, (uint32_t)c, (uint32_t)d, (uint32_t)(d >> 32));
        mark[c] = pe->stall[c];
    }
    t->busy = busy > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)busy;
    m->trace_ev_n += t->nev;
    m->trace_n++;
}

static inline uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
/* The first watchpoint on this word that PE pe's stores hit, or -1. */
static int watch_find(machine_t *m, pe_t *pe, uint32_t word) {
    for (uint32_t i = 0; i < m->nwatch; i++)
        if (m->watch_addr[i] == word && (m->watch_pe[i] < 0 || (uint32_t)m->watch_pe[i] == pe->id))
            return (int)i;
    return -1;
}
/* Record the run's first watchpoint hit: pe_run stops at the end of the cycle. */
static void watch_record(machine_t *m, pe_t *pe, int i, uint32_t word, uint32_t old,
                         uint32_t new_) {
    if (m->watch_hit) return;
    m->watch_hit = 1;
    m->watch_index = (uint32_t)i;
    m->watch_hit_pe = pe->id;
    m->watch_hit_pc = pe->pc;
    m->watch_hit_addr = word;
    m->watch_old = old;
    m->watch_new = new_;
}

/* The region holding all `bytes` bytes at addr (REGION_*), and the offset in it;
 * -1 if no region does (outside every region, or running past one's end). */
static int region_of(machine_t *m, uint32_t addr, uint64_t bytes, uint32_t *off) {
    const uint32_t base[REGIONS] = {m->lm_base, m->sm_base, m->gm_base};
    const uint32_t size[REGIONS] = {m->lm_size, m->sm_size, m->gm_size};
    for (int r = 0; r < REGIONS; r++)
        if (addr - base[r] < size[r] && bytes <= (uint64_t)(size[r] - (addr - base[r]))) {
            *off = addr - base[r];
            return r;
        }
    return -1;
}

static inline uint8_t *region_base(machine_t *m, pe_t *pe, int region) {
    return region == REGION_LM ? pe->lm : region == REGION_SM ? m->sm : m->gm;
}

/* Resolve an access: the host pointer, or a trap. Counts the access and its cost. */
/* An access beyond this PE's LM, in the array's cycle: SM (with its banks) or GM. */
static inline __attribute__((always_inline)) uint8_t *mem_far(
        machine_t *m, pe_t *pe, uint32_t addr, uint32_t size, int store, uint32_t *extra) {
    uint32_t off = addr - m->sm_base;
    if (off < m->sm_size && m->sm_size - off >= size) {
        uint32_t nb = m->sm_banks, x = m->cost[REGION_SM] - 1;
        if (nb) {
            uint32_t w = off >> 2;
            uint32_t bank = (nb & (nb - 1)) ? w % nb : w & (nb - 1);  /* no division for 2^k */
            uint64_t stamp = m->cycle + 1;
            uint32_t k = m->bank_stamp[bank] == stamp ? m->bank_count[bank] : 0;
            m->bank_stamp[bank] = stamp;
            m->bank_count[bank] = k + 1;
            if (k) { x += k; pe->stall[STALL_BANK] += k; pe->bank_conflicts++; }
        }
        if (x) { *extra += x; pe->stall[STALL_MEMORY] += m->cost[REGION_SM] - 1; }
        if (store) { pe->stores[REGION_SM]++; pe->store_bytes[REGION_SM] += size; }
        else { pe->loads[REGION_SM]++; pe->load_bytes[REGION_SM] += size; }
        return m->sm + off;
    }
    off = addr - m->gm_base;
    if (off < m->gm_size && m->gm_size - off >= size) {
        uint32_t x = m->cost[REGION_GM] - 1;
        if (x) { *extra += x; pe->stall[STALL_MEMORY] += x; }
        if (store) { pe->stores[REGION_GM]++; pe->store_bytes[REGION_GM] += size; }
        else { pe->loads[REGION_GM]++; pe->load_bytes[REGION_GM] += size; }
        return m->gm + off;
    }
    trap_access(m, pe, TRAP_OUT_OF_RANGE, addr, size, store);
    return 0;
}

static inline __attribute__((always_inline)) uint8_t *mem_at(
        machine_t *m, pe_t *pe, uint32_t addr, uint32_t size, int store, uint32_t *extra) {
    if (addr & (size - 1)) { trap_access(m, pe, TRAP_MISALIGNED, addr, size, store); return 0; }
    if (__builtin_expect(addr - m->lm_base <= m->lm_size - size && m->lm_size >= size, 1)) {
        /* the common case: this PE's LM */
        uint32_t lm_extra = m->cost[REGION_LM] - 1;
        if (__builtin_expect(lm_extra != 0, 0)) {
            *extra += lm_extra;
            pe->stall[STALL_MEMORY] += lm_extra;
        }
        if (store) { pe->stores[REGION_LM]++; pe->store_bytes[REGION_LM] += size; }
        else { pe->loads[REGION_LM]++; pe->load_bytes[REGION_LM] += size; }
        return pe->lm + (addr - m->lm_base);
    }
    if (m->ahead) { m->deferred = 1; return 0; }  /* beyond this PE's LM: the array's */
    return mem_far(m, pe, addr, size, store, extra);
}

static inline __attribute__((always_inline)) int mem_load(machine_t *m, pe_t *pe, uint32_t addr, uint32_t size, int sgn,
                    uint32_t *extra, uint32_t *out) {
    uint8_t *p = mem_at(m, pe, addr, size, 0, extra);
    if (!p) return m->deferred ? ST_DEFER : ST_TRAP;
    uint32_t v;
    if (size == 4) { v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
    else { v = 0; for (uint32_t i = 0; i < size; i++) v |= (uint32_t)p[i] << (8 * i); }
    if (sgn && size < 4 && (v >> (8 * size - 1)))
        v |= ~(uint32_t)0 << (8 * size);
    *out = v;
    return ST_OK;
}

static inline __attribute__((always_inline)) int mem_store(machine_t *m, pe_t *pe, uint32_t addr, uint32_t size, uint32_t v,
                     uint32_t *extra) {
    uint8_t *p = mem_at(m, pe, addr, size, 1, extra);
    if (!p) return m->deferred ? ST_DEFER : ST_TRAP;
    int w = __builtin_expect(m->nwatch != 0, 0) ? watch_find(m, pe, addr & ~3u) : -1;
    uint32_t old = w >= 0 ? rd32(p - (addr & 3)) : 0;
    for (uint32_t i = 0; i < size; i++) p[i] = (uint8_t)(v >> (8 * i));
    if (w >= 0) watch_record(m, pe, w, addr & ~3u, old, rd32(p - (addr & 3)));
    return ST_OK;
}

/* ------------------------------------------------------------ DMA */

/* The region holding `rows` rows of `bytes` bytes from addr, `stride` bytes apart
 * (any sign), and the offset of the first row in it; -1 if some row lies outside. */
static int rows_region(machine_t *m, uint32_t addr, int32_t stride, uint32_t rows,
                       uint32_t bytes, uint32_t *off) {
    int64_t span = (int64_t)stride * (rows - 1);
    uint32_t lo = span < 0 ? addr + (uint32_t)span : addr;
    uint64_t extent = (uint64_t)(span < 0 ? -span : span) + bytes;
    if (span < 0 && (uint64_t)-span > addr) return -1;  /* would wrap below 0 */
    uint32_t lo_off;
    int r = region_of(m, lo, extent, &lo_off);
    if (r < 0) return -1;
    *off = lo_off + (addr - lo);
    return r;
}

/* A transfer issuing in cycle `now` (decisions `dma` and `dma2d`): `rows` rows of `bytes`
 * bytes, row i from src + i*ss to dst + i*ds.  Check both sides, copy the bytes, and
 * time the transfer (rows * ceil(bytes/4) words) on the PE's engine and the GM port. */
/* The first watchpoint on a word that the rows of a transfer to dst (in region dr) write,
 * or -1; *host is then that word in the emulator's memory. */
static int dma_watch(machine_t *m, pe_t *pe, int dr, uint32_t dst, int32_t ds, uint32_t rows,
                     uint32_t bytes, uint8_t **host) {
    for (uint32_t i = 0; i < m->nwatch; i++) {
        uint32_t w = m->watch_addr[i], off;
        if (m->watch_pe[i] >= 0 && (uint32_t)m->watch_pe[i] != pe->id) continue;
        if (region_of(m, w, 4, &off) != dr) continue;
        for (uint32_t r = 0; r < rows; r++) {
            int64_t lo = (int64_t)dst + (int64_t)r * ds;
            if (lo < (int64_t)w + 4 && (int64_t)w < lo + bytes) {
                *host = region_base(m, pe, dr) + off;
                return (int)i;
            }
        }
    }
    return -1;
}

static int dma_issue(machine_t *m, pe_t *pe, uint64_t now, uint32_t dst, uint32_t src,
                     uint32_t rows, uint32_t bytes, int32_t ds, int32_t ss, uint32_t *extra,
                     trace_t *tr) {
    trace_ev(m, tr, EV_DMA, 0, dst, src);
    trace_ev(m, tr, EV_DMA_SIZE, 0, rows, bytes);
    if (rows == 0 || bytes == 0) return ST_OK;
    uint32_t doff = 0, soff = 0;
    int dr = rows_region(m, dst, ds, rows, bytes, &doff);
    int sr = rows_region(m, src, ss, rows, bytes, &soff);
    if (dr < 0) return trap_why(m, pe, TRAP_OUT_OF_RANGE, WHY_DMA_DST, dst);
    if (sr < 0) return trap_why(m, pe, TRAP_OUT_OF_RANGE, WHY_DMA_SRC, src);
    if (m->ahead && (dr != REGION_LM || sr != REGION_LM)) { m->deferred = 1; return ST_DEFER; }
    /* a free slot in the queue, or else wait for the oldest transfer to end */
    uint32_t slot = 0;
    for (uint32_t i = 0; i < m->dma_queue; i++) {
        if (pe->dma_end[i] <= now) { slot = i; break; }
        if (pe->dma_end[i] < pe->dma_end[slot]) slot = i;
    }
    uint64_t issue = now;
    if (pe->dma_end[slot] > now) {
        issue = pe->dma_end[slot];
        *extra += (uint32_t)(issue - now);
        pe->stall[STALL_DMA] += issue - now;
    }
    uint8_t *db = region_base(m, pe, dr), *sb = region_base(m, pe, sr), *wp = 0;
    int w = __builtin_expect(m->nwatch != 0, 0) ? dma_watch(m, pe, dr, dst, ds, rows, bytes, &wp)
                                                : -1;
    uint32_t old = w >= 0 ? rd32(wp) : 0;
    for (uint32_t i = 0; i < rows; i++)
        memmove(db + doff + (int64_t)i * ds, sb + soff + (int64_t)i * ss, bytes);
    if (w >= 0) watch_record(m, pe, w, m->watch_addr[w], old, rd32(wp));
    uint64_t n = (uint64_t)rows * ((bytes + 3) / 4);
    pe->loads[sr] += n; pe->load_bytes[sr] += (uint64_t)rows * bytes;
    pe->stores[dr] += n; pe->store_bytes[dr] += (uint64_t)rows * bytes;
    uint64_t lat = (uint64_t)m->cost[sr] + m->cost[dr] - 2;  /* costs are >= 1 */
    uint64_t start = pe->dma_free > issue + 1 ? pe->dma_free : issue + 1;
    uint64_t end = start + lat + n;
    if (sr == REGION_GM || dr == REGION_GM) {
        uint64_t g = m->gm_port_words;
        uint64_t begin = start * g > m->gm_port_free ? start * g : m->gm_port_free;
        m->gm_port_free = begin + n;
        uint64_t port_end = (m->gm_port_free + g - 1) / g + lat;
        if (port_end > end) end = port_end;
    }
    pe->dma_end[slot] = end;
    pe->dma_free = end;
    if (tr) {
        uint64_t a = start - now, b = end - now;
        trace_ev(m, tr, EV_DMA_TIME, 0, a > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)a,
                 b > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)b);
    }
    return ST_OK;
}

/* `dma dst, src, n`: n words, both ends word aligned. */
static int dma_words(machine_t *m, pe_t *pe, uint64_t now, uint32_t dst, uint32_t src,
                     uint32_t n, uint32_t *extra, trace_t *tr) {
    if (n == 0) {
        trace_ev(m, tr, EV_DMA, 0, dst, src);
        trace_ev(m, tr, EV_DMA_SIZE, 0, 1, 0);
        return ST_OK;
    }
    if (dst & 3) return trap_why(m, pe, TRAP_MISALIGNED, WHY_DMA_DST, dst);
    if (src & 3) return trap_why(m, pe, TRAP_MISALIGNED, WHY_DMA_SRC, src);
    if (n > 0x3FFFFFFFu) return trap_why(m, pe, TRAP_OUT_OF_RANGE, WHY_DMA_SIZE, n);
    return dma_issue(m, pe, now, dst, src, 1, 4 * n, 0, 0, extra, tr);
}

/* `dwait`: the PE's next instruction issues when its engine has finished. */
static inline void dma_wait(pe_t *pe, uint64_t now, uint32_t *extra) {
    if (pe->dma_free > now + 1) {
        *extra += (uint32_t)(pe->dma_free - now - 1);
        pe->stall[STALL_DMA] += pe->dma_free - now - 1;
    }
}

/* `halt`: the PE stops; it is done when its DMA engine is (decision `dma`). */
static inline void pe_halt(pe_t *pe, uint64_t now) {
    pe->halted = 1;
    pe->halt_cycle = now + 1;
    if (pe->dma_free > pe->halt_cycle) {
        pe->stall[STALL_DMA] += pe->dma_free - pe->halt_cycle;
        pe->halt_cycle = pe->dma_free;
    }
}

/* ------------------------------------------------------------ neighbours */

static pe_t *neighbour(machine_t *m, pe_t *pe, uint32_t dir) {
    int r = (int)pe->row + (dir == DIR_S) - (dir == DIR_N);
    int c = (int)pe->col + (dir == DIR_E) - (dir == DIR_W);
    if (r < 0 || c < 0 || r >= (int)m->rows || c >= (int)m->cols) return 0;
    return &m->pes[r * m->cols + c];
}

static int nb_send(machine_t *m, pe_t *pe, uint32_t dir, uint32_t v) {
    if (m->ahead) return ST_DEFER;
    pe_t *to = neighbour(m, pe, dir);
    if (!to) return trap_why(m, pe, TRAP_EDGE, WHY_EDGE, dir);
    uint32_t side = dir ^ 2;  /* n<->s, e<->w: the receiver's register facing us */
    if (to->in_full[side] || to->in_time[side] == m->cycle) {
        pe->stall[STALL_SEND]++;
        pe->wait = WAIT_SEND; pe->wait_dir = dir;
        return ST_BLOCKED;
    }
    pe->wait = WAIT_NONE;
    to->in_val[side] = v;
    to->in_full[side] = 1;
    to->in_time[side] = m->cycle;
    return ST_OK;
}

static int nb_recv(machine_t *m, pe_t *pe, uint32_t dir, uint32_t *out) {
    if (m->ahead) return ST_DEFER;
    if (!neighbour(m, pe, dir)) return trap_why(m, pe, TRAP_EDGE, WHY_EDGE, dir);
    if (!pe->in_full[dir] || pe->in_time[dir] == m->cycle) {
        pe->stall[STALL_RECV]++;
        pe->wait = WAIT_RECV; pe->wait_dir = dir;
        return ST_BLOCKED;
    }
    pe->wait = WAIT_NONE;
    *out = pe->in_val[dir];
    pe->in_full[dir] = 0;
    pe->in_time[dir] = m->cycle;
    return ST_OK;
}

/* ------------------------------------------------------------ special registers */

static int sreg_read(machine_t *m, pe_t *pe, uint32_t n, uint64_t now, uint32_t *out) {
    switch (n) {
    case 0: *out = pe->row; break;
    case 1: *out = pe->col; break;
    case 2: *out = pe->id; break;
    case 3: *out = m->rows; break;
    case 4: *out = m->cols; break;
    case 5: *out = (uint32_t)now; break;
    case 6: *out = pe->sat; break;
    case 7: *out = pe->lfsr; break;
    case 8: *out = (uint32_t)pe->dma_ss; break;
    case 9: *out = (uint32_t)pe->dma_ds; break;
    default: return trap_why(m, pe, TRAP_ILLEGAL, WHY_SREG, n);
    }
    return ST_OK;
}

static int sreg_write(machine_t *m, pe_t *pe, uint32_t n, uint32_t v) {
    if (n == 6) pe->sat = v != 0;
    else if (n == 7) pe->lfsr = v ? v : 1;
    else if (n == 8) pe->dma_ss = (int32_t)v;
    else if (n == 9) pe->dma_ds = (int32_t)v;
    else return trap_why(m, pe, TRAP_ILLEGAL, WHY_SREG, n);
    return ST_OK;
}

/* ------------------------------------------------------------ control */

/* The PC after `npc`, folding in the ends of zero-overhead loops. */
static uint32_t loop_next(pe_t *pe, uint32_t npc) {
    while (pe->loop_depth && npc == pe->loop_end[pe->loop_depth - 1]) {
        uint32_t top = pe->loop_depth - 1;
        if (--pe->loop_count[top]) return pe->loop_start[top];
        pe->loop_depth--;
    }
    return npc;
}

static int loop_enter(machine_t *m, pe_t *pe, uint32_t count, uint32_t end, uint32_t *npc) {
    if (count == 0 || end == pe->pc + 4 || end <= pe->pc) { *npc = end; return ST_OK; }
    if (pe->loop_depth >= LOOP_LEVELS) return trap(m, pe, TRAP_LOOP_DEPTH);
    uint32_t top = pe->loop_depth++;
    pe->loop_start[top] = pe->pc + 4;
    pe->loop_end[top] = end;
    pe->loop_count[top] = count;
    return ST_OK;
}


/* ------------------------------------------------------------ semantics macros */

#define RS (*p_rs)
#define RT (*p_rt)
#define RD (*p_rd)
#define IMM (d->imm)
#define PC (pe->pc)
#define S32(x) s32(x)
#define WRD(v) do { uint32_t v__ = (v); *p_rd = v__; trace_write(m, tr, d->rd, v__); } while (0)
#define WRS(v) do { uint32_t v__ = (v); *p_rs = v__; trace_write(m, tr, d->rs, v__); } while (0)
#define WRT(v) do { uint32_t v__ = (v); *p_rt = v__; trace_write(m, tr, d->rt, v__); } while (0)
#define JUMP(t) do { uint32_t t__ = (uint32_t)(t); \
                     if (t__ & 3) { return trap_why(m, pe, TRAP_MISALIGNED, WHY_JUMP, t__); } \
                     *npc = t__; } while (0)
#define CHECK(st) do { int st__ = (st); if (st__) return st__; } while (0)
#define LOAD_CHECKED(addr, size, sgn) \
    ({ uint32_t v_l, a_l = (addr); CHECK(mem_load(m, pe, a_l, (size), (sgn), extra, &v_l)); \
       trace_mem(m, tr, EV_LOAD, a_l, (size), v_l); v_l; })
#define LOAD LOAD_CHECKED
/* an access to this PE's LM: such an access cannot need the array */
#define IN_LM(addr) ((uint32_t)(addr) - m->lm_base < m->lm_size)
/* a word of this PE's LM at an address already checked (STREAM_FAST) */
#define LOAD_LM(addr, size, sgn) \
    ({ uint32_t v_m; memcpy(&v_m, pe->lm + ((addr) - m->lm_base), 4); (void)(size); \
       (void)(sgn); v_m; })
#define STORE(addr, size, v) do { uint32_t a_s = (addr), v_s = (v); \
    CHECK(mem_store(m, pe, a_s, (size), v_s, extra)); trace_mem(m, tr, EV_STORE, a_s, (size), v_s); \
    } while (0)
#define SEND(dir, v) do { uint32_t d_n = (dir), v_n = (v); CHECK(nb_send(m, pe, d_n, v_n)); \
    trace_ev(m, tr, EV_SEND, d_n, 0, v_n); } while (0)
#define RECV(dir) ({ uint32_t v_r, d_r = (dir); CHECK(nb_recv(m, pe, d_r, &v_r)); \
    trace_ev(m, tr, EV_RECV, d_r, 0, v_r); v_r; })
#define MFS(n) ({ uint32_t v_s; CHECK(sreg_read(m, pe, (n), now, &v_s)); v_s; })
#define MTS(n, v) CHECK(sreg_write(m, pe, (n), (v)))
#define LOOP(count, end) CHECK(loop_enter(m, pe, (count), (uint32_t)(end), npc))
#define HALT() do { if (m->ahead) return ST_DEFER; pe_halt(pe, now); } while (0)
#define DMA(dst, src, n) CHECK(dma_words(m, pe, now, (dst), (src), (n), extra, tr))
#define DMA2D(dst, src, shape) CHECK(dma_issue(m, pe, now, (dst), (src), (shape) >> 16, \
                                               (shape) & 0xFFFFu, pe->dma_ds, pe->dma_ss, extra, tr))
#define DWAIT() dma_wait(pe, now, extra)
#define SYNC() do { if (m->ahead) return ST_DEFER; pe->at_sync = 1; pe->wait = WAIT_SYNC; \
                      return ST_BLOCKED; } while (0)
#define DOT(sa, sb) dot64(RS, RT, W, DOT_##sa)
#define DOTV(x, y, sa) dot64((x), (y), W, DOT_##sa)
#define DOT_S 1
#define DOT_U 0
#define SAT32(x) ((uint32_t)(uint64_t)sat_s((x), 32, &pe->sat))
#define PACKS(a, b) packsr32((a), (b), 0, W, &pe->sat)
#define PACKSR(a, b, s) packsr32((a), (b), (s), W, &pe->sat)
#define UNPK(a, hi) unpk32((a), (hi), W)
/* lane expressions */
#define sats(x) sat_s((x), W, &pe->sat)
#define satu(x) sat_u((x), W, &pe->sat)
#define asr(a, s) asr64((a), (s))
#define rshr(a, s) rshr64((a), (s))
#define srnd(a, s) srnd64(pe, m->lfsr_taps, (a), (s))
#define lane0(a) slane(x_a, 0, W)
/* A lane instruction at lane width w (Spike's P_LOOP(BIT, ...)): for each of the 32/w
 * lanes, a and ua are the lane of rs (signed, unsigned), b and ub the lane of rt or, when
 * b_imm, the immediate; rd's lane is the expression truncated to w bits. */
#define LANE_LOOP(w, b_imm, ...) do { \
    uint32_t x_a = RS, x_b = (b_imm) ? (uint32_t)IMM : RT, out_ = 0; \
    for (int l = 0; l < 32 / (w); l++) { \
        int64_t a = slane(x_a, l, (w)), ua = ulane(x_a, l, (w)); \
        int64_t b = (b_imm) ? (int64_t)x_b : slane(x_b, l, (w)); \
        int64_t ub = (b_imm) ? (int64_t)x_b : ulane(x_b, l, (w)); \
        (void)a; (void)b; (void)ua; (void)ub; \
        out_ |= lane_bits((__VA_ARGS__), l, (w)); \
    } \
    WRD(out_); \
} while (0)

/* The instructions' semantics, one function each, generated from the table.  The
 * registers come in as pointers: into the register file, or (repeat()) to locals. */
#define OP_FN(name) static inline __attribute__((always_inline)) int name( \
    machine_t *m, pe_t *pe, const dec_t *d, uint64_t now, trace_t *tr, uint32_t *npc, \
    uint32_t *extra, uint32_t *p_rd, uint32_t *p_rs, uint32_t *p_rt)

    FUNCTIONS

/* The PC left the image (or is not a multiple of 4: jumps check their targets). */
static int code_trap(machine_t *m, pe_t *pe) {
    uint32_t idx = pe->pc >> 2;
    if (pe->pc & 3) return trap_why(m, pe, TRAP_MISALIGNED, WHY_CODE_OUTSIDE, pe->pc);
    return trap_why(m, pe, idx < m->imem_words ? TRAP_ILLEGAL : TRAP_OUT_OF_RANGE,
                    idx == pe->ncode ? WHY_CODE_END : WHY_CODE_OUTSIDE, pe->pc);
}

/* Execute the instruction at pe->pc, issuing in cycle `now`. ST_OK: retired;
 * ST_BLOCKED: try again next cycle; ST_DEFER: retry when the array reaches
 * `now`; ST_TRAP: m->trap_* says why. */
static inline __attribute__((always_inline)) int execute(machine_t *m, pe_t *pe, uint64_t now,
                                                          const int tracing) {
    uint32_t pc = pe->pc;
    uint32_t idx = pc >> 2;
    if (__builtin_expect((pc & 3) || idx >= pe->ncode, 0))
        return code_trap(m, pe);
    const dec_t *d = &pe->dec[idx];
    trace_t *tr = tracing ? trace_begin(m, pe, now, pc) : 0;
    uint32_t npc = pc + 4, extra = 0;
    int st;
    switch (d->op) {
    EXEC_CASES
    default:
        return trap_why(m, pe, TRAP_ILLEGAL, WHY_WORD, pe->code[idx]);
    }
    if (st) return st;
    pe->r[0] = 0;
    pe->retired++;
    pe->macs += INSN_MACS[d->op];
    pe->busy_until = now + INSN_CYCLES[d->op] + extra;
    pe->pc = loop_next(pe, npc);
    if (tr) trace_retire(m, pe, tr, (pe->halted ? pe->halt_cycle : pe->busy_until) - now);
    return ST_OK;
}

/* Stream instructions (isa.toml `stream`): each iteration reads one word through
 * each stream register and steps it by 4, and touches no other memory.  When all
 * the words of the remaining iterations lie in this PE's LM, the whole loop is
 * checked once and run with LOAD_LM (no per-access checks), the counters added
 * at the end: the same results and counts as the checked loop. */
#define LM_RUN_OK(v, n) (((v) & 3) == 0 && (v) - m->lm_base < m->lm_size \
                         && (uint64_t)(m->lm_size - ((v) - m->lm_base)) >= 4 * (uint64_t)(n))
#define STREAM_FAST(fn_lm, cycles, nstream, ok) do { \
    uint32_t lm_x = m->cost[REGION_LM] - 1; \
    uint64_t per = (cycles) + (uint64_t)(nstream) * lm_x; \
    uint64_t n = left; \
    if (now >= horizon) break; \
    if ((horizon - now + per - 1) / per < n) n = (horizon - now + per - 1) / per; \
    if (!(ok)) break; \
    for (uint64_t k = 0; k < n; k++) { \
        uint32_t npc = pe->pc + 4, extra = 0; \
        (void)fn_lm(m, pe, d, now, 0, &npc, &extra, &vrd, &vrs, &vrt); \
        now += per; \
    } \
    pe->loads[REGION_LM] += (nstream) * n; \
    pe->load_bytes[REGION_LM] += 4 * (nstream) * n; \
    pe->stall[STALL_MEMORY] += (nstream) * lm_x * n; \
    done = (uint32_t)n; \
} while (0)

/* Run-ahead only: the PE sits at a loop whose whole body is the one instruction
 * at its PC.  Iterate it in place, without fetch and dispatch, until the loop
 * ends, the horizon, or the instruction needs the array (ST_DEFER) or traps.
 * With three distinct non-zero registers they live in locals meanwhile.
 * Each instruction gets a small function of its own (generated: REPEAT_FNS),
 * small enough for the compiler to keep those locals in registers. */
#define REPEAT_FN(name, fn, cycles, FAST) \
static int name(machine_t *__restrict m, pe_t *__restrict pe, const dec_t *dp, uint64_t *nowp, \
                uint64_t horizon, \
                uint32_t left, uint32_t *donep) { \
    const dec_t dl = *dp; \
    const dec_t *d = &dl; \
    uint64_t now = *nowp; \
    uint32_t done = 0; \
    int st = ST_OK; \
    if (dl.rd && dl.rs && dl.rt && dl.rd != dl.rs && dl.rd != dl.rt && dl.rs != dl.rt) { \
        uint32_t vrd = pe->r[dl.rd], vrs = pe->r[dl.rs], vrt = pe->r[dl.rt]; \
        FAST; \
        while (done < left && now < horizon) { \
            uint32_t npc = pe->pc + 4, extra = 0; \
            st = fn(m, pe, d, now, 0, &npc, &extra, &vrd, &vrs, &vrt); \
            if (st) break; \
            now += (cycles) + extra; \
            done++; \
        } \
        pe->r[dl.rd] = vrd; pe->r[dl.rs] = vrs; pe->r[dl.rt] = vrt; \
    } else { \
        while (done < left && now < horizon) { \
            uint32_t npc = pe->pc + 4, extra = 0; \
            st = fn(m, pe, d, now, 0, &npc, &extra, &pe->r[dl.rd], &pe->r[dl.rs], \
                    &pe->r[dl.rt]); \
            if (st) break; \
            pe->r[0] = 0; \
            now += (cycles) + extra; \
            done++; \
        } \
    } \
    *nowp = now; \
    *donep = done; \
    return st; \
}

    REPEAT_FNS

static inline int repeat(machine_t *m, pe_t *pe, uint64_t horizon) {
    uint32_t top = pe->loop_depth - 1;
    const dec_t *d = &pe->dec[pe->pc >> 2];
    uint64_t now = pe->busy_until;
    uint32_t left = pe->loop_count[top], done = 0;
    int st;
    switch (d->op) {
    REPEAT_CASES
    default:
        return -1;
    }
    pe->retired += done;
    pe->macs += (uint64_t)done * INSN_MACS[d->op];
    pe->busy_until = now;
    if (done == left) {
        pe->loop_depth--;
        pe->pc = loop_next(pe, pe->pc + 4);
    } else {
        pe->loop_count[top] = left - done;
    }
    return st;
}

/* ------------------------------------------------------------ macl loops as dot products */

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "LM words are read in host order");
typedef int8_t __attribute__((may_alias)) i8a_t;
typedef int16_t __attribute__((may_alias, aligned(2))) i16a_t;
typedef uint32_t __attribute__((may_alias, aligned(4))) u32a_t;

#if defined(__SSE2__)
#include <emmintrin.h>
/* Sums of products of 16-bit lanes, 8 a step (pmaddwd): the bytes of x and y as int16
 * (sign-extended from int8 when `bytes`), the 32-bit sums wrapping as the ISA's do. */
static uint32_t dot_simd(const uint8_t *a, const uint8_t *b, uint64_t nbytes, int bytes) {
    __m128i acc = _mm_setzero_si128();
    uint64_t i = 0;
    for (; i + 16 <= nbytes; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(a + i));
        __m128i y = _mm_loadu_si128((const __m128i *)(b + i));
        if (bytes) {
            __m128i xl = _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8);
            __m128i xh = _mm_srai_epi16(_mm_unpackhi_epi8(x, x), 8);
            __m128i yl = _mm_srai_epi16(_mm_unpacklo_epi8(y, y), 8);
            __m128i yh = _mm_srai_epi16(_mm_unpackhi_epi8(y, y), 8);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(xl, yl));
            acc = _mm_add_epi32(acc, _mm_madd_epi16(xh, yh));
        } else {
            acc = _mm_add_epi32(acc, _mm_madd_epi16(x, y));
        }
    }
    uint32_t l[4];
    _mm_storeu_si128((__m128i *)l, acc);
    uint32_t s = l[0] + l[1] + l[2] + l[3];
    if (bytes) {
        for (; i < nbytes; i++)
            s += (uint32_t)((int32_t)(int8_t)a[i] * (int32_t)(int8_t)b[i]);
    } else {
        for (; i < nbytes; i += 2) {
            int16_t x, y;
            memcpy(&x, a + i, 2);
            memcpy(&y, b + i, 2);
            s += (uint32_t)((int32_t)x * (int32_t)y);
        }
    }
    return s;
}
#endif

/* The sum over k < n of dot(word at a + k*sa, word at b + k*sb), lanes of width w both
 * signed (isa.toml `macl`), mod 2^32.  Consecutive words (sa = sb = 4) run as one flat
 * loop (SIMD where the host has it). */
static uint32_t dot_run(const uint8_t *a, uint32_t sa, const uint8_t *b, uint32_t sb,
                        uint64_t n, int w) {
    uint32_t s = 0;
    if (sa == 4 && sb == 4) {
#if defined(__SSE2__)
        if (w == 8 || w == 16) return dot_simd(a, b, 4 * n, w == 8);
#endif
        if (w == 8) {
            const i8a_t *x = (const i8a_t *)a, *y = (const i8a_t *)b;
            for (uint64_t i = 0; i < 4 * n; i++) s += (uint32_t)((int32_t)x[i] * (int32_t)y[i]);
            return s;
        }
        if (w == 16) {
            const i16a_t *x = (const i16a_t *)a, *y = (const i16a_t *)b;
            for (uint64_t i = 0; i < 2 * n; i++) s += (uint32_t)((int32_t)x[i] * (int32_t)y[i]);
            return s;
        }
        if (w == 32) {
            const u32a_t *x = (const u32a_t *)a, *y = (const u32a_t *)b;
            for (uint64_t i = 0; i < n; i++) s += x[i] * y[i];
            return s;
        }
    }
    if (w == 8) {
        for (uint64_t k = 0; k < n; k++) {
            const i8a_t *x = (const i8a_t *)(a + k * sa), *y = (const i8a_t *)(b + k * sb);
            s += (uint32_t)((int32_t)x[0] * y[0] + (int32_t)x[1] * y[1] + (int32_t)x[2] * y[2]
                            + (int32_t)x[3] * y[3]);
        }
        return s;
    }
    for (uint64_t k = 0; k < n; k++)
        s += (uint32_t)dot64(rd32(a + k * sa), rd32(b + k * sb), w, 1);
    return s;
}

enum { BLOCK_MAX = 8 };

/* Does the run of n words from addr, `step` bytes apart, lie in this PE's LM, aligned? */
static inline int lm_words(const machine_t *m, uint32_t addr, uint32_t step, uint64_t n) {
    uint64_t off = (uint64_t)(uint32_t)(addr - m->lm_base);
    return (addr & 3) == 0 && off + (n - 1) * step + 4 <= m->lm_size;
}

/* Run-ahead only: the PE is at the start of a loop whose body is K macl-family
 * instructions (dec.run), pointers and accumulators distinct registers.  The loop's
 * whole iterations that issue before `horizon` run as one dot product per instruction
 * (dot_run) when every word they read lies in this PE's LM; the registers, counters,
 * time and loop state end as the interpreter leaves them.  Returns the iterations run
 * (0: not this shape, not in LM, or no whole iteration before the horizon). */
static uint32_t repeat_block(machine_t *m, pe_t *pe, uint64_t horizon, uint32_t K) {
    uint32_t top = pe->loop_depth - 1;
    const dec_t *d0 = &pe->dec[pe->pc >> 2];
    uint64_t now = pe->busy_until;
    uint32_t left = pe->loop_count[top];
    uint32_t step[REG_COUNT] = {0}, off_a[BLOCK_MAX], off_b[BLOCK_MAX];
    uint32_t ptr = 0, acc = 0;  /* register bitmaps */
    uint64_t per = 0, lanes = 0;
    const uint64_t lm_x = m->cost[REGION_LM] - 1;
    if (K > BLOCK_MAX || now >= horizon) return 0;
    for (uint32_t j = 0; j < K; j++) {
        const dec_t *d = d0 + j;
        uint32_t kind = INSN_BULK[d->op];
        if (!kind || !d->rd || !d->rs || !d->rt || d->rs == d->rt) return 0;
        off_a[j] = step[d->rs];
        off_b[j] = step[d->rt];
        if (kind == 1) step[d->rs] += 4;
        step[d->rt] += 4;
        ptr |= 1u << d->rs | 1u << d->rt;
        acc |= 1u << d->rd;
        per += INSN_CYCLES[d->op] + 2 * lm_x;  /* two LM reads each (decision `macl`) */
        lanes += INSN_MACS[d->op];
    }
    if (ptr & acc) return 0;
    uint64_t n = (horizon - now) / per;  /* whole iterations issuing before the horizon */
    if (n > left) n = left;
    if (!n) return 0;
    for (uint32_t j = 0; j < K; j++) {
        const dec_t *d = d0 + j;
        if (!lm_words(m, pe->r[d->rs] + off_a[j], step[d->rs], n)
            || !lm_words(m, pe->r[d->rt] + off_b[j], step[d->rt], n))
            return 0;
    }
    const uint8_t *lm = pe->lm - m->lm_base;
    for (uint32_t j = 0; j < K; j++) {
        const dec_t *d = d0 + j;
        pe->r[d->rd] += dot_run(lm + (uint32_t)(pe->r[d->rs] + off_a[j]), step[d->rs],
                                lm + (uint32_t)(pe->r[d->rt] + off_b[j]), step[d->rt], n,
                                INSN_WIDTH[d->op]);
    }
    for (uint32_t b = ptr; b; b &= b - 1) {
        uint32_t r = (uint32_t)__builtin_ctz(b);
        pe->r[r] += (uint32_t)(n * step[r]);
    }
    pe->retired += n * K;
    pe->macs += n * lanes;
    pe->loads[REGION_LM] += 2 * K * n;
    pe->load_bytes[REGION_LM] += 8 * K * n;
    pe->stall[STALL_MEMORY] += 2 * K * lm_x * n;
    pe->busy_until = now + n * per;
    if (n == left) {
        pe->loop_count[top] = 1;
        pe->pc = loop_next(pe, pe->loop_end[top]);  /* ends this loop, folds outer ends */
    } else {
        pe->loop_count[top] = left - (uint32_t)n;
    }
    return (uint32_t)n;
}

static inline int single_insn_loop(const pe_t *pe) {
    uint32_t top = pe->loop_depth - 1;
    return pe->loop_depth && pe->loop_start[top] == pe->pc && pe->loop_end[top] == pe->pc + 4
        && (pe->pc >> 2) < pe->ncode;
}

/* What a cycle of the array's loop found, PE by PE. */
typedef struct {
    uint32_t running, waiting, progress, blocked;
    uint64_t next_busy, work;
} tally_t;

/* Count PE pe's outcome in the cycle: it retired (ST_OK), or was blocked. */
static inline void tally(tally_t *t, pe_t *pe, int st, uint64_t retired) {
    if (st != ST_OK) { t->blocked++; if (pe->at_sync) t->waiting++; return; }
    if (pe->halted) t->running--;
    t->work += retired;
    t->progress++;
    if (pe->busy_until < t->next_busy) t->next_busy = pe->busy_until;
}

/* The array's cycle with run-ahead: each PE that issues in it, in id order, issues its
 * next instruction, then runs ahead on its own up to `horizon` (a threaded interpreter:
 * one dispatch per handler, PC and time in locals).  A PE stops at the horizon, or
 * where an instruction needs the array (ST_DEFER: it issues in the array's cycle, as
 * the first instruction of its turn then); a trap met running ahead is deferred the
 * same way.  Returns the id of a PE whose first instruction trapped (pe_run finishes
 * that cycle in lock step), else npes. */
static uint32_t run_cycle(machine_t *m, uint64_t horizon, tally_t *t) {
    static const void *const labels[] = {
    LOCAL_LABELS
    };
    const uint64_t cycle = m->cycle;
    pe_t *const pes = m->pes;
    const uint32_t n = m->npes;
    pe_t *pe;
    const dec_t *dec, *d;
    uint32_t code_end, pc, npc, extra, lend;
    uint64_t now, retired, macs;
    int st, first;
#define FETCH() do { \
        if (now >= horizon || pc >= code_end) goto out; \
        d = &dec[pc >> 2]; \
        goto *labels[d->op]; \
    } while (0)
/* the innermost loop's end, or a PC no instruction has (PCs are multiples of 4) */
#define LOOP_END() (pe->loop_depth ? pe->loop_end[pe->loop_depth - 1] : 1u)
/* at the start of a loop body of macl (repeat_block) or of one instruction (repeat):
 * run its iterations in place */
#define REPEAT_HERE() do { \
        uint32_t top_ = pe->loop_depth - 1, k_; \
        if (!pe->loop_depth || pe->loop_start[top_] != pc) break; \
        pe->pc = pc; \
        pe->busy_until = now; \
        k_ = (lend - pc) >> 2; \
        if (pc < code_end && k_ <= dec[pc >> 2].run && repeat_block(m, pe, horizon, k_)) { \
            pc = pe->pc; \
            now = pe->busy_until; \
            lend = LOOP_END(); \
            break; \
        } \
        if (k_ == 1 && pc < code_end) { \
            st = repeat(m, pe, horizon); \
            if (st > 0) goto out_synced; \
            st = ST_OK; \
            pc = pe->pc; \
            now = pe->busy_until; \
            lend = LOOP_END(); \
        } \
    } while (0)
/* after an instruction: retire it, fold loop ends, go to the next; a control
 * instruction (entered: true; `loop` pushes one) may start a loop body right away.
 * After the first (in the array's cycle) the PE runs ahead; a `halt` (only ever the
 * first) ends its turn. */
#define NEXT(cycles, nmacs, entered) do { \
        pe->r[0] = 0; \
        retired++; \
        macs += (nmacs); \
        now += (cycles) + extra; \
        pc = npc; \
        int fold_ = pc == lend; \
        if (fold_) { pc = loop_next(pe, pc); lend = LOOP_END(); } \
        if (__builtin_expect(first, 0)) { \
            first = 0; \
            m->ahead = 1; \
            if (pe->halted) goto out; \
        } \
        if (entered) lend = LOOP_END(); \
        if (fold_ || (entered)) REPEAT_HERE(); \
        FETCH(); \
    } while (0)
    for (uint32_t i = 0; i < n; i++) {
        pe = &pes[i];
        if (pe->halted) continue;
        if (pe->at_sync) { t->waiting++; continue; }
        if (pe->busy_until > cycle) { tally(t, pe, ST_OK, 0); continue; }
        dec = pe->dec;
        pc = pe->pc;
        code_end = pe->ncode << 2;  /* PCs stay multiples of 4: jumps check their targets */
        if ((pc & 3) || pc >= code_end) { code_trap(m, pe); return i; }
        now = cycle;  /* a PE that was blocked has busy_until < cycle */
        retired = macs = 0;
        st = ST_OK;
        first = 1;
        lend = LOOP_END();
        m->ahead = 0;  /* the first instruction is the array's */
        d = &dec[pc >> 2];
        goto *labels[d->op];
    LOCAL_HANDLERS
    out:
        pe->pc = pc;
        pe->busy_until = now;
    out_synced:
        pe->retired += retired;
        pe->macs += macs;
        m->ahead = 0;
        m->deferred = 0;
        if (!retired && st == ST_TRAP) return i;
        tally(t, pe, retired ? ST_OK : st, retired);
    }
    return n;
#undef FETCH
#undef NEXT
}

/* ------------------------------------------------------------ the cycle loop */

/* How far (cycles) a PE may run ahead of the array on purely local work. */
enum { RUN_AHEAD = 4096 };

static uint64_t last_halt(machine_t *m) {
    uint64_t t = m->cycle;
    for (uint32_t i = 0; i < m->npes; i++)
        if (m->pes[i].ncode && m->pes[i].halt_cycle > t) t = m->pes[i].halt_cycle;
    return t;
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Does a breakpoint stop PE pe before the instruction at its PC? */
static int break_at(const machine_t *m, const pe_t *pe) {
    uint32_t idx = pe->pc >> 2;
    if (idx >= m->imem_words || !m->breakpoints[idx]) return 0;
    for (uint32_t k = 0; k < m->nbreak; k++)
        if (m->break_pc[k] == pe->pc && (m->break_pe[k] < 0 || (uint32_t)m->break_pe[k] == pe->id))
            return 1;
    return 0;
}

/* Every running PE is at the barrier: their `sync`s retire in this cycle. */
static void sync_complete(machine_t *m) {
    for (uint32_t i = 0; i < m->npes; i++) {
        pe_t *pe = &m->pes[i];
        if (pe->halted) continue;
        trace_t *t = m->trace_cap ? trace_begin(m, pe, m->cycle, pe->pc) : 0;
        pe->at_sync = 0;
        pe->wait = WAIT_NONE;
        pe->retired++;
        pe->busy_until = m->cycle + 1;
        pe->pc = loop_next(pe, pe->pc + 4);
        if (t) trace_retire(m, pe, t, 1);
    }
}

/* Run until every PE halted, a trap, the cycle `stop` (pause), a breakpoint, a
 * watchpoint, a full trace buffer or (m->slice_ns) a slice of wall time.  `limit` is
 * the cycle limit: reaching it is a trap.  It always returns between two cycles, so
 * that calling it again carries on as if it had not returned.
 *
 * All PEs advance in one cycle loop; shared state (SM banks, GM, neighbours,
 * sync) is touched only in the array's cycle, in PE id order.  Between such
 * events a PE runs ahead on its own (ALU, MAC, LM, branches, loops), which no
 * other PE can observe, so counters and results equal the lock-step ones.  A
 * trap met while running ahead is deferred to the cycle the instruction issues
 * in, so the trapping PE is exact; other PEs may have run further on local work.
 * Tracing, breakpoints, watchpoints and m->lockstep switch the run-ahead off. */
int pe_run(machine_t *m, uint64_t stop, uint64_t limit) {
    pe_t *pes = m->pes;
    uint32_t n = m->npes, running = 0;
    uint64_t work = 0;
    const int ahead_ok = !m->trace_cap && !m->breakpoints && !m->nwatch && !m->lockstep;
    uint64_t deadline = m->slice_ns ? wall_ns() + m->slice_ns : 0;
    for (uint32_t i = 0; i < n; i++) running += !pes[i].halted;
    for (;;) {
        if (!running) { m->cycle = last_halt(m); return RUN_HALTED; }
        if (m->cycle >= limit) {
            for (uint32_t i = 0; i < n; i++)
                if (!pes[i].halted) { trap_why(m, &pes[i], TRAP_CYCLE_LIMIT, WHY_LIMIT, limit); break; }
            return RUN_TRAP;
        }
        if (m->cycle >= stop) return RUN_PAUSED;
        if (m->trace_cap && (m->trace_n + n > m->trace_cap
                             || m->trace_ev_n + (uint64_t)n * TRACE_EV_MAX > m->trace_ev_cap))
            return RUN_TRACE_FULL;
        if (deadline && ++work >= (1u << 16)) {  /* about 0.1-1 ms of work */
            work = 0;
            if (wall_ns() >= deadline) return RUN_SLICE;
        }
        if (m->breakpoints && !m->skip_break) {
            for (uint32_t i = 0; i < n; i++) {
                pe_t *pe = &pes[i];
                if (!pe->halted && !pe->at_sync && pe->busy_until <= m->cycle && break_at(m, pe)) {
                    m->skip_break = 1;
                    m->break_hit_pe = pe->id;
                    m->break_hit_pc = pe->pc;
                    return RUN_BREAK;
                }
            }
        }
        m->skip_break = 0;
        uint64_t horizon = m->cycle + RUN_AHEAD;
        if (horizon > stop) horizon = stop;
        if (horizon > limit) horizon = limit;
        tally_t t = {running, 0, 0, 0, UINT64_MAX, 0};
        uint32_t first_lockstep = 0, trapped = 0;
        if (ahead_ok) {
            uint32_t at = run_cycle(m, horizon, &t);
            if (at < n) trapped = 1;
            first_lockstep = at + 1;  /* after a trap the cycle is finished in lock step */
        }
        for (uint32_t i = first_lockstep; i < n; i++) {
            pe_t *pe = &pes[i];
            if (pe->halted) continue;
            if (pe->at_sync) { t.waiting++; continue; }
            if (pe->busy_until <= m->cycle) {
                int st = execute(m, pe, m->cycle, 1);
                if (st == ST_TRAP) { trapped = 1; continue; }  /* finish the cycle */
                tally(&t, pe, st, 1);
            } else {
                tally(&t, pe, ST_OK, 0);
            }
        }
        running = t.running;
        work += t.work;
        if (trapped) { m->cycle++; return RUN_TRAP; }
        if (t.waiting && t.waiting == running && t.progress == 0) {
            sync_complete(m);
            m->cycle++;
            continue;
        }
        if (t.waiting)
            for (uint32_t i = 0; i < n; i++)
                if (!pes[i].halted && pes[i].at_sync) pes[i].stall[STALL_SYNC]++;
        if (!t.progress) {  /* reported at the lowest-id PE, all of them being blocked */
            for (uint32_t i = 0; i < n; i++)
                if (!pes[i].halted) { trap(m, &pes[i], TRAP_DEADLOCK); break; }
            m->cycle++;
            return RUN_TRAP;
        }
        if (m->watch_hit) { m->cycle++; return RUN_WATCH; }
        /* nobody waits on anybody: jump to the first cycle in which some PE issues */
        uint64_t next = m->cycle + 1;
        if (!t.blocked && !t.waiting && t.next_busy > next && t.next_busy != UINT64_MAX)
            next = t.next_busy;
        if (next > limit) next = limit;
        if (next > stop) next = stop;
        m->cycle = next;
    }
}

/* Power-on state of every PE (memories and code kept): registers, PC, counters. */
void pe_reset(machine_t *m, uint32_t lfsr) {
    for (uint32_t i = 0; i < m->npes; i++) {
        pe_t *pe = &m->pes[i];
        uint32_t *code = pe->code, n = pe->ncode;
        dec_t *dec = pe->dec;
        uint8_t *lm = pe->lm;
        memset(pe, 0, sizeof *pe);
        pe->code = code; pe->dec = dec; pe->ncode = n; pe->lm = lm;
        pe->row = i / m->cols; pe->col = i % m->cols; pe->id = i;
        pe->lfsr = lfsr;
        pe->halted = n == 0;
    }
    m->cycle = 0;
    m->trap_cause = m->trap_pe = m->trap_pc = m->trap_why = m->trap_size = m->trap_store = 0;
    m->trap_value = 0;
    m->trace_n = m->trace_cap = m->trace_ev_n = m->trace_ev_cap = 0;
    m->skip_break = 0;
    m->watch_hit = 0;
    m->gm_port_free = 0;
    if (m->sm_banks) {
        memset(m->bank_stamp, 0, m->sm_banks * sizeof *m->bank_stamp);
        memset(m->bank_count, 0, m->sm_banks * sizeof *m->bank_count);
    }
}

/* The trace starts here: each PE's next record counts the stalls from now on. */
void pe_trace_mark(machine_t *m) {
    for (uint32_t i = 0; i < m->npes; i++)
        memcpy(m->trace_mark + (uint64_t)i * STALL_CAUSES, m->pes[i].stall,
               sizeof m->pes[i].stall);
}

/* Give every PE its image: which[i] indexes codes/decs/ns, or is -1 (no code). */
void pe_set_images(machine_t *m, const int32_t *which, uint32_t *const *codes,
                   dec_t *const *decs, const uint32_t *ns) {
    for (uint32_t i = 0; i < m->npes; i++) {
        pe_t *pe = &m->pes[i];
        int32_t k = which[i];
        pe->code = k < 0 ? 0 : codes[k];
        pe->dec = k < 0 ? 0 : decs[k];
        pe->ncode = k < 0 ? 0 : ns[k];
    }
}

/* Give PE pe_id an image (decoded by pe_decode_image). */
void pe_set_code(machine_t *m, uint32_t pe_id, uint32_t *code, dec_t *dec, uint32_t n) {
    assert(pe_id < m->npes);
    pe_t *pe = &m->pes[pe_id];
    pe->code = code;
    pe->dec = dec;
    pe->ncode = n;
}

/* Predecode an image; words that do not decode run as illegal.  Each word also
 * learns how many macl-family instructions start there (repeat_block's bodies). */
void pe_decode_image(const uint32_t *code, dec_t *dec, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        if (!decode_word(code[i], &dec[i])) dec[i].op = INSN_ILLEGAL;
        dec[i].run = 0;
    }
    for (uint32_t i = n; i-- > 0;)
        if (INSN_BULK[dec[i].op])
            dec[i].run = (uint8_t)(i + 1 < n && dec[i + 1].run < 255 ? dec[i + 1].run + 1 : 1);
}

int pe_decode(uint32_t word, dec_t *out) { return decode_word(word, out); }

const char *pe_source_hash(void) { return PEARRAY_SOURCE_HASH; }
const char *pe_build_flags(void) { return PEARRAY_BUILD_FLAGS; }
