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
#include "ckernels.h"

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

typedef struct {
    const ck_product *products;
    int count;
    int n_tokens;
} batch_job;

static void batch_part(void *raw, int part, int parts) {
    const batch_job *j = (const batch_job *)raw;
    for (int i = 0; i < j->count; i++) {
        const ck_product *m = &j->products[i];
        // Contiguous row ranges; boundaries on multiples of 4 rows keep every part's
        // rows in whole register tiles of the matrix-matrix kernel.
        int quads = (m->rows + 3) / 4;
        int lo = (int)((long)quads * part / parts) * 4;
        int hi = (int)((long)quads * (part + 1) / parts) * 4;
        if (hi > m->rows) hi = m->rows;
        if (lo < hi) ck_matmul_rows(m->dtype, m->W, m->cols, m->X, m->ldx, j->n_tokens, m->Y, m->ldy, lo, hi);
    }
}

void ck_pool_matmul_batch(ck_pool *p, const ck_product *products, int count, int n_tokens, int min_rows_per_part) {
    long rows = 0;
    for (int i = 0; i < count; i++) rows += products[i].rows;
    batch_job job = {products, count, n_tokens};
    int threads = ck_pool_threads(p);
    long parts = rows / (min_rows_per_part < 1 ? 1 : min_rows_per_part);
    if (parts > threads) parts = threads;
    if (parts < 1) parts = 1;
    ck_pool_run(p, batch_part, &job, (int)parts);
}

void ck_pool_matmul(ck_pool *p, int dtype, const void *W, int rows, int cols, const float *X, int ldx,
                    int n_tokens, float *Y, int ldy, int min_rows_per_part) {
    ck_product one = {dtype, W, rows, cols, X, ldx, Y, ldy};
    ck_pool_matmul_batch(p, &one, 1, n_tokens, min_rows_per_part);
}
