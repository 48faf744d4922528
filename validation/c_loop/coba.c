/*
 * coba.c -- refsim's COBA E/I LIF step, written out by hand in plain C99 with libm's expm1.
 *
 * A benchmark baseline ("the same step in plain C") and a fidelity cross-check: every
 * expression below is the one of refsim's NumPy oracle (refsim/engines/numpy_engine.py),
 * operation for operation and in the same order, in the float type chosen at compile time:
 *
 *     gcc -O3 -march=native -ffp-contract=off -std=c99 -o coba coba.c -lm                  (double)
 *     gcc -O3 -march=native -ffp-contract=off -std=c99 -DREAL_IS_FLOAT -o coba coba.c -lm  (float)
 *
 * IEEE arithmetic only: no -ffast-math (no reassociation, no flush-to-zero), and
 * -ffp-contract=off so that no a*b+c is fused into an FMA. The only FMAs are the explicit
 * fmaf() calls of Config.arithmetic 'fused-update' (v + h f) and 'xla' (BrainPy's step as
 * XLA:CPU compiles it: six FMAs and products with reciprocals), float only, as refsim's
 * fma_f32. exprel(z) = expm1(z)/z (1 at z == 0) calls libm's expm1 / expm1f, as refsim does
 * with Config.expm1 = 'libm'.
 *
 * Usage:  coba IN_DIR OUT_DIR
 *
 * Input files in IN_DIR (raw little-endian, no padding; "real" = the compiled float type,
 * float32 or float64; validation/c_loop/run_c_loop.py writes them from refsim):
 *
 *   header.i32     int32[12]: magic 0x4C435352 ("RSCL" in file byte order), format version 1,
 *                  sizeof(real) (4 or 8), N (neurons), n_exc, n_steps, n_entries (CSR
 *                  entries), schedule (0 brainpy, 1 brette), integrator (0 exp_euler,
 *                  1 euler), reset (0 soft, 1 hard), threshold (0 '>=', 1 '>'),
 *                  arithmetic (0 'ieee', 1 'fused-update', 2 'xla'; 1 and 2 only with float)
 *   constants.real real[21]: dt, V_rest, V_th, V_reset, tau_m, tau_ref, RI_ext, R_g, tau_e,
 *                  tau_i, E_e, E_i, w_e, w_i, a_e, a_i, jump, r_m, r_e, r_i, C --
 *                  refsim.model.Constants, bit for bit (a_e, a_i, jump and the reciprocals
 *                  r = 1/tau, C = r_m R_g of 'xla' are refsim's derived constants, not
 *                  recomputed here)
 *   indptr.i32     int32[N + 1]   CSR row pointers (rows = presynaptic neurons)
 *   indices.i32    int32[n_entries] CSR column indices (postsynaptic), stored order kept
 *   counts.real    real[n_entries]  synapses per entry, in the float type
 *   V.real, g_e.real, g_i.real, t_last.real   real[N]: the state before step 0
 *
 * Output files in OUT_DIR (created by the caller):
 *
 *   spikes.i32     int32 pairs (step k, neuron j), steps ascending, neurons ascending per step
 *   V.real, g_e.real, g_i.real, t_last.real   real[N]: the state after the last step
 *
 * stdout: one JSON line {"loop_s": ..., "cpu_s": ..., "us_per_step": ..., "n_spikes": ...};
 * loop_s is clock_gettime(CLOCK_MONOTONIC) around the time loop only (spike recording
 * included; file reading and writing excluded), cpu_s the process CPU time of the same span
 * (CLOCK_PROCESS_CPUTIME_ID: less sensitive to other processes on a busy machine).
 *
 * Step order (refsim/model.py). t_k = (real)k * dt. brainpy schedule (spikes act one step
 * later): 1 s = spike_test(V); 2 scatter x_e, x_i from s; 3 g <- (g + a (-g / tau)) + x;
 * 4 v = reset(V, s); 5 V* = integrate_voltage(v, g_e, g_i); 6 V = (t_k - t_last) < tau_ref
 * ? v : V*; 7 spikes = spike_test(V), t_last = t_k there. brette schedule (spikes act in the
 * step): 1 V', g' integrated from the old values; 2 V' = V_reset where refractory; 3 spikes
 * = spike_test(V'); 4 g = g' + x (scatter of these spikes); 5 reset, t_last.
 */

