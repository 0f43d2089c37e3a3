// A persistent pool of worker threads for the matrix products (see ckernels.h).
//
// Generation runs about a hundred matrix-vector products per token, each a few
// tens of microseconds long, so waking a sleeping thread for each of them (a
// condition variable costs 5–50 µs to wake on a busy machine) would eat the gain
// of a second core. Workers therefore spin on a generation counter for a while
// after each job and only then sleep on a condition variable; a caller that
// publishes a job wakes sleepers only when there are any.
//
// Jobs are split statically: worker k runs part k, the caller runs part 0. The
// parts never share an output, so the results do not depend on the thread count.
#include "ck_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax(void) { __asm__ __volatile__("yield"); }
#else
static inline void cpu_relax(void) {}
#endif

// About a millisecond of spinning on current x86 cores: long enough to bridge the
// gaps between the products of one token and between tokens, short enough that an
// idle chat does not keep a core busy.
// With more threads than cores, a spinning thread takes the core that the thread
// it waits for needs, so oversubscribed pools barely spin and the waiting caller
// yields its core.
enum { SPIN_LIMIT = 20000, SPIN_LIMIT_OVERSUBSCRIBED = 64 };

struct ck_pool {
    int threads;
    pthread_t *workers;  // [threads − 1]
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_mutex_t run_lock;  // one job at a time
    _Atomic unsigned generation;
    _Atomic int sleepers;
    _Atomic int pending;
    _Atomic int stop;
    ck_task_fn fn;
    void *ctx;
    int parts;
    int spin_limit;
};

typedef struct {
    ck_pool *pool;
    int index;
} worker_arg;

static void *worker_main(void *raw) {
    worker_arg arg = *(worker_arg *)raw;
    free(raw);
    ck_pool *p = arg.pool;
    // Generation 0 is the pool's state at creation. Reading the counter here instead
    // would miss a job published before this thread got to run.
    unsigned seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            if (++spins < p->spin_limit) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->lock);
            atomic_fetch_add(&p->sleepers, 1);
            // Re-checked after announcing ourselves, so a job published between the
            // spin and the wait is never missed (the publisher reads `sleepers` after
            // bumping `generation`, both sequentially consistent).
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->lock);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->lock);
            spins = 0;
        }
        seen = atomic_load(&p->generation);
        if (atomic_load(&p->stop)) return NULL;
        if (arg.index < p->parts) p->fn(p->ctx, arg.index, p->parts);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

ck_pool *ck_pool_create(int threads) {
    ck_pool *p = calloc(1, sizeof(ck_pool));
    if (!p) return NULL;
    p->threads = threads < 1 ? 1 : threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    p->spin_limit = (cores > 0 && p->threads > cores) ? SPIN_LIMIT_OVERSUBSCRIBED : SPIN_LIMIT;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_mutex_init(&p->run_lock, NULL);
    if (p->threads > 1) {
        p->workers = calloc((size_t)p->threads - 1, sizeof(pthread_t));
        for (int k = 1; k < p->threads; k++) {
            worker_arg *arg = malloc(sizeof(worker_arg));
            if (!p->workers || !arg || pthread_create(&p->workers[k - 1], NULL, worker_main, (arg->pool = p, arg->index = k, arg)) != 0) {
                // Fewer threads than asked is still correct (the split is static per
                // thread count, so shrink the count before any job runs).
                free(arg);
                p->threads = k;
                break;
            }
        }
    }
    return p;
}

void ck_pool_destroy(ck_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int k = 1; k < p->threads; k++) pthread_join(p->workers[k - 1], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->run_lock);
    free(p->workers);
    free(p);
}

int ck_pool_threads(const ck_pool *p) { return p ? p->threads : 1; }

