/* A fixed pool of worker threads running indexed tasks (the caller helps). */
#ifndef ARG_THREADPOOL_H
#define ARG_THREADPOOL_H

typedef struct TpPool TpPool;
/* fn(arg, task index, thread index in [0, n_threads)) */
typedef void (*TpFn)(void *arg, int task, int thread);

/* n_threads >= 1 (the caller counts as one). Returns NULL on failure. */
TpPool *tp_create(int n_threads);
void tp_destroy(TpPool *p);
int tp_threads(const TpPool *p);
/* Run fn for task = 0..n_tasks-1 over all threads; returns when all are done. */
void tp_run(TpPool *p, int n_tasks, TpFn fn, void *arg);
/* Number of online cores. */
int tp_ncores(void);

#endif