#define _POSIX_C_SOURCE 199309L

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#error "needs FLT_EVAL_METHOD == 0: every operation rounded to its own type (SSE, not x87)"
#endif

#ifdef REAL_IS_FLOAT
typedef float real;
#define REAL_NAME "float32"
#define EXPM1 expm1f
#else
typedef double real;
#define REAL_NAME "float64"
#define EXPM1 expm1
#endif

#define MAGIC 0x4C435352
#define VERSION 1
#define N_HEADER 12
#define N_CONSTANTS 21

/* ---------------------------------------------------------------------------------------
 * The run's constants (refsim.model.Constants) and the network
 * --------------------------------------------------------------------------------------- */

typedef struct {
    int32_t n_neurons, n_exc, n_steps, n_entries;
    int brainpy_schedule, exp_euler, soft_reset, strict_threshold;
    int fused_update;  /* v + h f is one FMA: arithmetic 'fused-update' or 'xla' */
    int xla;           /* arithmetic 'xla' */
    real dt, V_rest, V_th, V_reset, tau_m, tau_ref, RI_ext, R_g, tau_e, tau_i, E_e, E_i;
    real w_e, w_i, a_e, a_i, jump, r_m, r_e, r_i, C;
} Constants;

typedef struct {
    int32_t *indptr;   /* N + 1 */
    int32_t *indices;  /* n_entries */
    real *counts;      /* n_entries */
} Connectivity;

typedef struct {
    real *V, *g_e, *g_i, *t_last;
} State;

/* Scratch of one step: scatter buffers, per-neuron temporaries, spike flags and list. */
typedef struct {
    real *x_e, *x_i, *v, *f, *h, *V_candidate;
    unsigned char *s;
    int32_t *list;
    int32_t n_list;
} Work;

/* The recorded spikes: (step, neuron) int32 pairs, grown geometrically. */
typedef struct {
    int32_t *pairs;
    size_t n, capacity;
} Raster;

/* ---------------------------------------------------------------------------------------
 * The model's expressions (numpy_engine.py: same names, same operations, same order)
 * --------------------------------------------------------------------------------------- */

/* V > V_th or V >= V_th, by threshold_test. */
static inline int spike_test(real V, const Constants *c)
{
    return c->strict_threshold ? (V > c->V_th) : (V >= c->V_th);
}

/* fma(a, b, d) = a b + d rounded once: only 'fused-update' and 'xla' (float) use it. The
 * double build contains no FMA at all (read_constants refuses those modes for double). */
static inline real fma_real(real a, real b, real d)
{
#ifdef REAL_IS_FLOAT
    return fmaf(a, b, d);
#else
    (void)a; (void)b; (void)d;
    abort();
#endif
}

/* One step of dg/dt = -g/tau (a: a_e or a_i; r = 1/tau: r_e or r_i).
 * ieee: g + a * ((-g) / tau); xla: fma(-(g * r), a, g). */
static inline real integrate_conductance(real g, real tau, real r, real a, const Constants *c)
{
    if (c->xla)
        return fma_real(-(g * r), a, g);
    return g + a * ((-g) / tau);
}

/* f = dV/dt at v (mV/ms).
 * ieee: ((V_rest - v) + ((RI_ext + R_g (g_e (E_e - v))) + R_g (g_i (E_i - v)))) / tau_m;
 * xla:  ((V_rest - v) + fma(g_i (E_i - v), R_g, fma(g_e (E_e - v), R_g, RI_ext))) * r_m. */
static inline real membrane_rhs(real v, real g_e, real g_i, const Constants *c)
{
    if (c->xla) {
        real current = fma_real(g_e * (c->E_e - v), c->R_g, c->RI_ext);
        current = fma_real(g_i * (c->E_i - v), c->R_g, current);
        return ((c->V_rest - v) + current) * c->r_m;
    }
    return ((c->V_rest - v) + ((c->RI_ext + c->R_g * (g_e * (c->E_e - v)))
                               + c->R_g * (g_i * (c->E_i - v)))) / c->tau_m;
}

