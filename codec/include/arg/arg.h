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
    ARG_GEMM_AUTO = 0,     /* the fastest by argbench --table: the encoder the builtin GEMM, the
                              decoder int8 on CPUs with AVX2 or AVX-512 VNNI (else builtin) */
    ARG_GEMM_REFERENCE,    /* the plain-C reference kernels (slow, for testing) */
    ARG_GEMM_BUILTIN,      /* blocked, vectorised in-tree GEMM */
    ARG_GEMM_BLAS,         /* OpenBLAS sgemm (-ENOTSUP when built without it) */
    ARG_GEMM_INT8,         /* convolutions in int8 with int32 sums (AVX-512 VNNI, AVX2 or C),
                              the same results on every CPU: decoder pixels within
                              spec/precision.md's tolerance of the float path; an int8
                              encoder is about 3.8x faster, its tokens differ from the float
                              encoder's (same quality and rate, spec/precision.md). AUTO
                              decodes with it on AVX2/VNNI CPUs and never encodes with it */
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
    int gop_latents;       /* encoder: latent frames per GOP (1..65535); 0 = ARG_GOP_DEFAULT;
                              ARG_GOP_NONE: one sequence until arg_encoder_flush/reset.
                              Fixed-clip models always use one clip per GOP. */
    int reserved[27];      /* must be zero */
} ArgSettings;

#define ARG_GOP_DEFAULT 8
#define ARG_GOP_NONE (-1)

ARG_API void arg_default_settings(ArgSettings *s);

/* ------------------------------------------------------------- pictures */

/* Planar float RGB in [-1, 1]: plane c starts at data + c * plane_stride,
 * row y of it at + y * stride (both in floats). */
typedef struct ArgPicture {
    float *data;
    int width, height;
    ptrdiff_t stride;        /* floats between rows */
    ptrdiff_t plane_stride;  /* floats between planes */
    int64_t pts;             /* decoder output: picture number in the stream (from the
                                packet's pts); ignored on input */
} ArgPicture;

/* 8-bit Y'CbCr pictures, planar. Conventions (the same as the Y4M tools):
 * with Kr, Kb = 0.299, 0.114 (BT.601) or 0.2126, 0.0722 (BT.709),
 * Kg = 1 - Kr - Kb and r, g, b = (R + 1) / 2 in [0, 1] (R, G, B being the
 * float picture's values):
 *   Y' = Kr r + Kg g + Kb b,  Pb = (b - Y') / (2 (1 - Kb)),  Pr = (r - Y') / (2 (1 - Kr))
 *   limited range: Y = 16 + 219 Y', Cb = 128 + 224 Pb, Cr = 128 + 224 Pr
 *   full range:    Y = 255 Y',      Cb = 128 + 255 Pb, Cr = 128 + 255 Pr
 * rounded half up and clamped to 0..255; the inverse is exact and clamps to
 * [-1, 1]. Chroma siting, in luma units, of chroma sample (i, j):
 *   ARG_CHROMA_420       x = 2i + 0.5, y = 2j + 0.5 (centred: JPEG, MPEG-1, Y4M "420jpeg")
 *   ARG_CHROMA_420_LEFT  x = 2i,       y = 2j + 0.5 (MPEG-2, H.264/HEVC default, Y4M "420mpeg2")
 *   ARG_CHROMA_420_PALDV x = 2i; Cb at y = 2j + 1, Cr at y = 2j (Y4M "420paldv")
 *   ARG_CHROMA_422       x = 2i,       y = j
 *   ARG_CHROMA_444       x = i,        y = j
 * YUV -> RGB upsamples chroma bilinearly at those positions (edges
 * repeated), or takes the nearest block's sample when nearest_chroma is set;
 * RGB -> YUV averages Pb/Pr over each 2x2 / 2x1 block (a box filter) before
 * rounding. Subsampled planes are ceil(width / 2) (x ceil(height / 2) for
 * 4:2:0) samples. */
enum ArgChroma {
    ARG_CHROMA_420 = 0,
    ARG_CHROMA_420_LEFT,
    ARG_CHROMA_420_PALDV,
    ARG_CHROMA_422,
    ARG_CHROMA_444,
};

enum ArgMatrix { ARG_MATRIX_BT601 = 0, ARG_MATRIX_BT709 };

typedef struct ArgPictureYUV {
    uint8_t *data[3];        /* Y, Cb, Cr planes (owned by the caller) */
    ptrdiff_t stride[3];     /* bytes between rows */
    int width, height;       /* of the luma plane */
    int chroma;              /* enum ArgChroma */
    int matrix;              /* enum ArgMatrix */
    int full_range;          /* 0: limited (16-235/240), 1: full (0-255) */
    int nearest_chroma;      /* YUV -> RGB: 0 = bilinear chroma upsampling, 1 = nearest */
    int64_t pts;             /* as ArgPicture.pts */
} ArgPictureYUV;

