#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct TpPool {
    int n;                       /* threads including the caller */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation;
    int quit;
    /* current job */
    TpFn fn;
    void *arg;
    int n_tasks;
    atomic_int next;
    int running;                 /* workers still in the current job */
};

typedef struct Worker {
    TpPool *p;
    int index;
} Worker;

static void run_tasks(TpPool *p, int thread)
{
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks)
            break;
        p->fn(p->arg, t, thread);
    }
}

static void *worker_main(void *v)
{
    Worker w = *(Worker *)v;
    free(v);
    TpPool *p = w.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, w.index);
        pthread_mutex_lock(&p->mu);
        if (--p->running == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

TpPool *tp_create(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    TpPool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    if (n_threads > 1) {
        p->th = calloc((size_t)n_threads - 1, sizeof(pthread_t));
        if (!p->th) {
            tp_destroy(p);
            return NULL;
        }
        for (int i = 1; i < n_threads; i++) {
            Worker *w = malloc(sizeof(*w));
            if (w) {
                w->p = p;
                w->index = i;
            }
            if (!w || pthread_create(&p->th[i - 1], NULL, worker_main, w) != 0) {
                free(w);
                p->n = i; /* only i-1 workers exist */
                tp_destroy(p);
                return NULL;
            }
        }
    }
    return p;
}

void tp_destroy(TpPool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->th[i - 1], NULL);
    free(p->th);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

int tp_threads(const TpPool *p)
{
    return p->n;
}

void tp_run(TpPool *p, int n_tasks, TpFn fn, void *arg)
{
    if (n_tasks <= 0)
        return;
    if (p->n == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    p->running = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->running > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int tp_ncores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}