/* J = df/dv (1/ms).
 * ieee: -(1 + (R_g g_e + R_g g_i)) / tau_m; xla: fma(g_e, -C, g_i (-C)) + (-r_m). */
static inline real membrane_jacobian(real g_e, real g_i, const Constants *c)
{
    if (c->xla)
        return fma_real(g_e, -c->C, g_i * -c->C) + (-c->r_m);
    return -((real)1 + (c->R_g * g_e + c->R_g * g_i)) / c->tau_m;
}

/* exprel(z) = expm1(z) / z, exactly 1 at z == 0; libm's expm1 / expm1f. */
static inline real exprel(real z)
{
    return z == (real)0 ? (real)1 : EXPM1(z) / z;
}

/* h in v <- v + h f: dt * exprel(dt * J) for exp_euler, dt for euler. */
static inline real step_factor(real J, const Constants *c)
{
    return c->exp_euler ? c->dt * exprel(c->dt * J) : c->dt;
}

/* v + h * f, rounded once (FMA) for arithmetic 'fused-update' and 'xla', else twice. */
static inline real advance(real v, real h, real f, const Constants *c)
{
    return c->fused_update ? fma_real(h, f, v) : v + h * f;
}

/* One step of the membrane equation from v with g_e, g_i frozen (the per-neuron form of the
 * oracle; integrate_voltage_block below evaluates exactly this in three loops). */
static inline real integrate_voltage(real v, real g_e, real g_i, const Constants *c)
{
    return advance(v, step_factor(membrane_jacobian(g_e, g_i, c), c),
                   membrane_rhs(v, g_e, g_i, c), c);
}

/* Soft: V - (V_th - V_reset) where s; hard: V_reset where s. */
static inline real reset(real V, int s, const Constants *c)
{
    return s ? (c->soft_reset ? V - c->jump : c->V_reset) : V;
}

/* ---------------------------------------------------------------------------------------
 * Shared pieces of both schedules
 *
 * The per-neuron steps run over blocks of BLOCK neurons [lo, hi), every step of a block
 * before the next block, so that a block's arrays stay in the L1 cache; the result is the
 * same as whole-array steps (each neuron's operations are the same, in the same order, and
 * no step reads another neuron's values). The scatter needs all of a step's spikes and runs
 * over the whole network.
 * --------------------------------------------------------------------------------------- */

#define BLOCK 256

/* s = spike_test(V) for neurons lo .. hi-1, as flags and appended to the ascending list of
 * spiking neurons (branch-free: j is always written, n_list advances only where s). */
static void spike_flags(const real *V, int32_t lo, int32_t hi, const Constants *c, Work *w)
{
    int32_t n = w->n_list;
    for (int32_t j = lo; j < hi; j++) {
        int s = spike_test(V[j], c);
        w->s[j] = (unsigned char)s;
        w->list[n] = j;
        n += s;
    }
    w->n_list = n;
}

/* x_e, x_i += w * (synapses from the listed rows onto each neuron), summed synapse by
 * synapse: rows ascending, each row's entries in stored order, E rows into x_e, I rows into
 * x_i (the order of the oracle's sequential np.add.at). x_e, x_i are all zero on entry (the
 * step that consumes them zeroes them again). */
static void scatter(const Work *w, const Connectivity *conn, const Constants *c,
                    real *x_e, real *x_i)
{
    for (int32_t r = 0; r < w->n_list; r++) {
        int32_t row = w->list[r];
        real *x = row < c->n_exc ? x_e : x_i;
        real weight = row < c->n_exc ? c->w_e : c->w_i;
        for (int32_t p = conn->indptr[row]; p < conn->indptr[row + 1]; p++)
            x[conn->indices[p]] += weight * conn->counts[p];
    }
}

/* w->V_candidate = integrate_voltage(v, g_e, g_i) for neurons lo .. hi-1, in three loops so
 * that the two without a libm call vectorize: f and J; h = step_factor(J); v + h f. */
