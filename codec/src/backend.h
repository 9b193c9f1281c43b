/* The backend interface: one network (the encoder or the decoder of a model)
 * run chunk by chunk on one backend (the CPU engine or Vulkan). The public
 * encoder and decoder (api.c) only talk to this interface.
 *
 * Encoder: the caller writes the chunk's pictures, t frames of
 * in_channels x H x W floats, into input(), then run(t): the output is the
 * latent z (t' frames of bits x h x w) and its LFQ tokens (t' x h x w).
 * Decoder: the caller writes the chunk's tokens (t latent frames of h x w
 * uint32, each < 2^bits) into input(), then run(t): the output is t'
 * decoded pictures (frames of in_channels x H x W floats, writable: the
 * caller clamps them in place). Outputs stay valid until the next run or
 * reset. The first chunk after open or reset starts from empty causal caches. */
#ifndef ARG_BACKEND_H
#define ARG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct RunOut {
    float *data;              /* encoder: z; decoder: pictures */
    const uint32_t *tokens;   /* encoder only */
    int t, c, h, w;           /* shape of data */
} RunOut;

typedef struct NetRunner NetRunner;

typedef struct NetRunnerOps {
    void *(*input)(NetRunner *r);
    int (*run)(NetRunner *r, int t, RunOut *out);
    void (*reset)(NetRunner *r);
    void (*close)(NetRunner *r);
} NetRunnerOps;

struct NetRunner {
    const NetRunnerOps *ops;
    char name[160];           /* human-readable: backend, device, settings */
};

/* in: the chunk input shape (frames of c x h x w at the coded size), max_t
 * frames per chunk. is_dec: the decoder (input tokens) or the encoder. */
int runner_open_cpu(NetRunner **out, const ArgModel *m, int is_dec, int h, int w, int max_t,
                    int n_threads, int gemm);
#ifdef ARG_HAVE_VULKAN
/* device: -1 automatic, else the index in Vulkan's enumeration order;
 * allow_cpu_device: accept a CPU implementation (lavapipe) when no GPU is
 * found. Returns -ENODEV when no usable device exists (msg says why). */
int runner_open_vulkan(NetRunner **out, const ArgModel *m, int is_dec, int h, int w, int max_t,
                       int device, int allow_cpu_device, char *msg, size_t msglen);
#endif

#endif
