/*
 * ARG — neural video codec: public API of libarg.
 *
 * A model (safetensors, spec/model-format.md) holds a MAGVIT-v2 style causal
 * video tokenizer. An encoder turns pictures into latent frames of tokens; a
 * decoder turns latent frames back into pictures. Both stream: the first
 * latent frame of a sequence covers one picture, each later one covers
 * `temporal_factor` pictures, and memory does not grow with the length.
 *
 * All functions return 0 or a positive count on success and a negative errno
 * value on failure; -EAGAIN from a get call means "send more input first".
 */
#ifndef ARG_ARG_H
#define ARG_ARG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(ARG_BUILDING_DLL)
#    define ARG_API __declspec(dllexport)
#  else
#    define ARG_API
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define ARG_API __attribute__((visibility("default")))
#else
#  define ARG_API
#endif

#define ARG_VERSION_MAJOR 0
#define ARG_VERSION_MINOR 1
#define ARG_VERSION_PATCH 0

ARG_API const char *arg_version(void);

/* ---------------------------------------------------------------- model */

typedef struct ArgModel ArgModel;

typedef struct ArgModelInfo {
    char name[64];            /* metadata "name", or "" */
    uint64_t id;              /* XXH3-64 of the data section (spec §6) */
    int in_channels;          /* 3 for RGB */
    int lfq_bits;             /* bits per token */
    int temporal_factor;      /* pictures per latent frame after the first */
    int spatial_factor;       /* pixels per token side */
    int clip_frames;          /* >0: fixed clips (whole-clip GroupNorm); 0: streams */
    int64_t enc_params;       /* parameter counts */
    int64_t dec_params;
    double enc_macs_per_pixel; /* multiply-adds per input pixel, steady state */
    double dec_macs_per_pixel;
    char config_json[2048];   /* the configuration as stored (truncated if longer) */
} ArgModelInfo;

/* Load a model file. On failure returns a negative errno and, when err is
 * not NULL, writes a message naming the problem into err. */
ARG_API int arg_model_load(ArgModel **out, const char *path, char *err, size_t errlen);
ARG_API int arg_model_load_memory(ArgModel **out, const void *data, size_t size,
                                  char *err, size_t errlen);
ARG_API void arg_model_free(ArgModel *model);
ARG_API const ArgModelInfo *arg_model_info(const ArgModel *model);

/* ------------------------------------------------------------- settings */

enum ArgGemm {
    ARG_GEMM_AUTO = 0,     /* OpenBLAS when built with it (faster in argbench), else builtin */
    ARG_GEMM_REFERENCE,    /* the plain-C reference kernels (slow, for testing) */
    ARG_GEMM_BUILTIN,      /* blocked, vectorised in-tree GEMM */
    ARG_GEMM_BLAS,         /* OpenBLAS sgemm (-ENOTSUP when built without it) */
};

enum ArgBackend {
    ARG_BACKEND_AUTO = 0,  /* a Vulkan GPU (discrete, integrated or virtual) when a usable one
                              exists, else the CPU; the environment variable ARG_BACKEND
                              (cpu | vulkan | auto) overrides this default */
    ARG_BACKEND_CPU,       /* the C engine */
    ARG_BACKEND_VULKAN,    /* Vulkan compute on any usable device, software ones (Mesa's
                              lavapipe) included; without one, the CPU, saying so in one line
                              on stderr */
};

typedef struct ArgSettings {
    int n_threads;         /* 0 = one per online core (CPU backend) */
    int gemm;              /* enum ArgGemm (CPU backend) */
    int backend;           /* enum ArgBackend */
    int device;            /* Vulkan device: 0 = automatic (the environment variable ARG_DEVICE=N,
                              else discrete before integrated before virtual before CPU);
                              N > 0 = the device numbered N-1 in Vulkan's enumeration order
                              (vulkaninfo's GPU0, GPU1, ...) */
    int reserved[28];      /* must be zero */
} ArgSettings;

ARG_API void arg_default_settings(ArgSettings *s);

/* ------------------------------------------------------------- pictures */