static void integrate_voltage_block(const real *v, const real *g_e, const real *g_i,
                                    int32_t lo, int32_t hi, const Constants *c, Work *w)
{
    for (int32_t j = lo; j < hi; j++) {
        w->f[j] = membrane_rhs(v[j], g_e[j], g_i[j], c);
        w->h[j] = membrane_jacobian(g_e[j], g_i[j], c);
    }
    if (c->exp_euler)
        for (int32_t j = lo; j < hi; j++)
            w->h[j] = step_factor(w->h[j], c);
    else
        for (int32_t j = lo; j < hi; j++)
            w->h[j] = c->dt;
    for (int32_t j = lo; j < hi; j++)
        w->V_candidate[j] = advance(v[j], w->h[j], w->f[j], c);
}

static void record(Raster *raster, int32_t k, const Work *w)
{
    if (raster->n + (size_t)w->n_list > raster->capacity) {
        size_t cap = 2 * raster->capacity;
        if (cap < raster->n + (size_t)w->n_list)
            cap = raster->n + (size_t)w->n_list;
        int32_t *grown = realloc(raster->pairs, 2 * cap * sizeof(int32_t));
        if (!grown) {
            fprintf(stderr, "coba: out of memory for %zu spikes\n", cap);
            exit(1);
        }
        raster->pairs = grown;
        raster->capacity = cap;
    }
    for (int32_t r = 0; r < w->n_list; r++) {
        raster->pairs[2 * raster->n] = k;
        raster->pairs[2 * raster->n + 1] = w->list[r];
        raster->n++;
    }
}

/* ---------------------------------------------------------------------------------------
 * schedule 'brainpy' (BrainPy 2.9's LIFRef + AlignPostProj; spikes act one step later)
 * --------------------------------------------------------------------------------------- */

/* 1. s = spike_test(V): the spikes recorded at the previous step. spike_test(V) after step
 * 7 is exactly step 7's result, so w->s and w->list already hold it; only at k = 0 is V0
 * tested here. */
static void brainpy_1_spikes(const State *st, int32_t k, const Constants *c, Work *w)
{
    if (k == 0) {
        w->n_list = 0;
        spike_flags(st->V, 0, c->n_neurons, c, w);
    }
}

/* 2. scatter s into x_e, x_i. */
static void brainpy_2_scatter(const Connectivity *conn, const Constants *c, Work *w)
{
    scatter(w, conn, c, w->x_e, w->x_i);
}

/* 3. conductances: decay, then the jump at full weight (x_e, x_i zeroed for the next step). */
static void brainpy_3_conductances(State *st, int32_t lo, int32_t hi, const Constants *c,
                                   Work *w)
{
    for (int32_t j = lo; j < hi; j++) {
        st->g_e[j] = integrate_conductance(st->g_e[j], c->tau_e, c->r_e, c->a_e, c) + w->x_e[j];
        st->g_i[j] = integrate_conductance(st->g_i[j], c->tau_i, c->r_i, c->a_i, c) + w->x_i[j];
        w->x_e[j] = 0;
        w->x_i[j] = 0;
    }
}

/* 4. reset where s. */
static void brainpy_4_reset(const State *st, int32_t lo, int32_t hi, const Constants *c,
                            Work *w)
{
    for (int32_t j = lo; j < hi; j++)
        w->v[j] = reset(st->V[j], w->s[j], c);
}

/* 5. candidate V* = integrate(v) with the new g_e, g_i. */
static void brainpy_5_candidate(const State *st, int32_t lo, int32_t hi, const Constants *c,
                                Work *w)
{
    integrate_voltage_block(w->v, st->g_e, st->g_i, lo, hi, c, w);
}

/* 6. refractory clamp: V = v where (t_k - t_last) < tau_ref, else V*. */
static void brainpy_6_refractory(State *st, real t_k, int32_t lo, int32_t hi,
                                 const Constants *c, const Work *w)
{
    for (int32_t j = lo; j < hi; j++)
        st->V[j] = (t_k - st->t_last[j]) < c->tau_ref ? w->v[j] : w->V_candidate[j];
}