void ck_pool_run(ck_pool *p, ck_task_fn fn, void *ctx, int parts) {
    if (parts <= 0) return;
    // A pool runs one job at a time. A second caller (another thread sharing the
    // model, or a job started from inside a job) runs its parts itself instead of
    // waiting, which cannot deadlock and gives the same results.
    if (!p || p->threads == 1 || parts == 1 || pthread_mutex_trylock(&p->run_lock) != 0) {
        for (int i = 0; i < parts; i++) fn(ctx, i, parts);
        return;
    }
    // More parts than threads: the caller runs the parts no worker owns.
    int workers = p->threads - 1;
    p->fn = fn;
    p->ctx = ctx;
    p->parts = parts;
    atomic_store(&p->pending, workers);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    fn(ctx, 0, parts);
    for (int i = p->threads; i < parts; i++) fn(ctx, i, parts);
    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spins++) {
        if (spins < p->spin_limit)
            cpu_relax();
        else
            sched_yield();
    }
    pthread_mutex_unlock(&p->run_lock);
}

// ---------------------------------------------------------------- parallel matrix products
//
// A batch's products are laid end to end as one run of 4-row "quads" (4 rows keep
// every part in whole register tiles of the matrix-matrix kernel). Each thread owns
// a contiguous stretch of about equal cost and works through it from the front, a
// few quads per claim; a thread that finishes early takes small pieces from the back
// of another's stretch. The static stretches keep each thread streaming contiguous
// memory (cutting every row range into shared chunks was slower: each chunk restarts
// the hardware prefetcher), and the stealing absorbs what a static split cannot: a
// core that is slower this millisecond, or busy with another program. Every row is
// still computed whole, in the kernel's fixed order, by whichever thread claims it,
// so the results do not depend on the thread count or on who ran what.

enum {
    OWN_QUADS = 16,   // quads a thread claims at a time from its own stretch
    STOLEN_QUADS = 4  // quads taken at a time from another thread's stretch
};

typedef struct {
    // The unclaimed quads [front, back) of one stretch: front in the low 32 bits,
    // back in the high 32, so that one compare-and-swap claims from either end.
    _Alignas(64) _Atomic uint64_t span;
} stretch;

typedef struct {
    const ck_product *products;
    int count;
    int n_tokens;
    const int_acts *acts;   // [count]: the integer activations of the quantized products
    const rowlane_inputs *xp;  // [count]: the row-lane inputs of the float products (data NULL: none)
    const int *first_quad;  // [count + 1]: product i holds quads [first_quad[i], first_quad[i + 1])
    stretch *stretches;     // [parts]
} batch_job;

// Runs the rows of quads [qa, qb) of the batch, product by product.
static void run_quads(const batch_job *j, int qa, int qb) {
    for (int i = 0; i < j->count && qa < qb; i++) {
        int start = j->first_quad[i], end = j->first_quad[i + 1];
        if (qa >= end) continue;
        if (qb <= start) break;
        const ck_product *m = &j->products[i];
        int lo = ((qa > start ? qa : start) - start) * 4;
        int hi = ((qb < end ? qb : end) - start) * 4;
        if (hi > m->rows) hi = m->rows;
        if (lo >= hi) continue;
        product_rows(m, is_quantized(m->dtype) ? &j->acts[i] : NULL, &j->xp[i], j->n_tokens, lo, hi);
    }
}

// Claims up to `quads` quads from the front (or the back) of a stretch into [*qa, *qb).
static int claim(stretch *s, int quads, int from_back, int *qa, int *qb) {
    uint64_t span = atomic_load_explicit(&s->span, memory_order_relaxed);
    for (;;) {
        uint32_t front = (uint32_t)span, back = (uint32_t)(span >> 32);
        if (front >= back) return 0;
        uint32_t take = back - front < (uint32_t)quads ? back - front : (uint32_t)quads;
        uint64_t next = from_back ? ((uint64_t)(back - take) << 32) | front : ((uint64_t)back << 32) | (front + take);
        if (atomic_compare_exchange_weak_explicit(&s->span, &span, next, memory_order_relaxed, memory_order_relaxed)) {
            *qa = (int)(from_back ? back - take : front);
            *qb = (int)(from_back ? back : front + take);
            return 1;
        }
    }
}

// Test hooks: workers that start late (so that the caller must steal), and a count of stolen quads.
static _Atomic int g_delay_workers;
static _Atomic long g_stolen_quads;

void ck_pool_test_delay_workers(int on) { atomic_store(&g_delay_workers, on); }