/* Planar float RGB in [-1, 1]: plane c starts at data + c * plane_stride,
 * row y of it at + y * stride (both in floats). */
typedef struct ArgPicture {
    float *data;
    int width, height;
    ptrdiff_t stride;        /* floats between rows */
    ptrdiff_t plane_stride;  /* floats between planes */
} ArgPicture;

/* One latent frame of tokens: a tokens_h x tokens_w grid, row-major. */
typedef struct ArgTokens {
    uint32_t *tokens;        /* tokens_w * tokens_h entries, owned by the codec */
    float *latent;           /* lfq_bits planes of tokens_w * tokens_h, the
                                encoder's z before quantisation (NULL in decoder) */
    int tokens_w, tokens_h;
    int index;               /* latent frame index since the last reset */
    int n_pictures;          /* pictures this latent frame stands for (1..ft);
                                fewer than ft only at the end of a stream */
} ArgTokens;

/* -------------------------------------------------------------- encoder */

typedef struct ArgEncoder ArgEncoder;

/* width/height: the picture size; any size >= 1 (padded internally by edge
 * replication to a multiple of spatial_factor, cropped back on decode). */
ARG_API int arg_encoder_open(ArgEncoder **out, const ArgModel *model,
                             const ArgSettings *s, int width, int height);
ARG_API void arg_encoder_close(ArgEncoder *enc);
/* Send one picture (copied). Returns -EAGAIN while a finished latent frame
 * waits to be fetched with arg_encoder_get_tokens. */
ARG_API int arg_encoder_send_picture(ArgEncoder *enc, const ArgPicture *pic);
/* End of stream (or of a GOP): pad the last group (repeating the last
 * picture) so that get_tokens returns it, and start a new sequence: the next
 * picture begins a keyframe with empty causal caches. -EAGAIN while latent
 * frames wait to be fetched. */
ARG_API int arg_encoder_flush(ArgEncoder *enc);
/* Fetch the next latent frame; -EAGAIN when none is ready. The buffers stay
 * valid until the next call on the encoder. */
ARG_API int arg_encoder_get_tokens(ArgEncoder *enc, ArgTokens *out);
/* Start a new independent sequence (a keyframe): empties the causal caches. */
ARG_API void arg_encoder_reset(ArgEncoder *enc);
/* The backend the encoder runs on, e.g. "cpu (avx512 (6x32), 2 threads)" or
 * "vulkan: NVIDIA H100 (discrete GPU)". Valid while the encoder is open. */
ARG_API const char *arg_encoder_backend(const ArgEncoder *enc);

/* -------------------------------------------------------------- decoder */

typedef struct ArgDecoder ArgDecoder;

ARG_API int arg_decoder_open(ArgDecoder **out, const ArgModel *model,
                             const ArgSettings *s, int width, int height);
ARG_API void arg_decoder_close(ArgDecoder *dec);
/* Send one latent frame: tok->tokens (tokens_w x tokens_h must match) and
 * tok->n_pictures (how many pictures to output from it). Returns -EAGAIN
 * while decoded pictures wait to be fetched. */
ARG_API int arg_decoder_send_tokens(ArgDecoder *dec, const ArgTokens *tok);
/* End of stream. Fixed-clip models need whole clips (the encoder always
 * emits them): -EINVAL if a partial clip is pending. */
ARG_API int arg_decoder_flush(ArgDecoder *dec);
/* Fetch the next decoded picture (width x height, values clamped to
 * [-1, 1]); -EAGAIN when none is ready. Valid until the next call. */
ARG_API int arg_decoder_get_picture(ArgDecoder *dec, ArgPicture *out);
ARG_API void arg_decoder_reset(ArgDecoder *dec);
/* The backend the decoder runs on (as arg_encoder_backend). */
ARG_API const char *arg_decoder_backend(const ArgDecoder *dec);

/* ----------------------------------------------------------- utilities */

/* XXH3-64 (seed 0) of a buffer, as used for model IDs and conformance. */
ARG_API uint64_t arg_hash64(const void *data, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* ARG_ARG_H */