/* 7. this step's spikes: spike_test(V) (into w->s, w->list); t_last = t_k there. */
static void brainpy_7_spikes(State *st, real t_k, int32_t lo, int32_t hi, const Constants *c,
                             Work *w)
{
    spike_flags(st->V, lo, hi, c, w);
    for (int32_t j = lo; j < hi; j++)
        st->t_last[j] = w->s[j] ? t_k : st->t_last[j];
}

static void step_brainpy(State *st, int32_t k, real t_k, const Connectivity *conn,
                         const Constants *c, Work *w)
{
    brainpy_1_spikes(st, k, c, w);
    brainpy_2_scatter(conn, c, w);
    w->n_list = 0;  /* step 1's list is consumed: step 7 builds this step's */
    for (int32_t lo = 0; lo < c->n_neurons; lo += BLOCK) {
        int32_t hi = lo + BLOCK < c->n_neurons ? lo + BLOCK : c->n_neurons;
        brainpy_3_conductances(st, lo, hi, c, w);
        brainpy_4_reset(st, lo, hi, c, w);  /* reads w->s[lo:hi] before step 7 rewrites it */
        brainpy_5_candidate(st, lo, hi, c, w);
        brainpy_6_refractory(st, t_k, lo, hi, c, w);
        brainpy_7_spikes(st, t_k, lo, hi, c, w);
    }
}

/* ---------------------------------------------------------------------------------------
 * schedule 'brette' (Brette et al. 2007 benchmark code; spikes act in the same step)
 * --------------------------------------------------------------------------------------- */

/* 1. V, g_e, g_i integrated one step from the old values (V' into w->V_candidate). */
static void brette_1_integrate(State *st, int32_t lo, int32_t hi, const Constants *c, Work *w)
{
    integrate_voltage_block(st->V, st->g_e, st->g_i, lo, hi, c, w);
    for (int32_t j = lo; j < hi; j++) {
        st->g_e[j] = integrate_conductance(st->g_e[j], c->tau_e, c->r_e, c->a_e, c);
        st->g_i[j] = integrate_conductance(st->g_i[j], c->tau_i, c->r_i, c->a_i, c);
    }
}

/* 2. refractory clamp: V' = V_reset where (t_k - t_last) < tau_ref. */
static void brette_2_refractory(const State *st, real t_k, int32_t lo, int32_t hi,
                                const Constants *c, Work *w)
{
    for (int32_t j = lo; j < hi; j++)
        w->V_candidate[j] = (t_k - st->t_last[j]) < c->tau_ref ? c->V_reset : w->V_candidate[j];
}

/* 3. s = spike_test(V'): the spikes recorded at step k. */
static void brette_3_spikes(int32_t lo, int32_t hi, const Constants *c, Work *w)
{
    spike_flags(w->V_candidate, lo, hi, c, w);
}

/* 4. scatter s (whole network, once every block has its spikes); g <- g + x at once. */
static void brette_4_scatter(const Connectivity *conn, const Constants *c, Work *w)
{
    scatter(w, conn, c, w->x_e, w->x_i);
}

static void brette_4_deliver(State *st, int32_t lo, int32_t hi, Work *w)
{
    for (int32_t j = lo; j < hi; j++) {
        st->g_e[j] = st->g_e[j] + w->x_e[j];
        st->g_i[j] = st->g_i[j] + w->x_i[j];
        w->x_e[j] = 0;
        w->x_i[j] = 0;
    }
}

/* 5. reset where s; t_last = t_k there. */
static void brette_5_reset(State *st, real t_k, int32_t lo, int32_t hi, const Constants *c,
                           const Work *w)
{
    for (int32_t j = lo; j < hi; j++) {
        st->V[j] = reset(w->V_candidate[j], w->s[j], c);
        st->t_last[j] = w->s[j] ? t_k : st->t_last[j];
    }
}