long ck_pool_stolen_quads(void) { return atomic_load(&g_stolen_quads); }

static void batch_part(void *raw, int part, int parts) {
    const batch_job *j = (const batch_job *)raw;
    if (part > 0 && atomic_load_explicit(&g_delay_workers, memory_order_relaxed)) usleep(5000);
    int qa, qb;
    while (claim(&j->stretches[part], OWN_QUADS, 0, &qa, &qb)) run_quads(j, qa, qb);
    // Own stretch done: help the others from the back, where their owners arrive last.
    for (int k = 1; k < parts; k++) {
        stretch *other = &j->stretches[(part + k) % parts];
        while (claim(other, STOLEN_QUADS, 1, &qa, &qb)) {
            atomic_fetch_add_explicit(&g_stolen_quads, qb - qa, memory_order_relaxed);
            run_quads(j, qa, qb);
        }
    }
}

// Cost of one row of a product: the bytes it streams for one token, the
// multiply-adds (its columns) for many.
static double row_cost(const ck_product *m, int n_tokens) {
    if (n_tokens > 1) return (double)m->cols;
    return (double)m->cols / ck_block_size(m->dtype) * (double)ck_block_bytes(m->dtype);
}

enum { MAX_BATCH = 64, STACK_PARTS = 64 };

// Every product of a batch, one after another, on the calling thread alone.
static void run_alone(const ck_product *products, int count, int n_tokens) {
    for (int i = 0; i < count; i++) {
        const ck_product *m = &products[i];
        if (!is_quantized(m->dtype)) {
            product_rows(m, NULL, NULL, n_tokens, 0, m->rows);
            continue;
        }
        // One rounding of the inputs serves all the product's rows (and panels).
        int_acts acts;
        if (round_for_call(m->dtype, m->X, m->ldx, m->cols, n_tokens, m->Y, m->ldy, 0, m->rows, &acts))
            product_rows(m, &acts, NULL, n_tokens, 0, m->rows);
    }
}

// Rounds the activations of the batch's quantized products into this thread's
// scratch, once per distinct input (products that read the same X share it). Returns
// 0 when memory runs out; the caller then runs the batch on this thread alone, where
// ck_matmul_rows reports the shortage in its outputs.
static int prepare_acts(const ck_product *products, int count, int n_tokens, int_acts *acts) {
    size_t total = 0;
    for (int i = 0; i < count; i++)
        if (is_quantized(products[i].dtype))
            total += int_acts_bytes(products[i].cols, n_tokens, acts_need_digits(products[i].dtype));
    if (total == 0) return 1;
    uint8_t *mem = (uint8_t *)int_acts_scratch(total);
    if (!mem) return 0;
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        const ck_product *m = &products[i];
        if (!is_quantized(m->dtype)) continue;
        int digits = acts_need_digits(m->dtype);
        int shared = -1;
        for (int k = 0; k < i && shared < 0; k++)
            if (is_quantized(products[k].dtype) && acts_need_digits(products[k].dtype) == digits &&
                products[k].X == m->X && products[k].ldx == m->ldx && products[k].cols == m->cols)
                shared = k;
        if (shared >= 0) {
            acts[i] = acts[shared];
            continue;
        }
        acts[i] = int_acts_prepare(m->X, m->ldx, m->cols, n_tokens, digits, mem + used);
        used += int_acts_bytes(m->cols, n_tokens, digits);
    }
    return 1;
}