/* Plane sizes of a YUV layout: w[3], h[3]. Returns 0 or -EINVAL. */
ARG_API int arg_yuv_plane_sizes(int chroma, int width, int height, int w[3], int h[3]);
/* Convert between the two picture kinds (same width and height; the
 * destination's buffers are the caller's). Return 0, -EINVAL or -ENOMEM. */
ARG_API int arg_yuv_to_rgb(const ArgPictureYUV *in, ArgPicture *out);
ARG_API int arg_rgb_to_yuv(const ArgPicture *in, ArgPictureYUV *out);

/* One latent frame of tokens: a tokens_h x tokens_w grid, row-major. */
typedef struct ArgTokens {
    uint32_t *tokens;        /* tokens_w * tokens_h entries, owned by the codec */
    float *latent;           /* lfq_bits planes of tokens_w * tokens_h, the
                                encoder's z before quantisation (NULL in decoder) */
    int tokens_w, tokens_h;
    int index;               /* latent frame index since the last reset */
    int n_pictures;          /* pictures this latent frame stands for (1..ft);
                                fewer than ft only at the end of a stream */
    int keyframe;            /* the first latent frame of a GOP (empty causal caches) */
} ArgTokens;

/* ------------------------------------------------------ stream layer
 *
 * An ARG stream (spec/bitstream.md) is a sequence header (Matroska's
 * CodecPrivate) and one packet per latent frame: a packet byte (keyframe
 * flag, pictures) and the range-coded tokens. GOPs are independent: a
 * keyframe packet starts empty causal caches and entropy contexts. */

#define ARG_SEQUENCE_HEADER_SIZE 80

typedef struct ArgSequenceHeader {
    uint64_t model_id;             /* XXH3-64 of the model's tensor data */
    char model_name[33];           /* up to 32 characters of [A-Za-z0-9._-] */
    int width, height;             /* picture (display) size */
    int coded_width, coded_height; /* multiples of spatial_factor */
    uint32_t fps_num, fps_den;     /* picture rate */
    uint32_t frame_count;          /* pictures in the stream; 0 = unknown */
    int temporal_factor, spatial_factor, lfq_bits;
    int matrix, range, primaries, transfer; /* ISO/IEC 23091-4 code points */
    int chroma;                    /* of the source: 420, 422 or 444 */
    int gop_latents;               /* latent frames per GOP */
    int coder, rate_max;           /* entropy coder and its parameter */
} ArgSequenceHeader;

/* What the encoder cannot know from the pictures: the picture rate and the
 * source's colour description, copied into the sequence header. */
typedef struct ArgStreamInfo {
    uint32_t fps_num, fps_den;     /* 0/0 = 25/1 */
    uint32_t frame_count;          /* 0 = unknown (the header then reports the pictures
                                      sent so far: write it again at the end) */
    int matrix;                    /* enum ArgMatrix */
    int full_range;                /* 0 limited, 1 full */
    int chroma;                    /* enum ArgChroma of the source */
    int reserved[10];              /* must be zero */
} ArgStreamInfo;

/* One coded latent frame. */
typedef struct ArgPacket {
    const uint8_t *data;           /* encoder: owned by the encoder, valid until its next call */
    size_t size;
    int64_t pts;                   /* first picture, counted from the start of the stream
                                      (decoder input: -1 = continue from the last packet) */
    int duration;                  /* pictures the packet stands for */
    int keyframe;
    ArgTokens tokens;              /* encoder output: the tokens coded in this packet */
} ArgPacket;

/* Parse and validate a sequence header. Returns 0, or -EINVAL with a
 * message in err (when not NULL). */
ARG_API int arg_parse_sequence_header(ArgSequenceHeader *h, const uint8_t *data, size_t size,
                                      char *err, size_t errlen);
/* Serialise (validating it): writes ARG_SEQUENCE_HEADER_SIZE bytes and
 * returns that count, -ENOSPC when size is smaller, -EINVAL. */
ARG_API int arg_write_sequence_header(const ArgSequenceHeader *h, uint8_t *out, size_t size);

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
/* Send one 8-bit YUV picture (converted to RGB as described above). */
ARG_API int arg_encoder_send_yuv(ArgEncoder *enc, const ArgPictureYUV *pic);
/* Describe the stream for its sequence header (before the first picture;
 * optional: the defaults are 25 pictures/s, BT.601, limited range, 4:2:0). */
ARG_API int arg_encoder_set_stream_info(ArgEncoder *enc, const ArgStreamInfo *info);
/* The sequence header of the stream (Matroska CodecPrivate): writes
 * ARG_SEQUENCE_HEADER_SIZE bytes into out and returns that count, or
 * -ENOSPC / -EINVAL. Its frame count is the stream info's, else the
 * pictures sent so far. */