static void step_brette(State *st, real t_k, const Connectivity *conn, const Constants *c,
                        Work *w)
{
    w->n_list = 0;
    for (int32_t lo = 0; lo < c->n_neurons; lo += BLOCK) {
        int32_t hi = lo + BLOCK < c->n_neurons ? lo + BLOCK : c->n_neurons;
        brette_1_integrate(st, lo, hi, c, w);
        brette_2_refractory(st, t_k, lo, hi, c, w);
        brette_3_spikes(lo, hi, c, w);
    }
    brette_4_scatter(conn, c, w);
    for (int32_t lo = 0; lo < c->n_neurons; lo += BLOCK) {
        int32_t hi = lo + BLOCK < c->n_neurons ? lo + BLOCK : c->n_neurons;
        brette_4_deliver(st, lo, hi, w);
        brette_5_reset(st, t_k, lo, hi, c, w);
    }
}

/* ---------------------------------------------------------------------------------------
 * Files
 * --------------------------------------------------------------------------------------- */

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "coba: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

/* Read exactly `count` items of `size` bytes from DIR/NAME into a new buffer. */
static void *read_file(const char *dir, const char *name, size_t size, size_t count)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "coba: cannot open %s\n", path);
        exit(1);
    }
    void *buf = xmalloc(size * count);
    size_t got = fread(buf, size, count, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != count || extra) {
        fprintf(stderr, "coba: %s: expected exactly %zu items of %zu bytes\n", path, count, size);
        exit(1);
    }
    return buf;
}

static void write_file(const char *dir, const char *name, const void *buf, size_t size,
                       size_t count)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, size, count, f) != count || fclose(f) != 0) {
        fprintf(stderr, "coba: cannot write %s\n", path);
        exit(1);
    }
}