// Lays out the inputs of the batch's float products that run in row-lane tiles
// (matmul_rowlanes.c) in this thread's scratch, once per distinct input, for every
// thread and claim to read; without it each claim (64 rows) would lay out all the
// tokens again. Products stored as column panels, and every product when memory runs
// out, are left unprepared (data NULL) and lay out their own, with the same results.
static void prepare_rowlanes(const ck_product *products, int count, int n_tokens, rowlane_inputs *xp) {
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        const ck_product *m = &products[i];
        xp[i].data = NULL;
        xp[i].stride = 0;
        int panelled = m->panel_cols > 0 && m->panel_cols < m->cols;
        if (!panelled && rowlane_takes(m->dtype, m->cols, n_tokens)) total += rowlane_inputs_bytes(m->cols, n_tokens);
    }
    if (total == 0) return;
    uint8_t *mem = (uint8_t *)thread_scratch(SCRATCH_BATCH_INPUTS, total);
    if (!mem) return;
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        const ck_product *m = &products[i];
        int panelled = m->panel_cols > 0 && m->panel_cols < m->cols;
        if (panelled || !rowlane_takes(m->dtype, m->cols, n_tokens)) continue;
        int shared = -1;
        for (int k = 0; k < i && shared < 0; k++)
            if (xp[k].data && products[k].X == m->X && products[k].ldx == m->ldx && products[k].cols == m->cols)
                shared = k;
        if (shared >= 0) {
            xp[i] = xp[shared];
            continue;
        }
        xp[i] = rowlane_prepare(m->X, m->ldx, m->cols, n_tokens, (float *)(mem + used));
        used += rowlane_inputs_bytes(m->cols, n_tokens);
    }
}

void ck_pool_matmul_batch(ck_pool *p, const ck_product *products, int count, int n_tokens, int min_rows_per_part) {
    if (count <= 0) return;
    long rows = 0;
    for (int i = 0; i < count; i++) rows += products[i].rows;
    int threads = ck_pool_threads(p);
    long parts = rows / (min_rows_per_part < 1 ? 1 : min_rows_per_part);
    if (parts > threads) parts = threads;
    if (parts <= 1) {
        // One thread: no claims needed.
        run_alone(products, count, n_tokens);
        return;
    }
    if (count > MAX_BATCH) {
        // An unusually long list: product by product.
        for (int i = 0; i < count; i++) ck_pool_matmul_batch(p, &products[i], 1, n_tokens, min_rows_per_part);
        return;
    }
    int first_quad[MAX_BATCH + 1];
    double total = 0;
    first_quad[0] = 0;
    for (int i = 0; i < count; i++) {
        int quads = (products[i].rows + 3) / 4;
        first_quad[i + 1] = first_quad[i] + quads;
        total += quads * row_cost(&products[i], n_tokens);
    }
    // Stretch boundaries where the running cost crosses k/parts of the total.
    stretch local[STACK_PARTS];
    stretch *stretches = parts <= STACK_PARTS ? local : aligned_alloc(64, (size_t)parts * sizeof(stretch));
    if (!stretches) {
        // Out of memory: fewer, larger parts still give the same results.
        stretches = local;
        parts = STACK_PARTS;
    }
    uint32_t bound = 0, begin = 0;
    double cost = 0;
    int i = 0;
    for (int k = 0; k < parts; k++) {
        double target = total * (k + 1) / parts;
        while (bound < (uint32_t)first_quad[count] && (k == parts - 1 || cost < target)) {
            while ((int)bound >= first_quad[i + 1]) i++;
            double step = row_cost(&products[i], n_tokens);
            if (k < parts - 1 && cost + step / 2 > target) break;
            cost += step;
            bound++;
        }
        atomic_init(&stretches[k].span, ((uint64_t)bound << 32) | begin);
        begin = bound;
    }
    // Quantized products run on integer activations (int_activations.c): round each
    // distinct input once here, rather than once per claim on every thread.
    int_acts acts[MAX_BATCH];
    if (!prepare_acts(products, count, n_tokens, acts)) {
        if (stretches != local) free(stretches);
        run_alone(products, count, n_tokens);
        return;
    }
    rowlane_inputs xp[MAX_BATCH];
    prepare_rowlanes(products, count, n_tokens, xp);
    batch_job job = {products, count, n_tokens, acts, xp, first_quad, stretches};
    ck_pool_run(p, batch_part, &job, (int)parts);
    if (stretches != local) free(stretches);
}

void ck_pool_matmul(ck_pool *p, int dtype, const void *W, int rows, int cols, const float *X, int ldx,
                    int n_tokens, float *Y, int ldy, int min_rows_per_part, int panel_cols) {
    ck_product one = {dtype, W, rows, cols, X, ldx, Y, ldy, panel_cols};
    ck_pool_matmul_batch(p, &one, 1, n_tokens, min_rows_per_part);
}