ARG_API int arg_encoder_sequence_header(ArgEncoder *enc, uint8_t *out, size_t size);
ARG_API int arg_encoder_get_header(const ArgEncoder *enc, ArgSequenceHeader *h);
/* Fetch the next coded packet (one latent frame, entropy-coded; GOPs start
 * every gop_latents latent frames and after flush/reset). -EAGAIN when none
 * is ready. Use either get_packet or get_tokens on an encoder, not both. */
ARG_API int arg_encoder_get_packet(ArgEncoder *enc, ArgPacket *out);
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

/* Open a decoder for a stream from its sequence header. model NULL gives a
 * token-only decoder (packets -> tokens, no picture network). A model whose
 * ID differs from the header's is refused (-EINVAL, err names both) unless
 * flags has ARG_DECODER_IGNORE_MODEL_ID; a model whose token structure
 * (bits, factors) differs is always refused. s may be NULL. */
#define ARG_DECODER_IGNORE_MODEL_ID 1u
ARG_API int arg_decoder_open_stream(ArgDecoder **out, const ArgModel *model, const ArgSettings *s,
                                    const uint8_t *seq_header, size_t size, unsigned flags,
                                    char *err, size_t errlen);
/* The stream's sequence header (decoders opened with open_stream). */
ARG_API int arg_decoder_get_header(const ArgDecoder *dec, ArgSequenceHeader *h);
/* Send one packet. A keyframe packet starts a new GOP; packets before the
 * first keyframe (after opening, or after a corrupt packet) are dropped and
 * 1 is returned. -EAGAIN while decoded pictures (or, for a token-only
 * decoder, the previous packet's tokens) wait to be fetched; -EBADMSG for a
 * corrupt packet (the decoder then waits for the next keyframe). */
ARG_API int arg_decoder_send_packet(ArgDecoder *dec, const ArgPacket *pkt);
/* The tokens of the last packet sent (once; -EAGAIN otherwise). Fetching
 * them is required on a token-only decoder and optional otherwise; tokens
 * stay valid until the next call on the decoder. */
ARG_API int arg_decoder_get_tokens(ArgDecoder *dec, ArgTokens *out);
/* Fetch the next picture converted into the caller's YUV buffers: set
 * out->data, stride, chroma, matrix and full_range first (width and height
 * must be the stream's). -EAGAIN when none is ready. */
ARG_API int arg_decoder_get_yuv(ArgDecoder *dec, ArgPictureYUV *out);

/* ------------------------------------------------------- token coder
 *
 * The entropy coder alone (spec/bitstream.md "Token coding"), for tools
 * that measure or transcode tokens: codes one latent frame of tokens
 * (payload only, without the packet byte) with the contexts carried from
 * the previous frame of the GOP. */

typedef struct ArgTokenCoder ArgTokenCoder;

#define ARG_TOKEN_MAX_BITS 24                    /* bits per token */
#define ARG_TOKEN_MAX_DIM 8192                   /* tokens per side */
#define ARG_TOKEN_MAX_COUNT ((size_t)1 << 22)    /* tokens per latent frame */
#define ARG_CODER_RATE_MAX_DEFAULT 5             /* the entropy coder's adaptation limit */
#define ARG_CODER_RATE_MAX_LIMIT 8

/* bits 1..24, grid up to 8192 x 8192 tokens, rate_max 0 = default. */
ARG_API int arg_token_coder_open(ArgTokenCoder **out, int bits, int tokens_w, int tokens_h,
                                 int rate_max);
ARG_API void arg_token_coder_close(ArgTokenCoder *c);
/* Encode one latent frame; keyframe resets the contexts and forgets the
 * previous frame. *data (owned by the coder) is valid until the next call.
 * bit_cost (lfq_bits entries, may be NULL) accumulates the estimated cost of
 * each bit position in 1/8 bits. Returns 0 or a negative errno. */
ARG_API int arg_token_coder_encode(ArgTokenCoder *c, const uint32_t *tokens, int keyframe,
                                   const uint8_t **data, size_t *size, uint64_t *bit_cost);
/* Decode one latent frame into tokens (tokens_w * tokens_h). -EBADMSG when
 * the data is not exactly one coded frame (the state is then undefined
 * until the next keyframe). */
ARG_API int arg_token_coder_decode(ArgTokenCoder *c, const uint8_t *data, size_t size,
                                   int keyframe, uint32_t *tokens);

/* ----------------------------------------------------------- utilities */

/* XXH3-64 (seed 0) of a buffer, as used for model IDs and conformance. */
ARG_API uint64_t arg_hash64(const void *data, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* ARG_ARG_H */