static Constants read_constants(const char *dir)
{
    int32_t *h = read_file(dir, "header.i32", sizeof(int32_t), N_HEADER);
    if (h[0] != MAGIC || h[1] != VERSION) {
        fprintf(stderr, "coba: %s/header.i32: not a version-%d coba input (or not little-endian)\n",
                dir, VERSION);
        exit(1);
    }
    if (h[2] != (int32_t)sizeof(real)) {
        fprintf(stderr, "coba: the input is %d-byte floats; this binary was compiled for %s "
                "(%zu bytes): %s\n", h[2], REAL_NAME, sizeof(real),
                sizeof(real) == 8 ? "compile with -DREAL_IS_FLOAT" : "compile without -DREAL_IS_FLOAT");
        exit(1);
    }
    Constants c;
    c.n_neurons = h[3];
    c.n_exc = h[4];
    c.n_steps = h[5];
    c.n_entries = h[6];
    c.brainpy_schedule = h[7] == 0;
    c.exp_euler = h[8] == 0;
    c.soft_reset = h[9] == 0;
    c.strict_threshold = h[10] == 1;
    c.fused_update = h[11] == 1 || h[11] == 2;
    c.xla = h[11] == 2;
    if (h[11] < 0 || h[11] > 2) {
        fprintf(stderr, "coba: arithmetic code %d: allowed 0 (ieee), 1 (fused-update), 2 (xla)\n",
                h[11]);
        exit(1);
    }
    free(h);
    if (c.fused_update && sizeof(real) != sizeof(float)) {
        fprintf(stderr, "coba: arithmetic 'fused-update' and 'xla' need float32 (compile with "
                "-DREAL_IS_FLOAT)\n");
        exit(1);
    }
    real *k = read_file(dir, "constants.real", sizeof(real), N_CONSTANTS);
    c.dt = k[0]; c.V_rest = k[1]; c.V_th = k[2]; c.V_reset = k[3]; c.tau_m = k[4];
    c.tau_ref = k[5]; c.RI_ext = k[6]; c.R_g = k[7]; c.tau_e = k[8]; c.tau_i = k[9];
    c.E_e = k[10]; c.E_i = k[11]; c.w_e = k[12]; c.w_i = k[13]; c.a_e = k[14]; c.a_i = k[15];
    c.jump = k[16]; c.r_m = k[17]; c.r_e = k[18]; c.r_i = k[19]; c.C = k[20];
    free(k);
    return c;
}

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe != 1) {
        fprintf(stderr, "coba: the file format is little-endian; this machine is not\n");
        return 1;
    }
    const char *in = argv[1], *out = argv[2];
    Constants c = read_constants(in);
    size_t n = (size_t)c.n_neurons;

    Connectivity conn;
    conn.indptr = read_file(in, "indptr.i32", sizeof(int32_t), n + 1);
    conn.indices = read_file(in, "indices.i32", sizeof(int32_t), (size_t)c.n_entries);
    conn.counts = read_file(in, "counts.real", sizeof(real), (size_t)c.n_entries);
    if (conn.indptr[0] != 0 || conn.indptr[n] != c.n_entries) {
        fprintf(stderr, "coba: indptr does not span the %d entries\n", c.n_entries);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (conn.indptr[i] > conn.indptr[i + 1]) {
            fprintf(stderr, "coba: indptr decreases at row %zu\n", i);
            return 1;
        }
    for (int32_t p = 0; p < c.n_entries; p++)
        if (conn.indices[p] < 0 || conn.indices[p] >= c.n_neurons) {
            fprintf(stderr, "coba: indices[%d] = %d out of range\n", p, conn.indices[p]);
            return 1;
        }

    State st;
    st.V = read_file(in, "V.real", sizeof(real), n);
    st.g_e = read_file(in, "g_e.real", sizeof(real), n);
    st.g_i = read_file(in, "g_i.real", sizeof(real), n);
    st.t_last = read_file(in, "t_last.real", sizeof(real), n);

    Work w;
    w.x_e = calloc(n ? n : 1, sizeof(real));  /* all zero: scatter adds into them */
    w.x_i = calloc(n ? n : 1, sizeof(real));
    if (!w.x_e || !w.x_i) {
        fprintf(stderr, "coba: out of memory\n");
        return 1;
    }
    w.v = xmalloc(n * sizeof(real));
    w.f = xmalloc(n * sizeof(real));
    w.h = xmalloc(n * sizeof(real));
    w.V_candidate = xmalloc(n * sizeof(real));
    w.s = xmalloc(n);
    w.list = xmalloc(n * sizeof(int32_t));
    w.n_list = 0;

    /* room for every neuron to spike once per 100 steps before the buffer has to grow */
    Raster raster;
    raster.capacity = n * (size_t)(c.n_steps / 100 > 1 ? c.n_steps / 100 : 1);
    raster.pairs = xmalloc(2 * raster.capacity * sizeof(int32_t));
    raster.n = 0;

    double t0 = seconds(CLOCK_MONOTONIC), cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int32_t k = 0; k < c.n_steps; k++) {
        real t_k = (real)k * c.dt;  /* refsim: np.arange(n_steps).astype(dtype) * dt */
        if (c.brainpy_schedule)
            step_brainpy(&st, k, t_k, &conn, &c, &w);
        else
            step_brette(&st, t_k, &conn, &c, &w);
        record(&raster, k, &w);  /* w.list: this step's spikes, ascending */
    }
    double loop_s = seconds(CLOCK_MONOTONIC) - t0;
    double cpu_s = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;

    write_file(out, "spikes.i32", raster.pairs, 2 * sizeof(int32_t), raster.n);
    write_file(out, "V.real", st.V, sizeof(real), n);
    write_file(out, "g_e.real", st.g_e, sizeof(real), n);
    write_file(out, "g_i.real", st.g_i, sizeof(real), n);
    write_file(out, "t_last.real", st.t_last, sizeof(real), n);

    printf("{\"loop_s\": %.9f, \"cpu_s\": %.9f, \"us_per_step\": %.4f, \"n_spikes\": %zu, "
           "\"n_steps\": %d, \"n_neurons\": %d, \"real\": \"%s\", \"schedule\": \"%s\"}\n",
           loop_s, cpu_s, 1e6 * loop_s / (c.n_steps ? c.n_steps : 1), raster.n, c.n_steps,
           c.n_neurons, REAL_NAME, c.brainpy_schedule ? "brainpy" : "brette");
    return 0;
}
