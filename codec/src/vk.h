/* Vulkan runtime of the compute backend: instance and device selection,
 * buffers (with device addresses), compute pipelines from the embedded
 * SPIR-V with specialisation constants, a pipeline cache file, command
 * buffers, timestamps. See spec/vulkan.md. */
#ifndef ARG_VK_H
#define ARG_VK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

enum VkShaderId {
    SH_CONV,
    SH_CONV_UBO,
    SH_GN_SUM,
    SH_GN_SQ,
    SH_GN_FINAL,
    SH_GN_FINAL_ADAPTIVE,
    SH_GN_APPLY,
    SH_D2S,
    SH_S2D,
    SH_LFQ,
    SH_DEQUANT,
    SH_STYLE,
    SH_COUNT
};

typedef struct VkShaderCode {
    const char *name;
    const uint32_t *code;
    size_t size;     /* bytes */
} VkShaderCode;

extern const VkShaderCode vk_shader_code[SH_COUNT];

#define VK_MAX_SPEC 16

typedef struct VkPipeEntry {
    int shader;
    int nspec;
    int32_t spec[VK_MAX_SPEC];
    VkPipeline pipe;
} VkPipeEntry;

typedef struct VkCtx {
    VkInstance inst;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    int index;                        /* in the enumeration order */
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memprops;
    int uma;                          /* device memory is host-visible: map it, no staging */
    int mt_device, mt_upload, mt_readback;
    int timestamps;                   /* the queue writes timestamps */
    double ts_ns;                     /* nanoseconds per timestamp tick */
    uint32_t max_groups[3];
    VkDescriptorSetLayout wlayout;    /* set 0: the weights as a dynamic uniform buffer */
    VkPipelineLayout layout;
    int conv_ubo;                     /* convolutions use the uniform-buffer variant */
    int wide_tiles;                   /* tiled convolutions use BN = 128 (GPUs) */
    VkShaderModule modules[SH_COUNT];
    VkPipelineCache pcache;
    char cache_path[1024];
    int new_pipelines;
    VkPipeEntry *pipes;
    int npipes, cappipes;
    pthread_mutex_t lock;             /* pipelines and queue submissions */
    int refs;
    VkDebugUtilsMessengerEXT messenger;
    char name[160];
} VkCtx;

typedef struct VkBuf {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceAddress addr;
    void *map;                        /* host pointer when host-visible */
    VkDeviceSize size;
} VkBuf;

enum { VKB_DEVICE, VKB_UPLOAD, VKB_READBACK };

/* A descriptor set that binds a buffer as set 0's dynamic uniform buffer
 * (VK_UBO_RANGE bytes from a dynamic offset). */
#define VK_UBO_RANGE 65536
typedef struct VkWSet {
    VkDescriptorPool pool;
    VkDescriptorSet set;
} VkWSet;

int vkctx_wset(VkCtx *c, const VkBuf *b, VkWSet *ws);
void vkctx_wset_free(VkCtx *c, VkWSet *ws);

typedef struct VkCmd {
    VkCommandPool pool;
    VkCommandBuffer cb;
    VkFence fence;
} VkCmd;

/* A context for the device: device >= 0 is an index in the enumeration
 * order; -1 picks the best usable one (discrete, integrated, virtual, then
 * CPU implementations if allow_cpu). Contexts are shared within a process
 * (reference counted). Returns -ENODEV with a reason in msg when no usable
 * device exists. */
int vkctx_get(VkCtx **out, int device, int allow_cpu, char *msg, size_t msglen);
void vkctx_put(VkCtx *c);

/* Lists the devices, one line each, into buf; returns their count or a
 * negative errno. */
int vk_list_devices(char *buf, size_t len);

/* Number of validation-layer messages (errors and warnings) seen so far;
 * the layer is enabled by ARG_VK_VALIDATION=1 when installed. Returns -1 when
 * validation is not active. */
int vk_validation_messages(void);

int vkbuf_alloc(VkCtx *c, VkBuf *b, size_t size, int kind);
void vkbuf_free(VkCtx *c, VkBuf *b);
/* Copy host data to / from a buffer (through a staging buffer when the
 * buffer is not host-visible). */
int vkbuf_write(VkCtx *c, VkBuf *b, size_t off, const void *data, size_t size);
int vkbuf_read(VkCtx *c, VkBuf *b, size_t off, void *data, size_t size);

/* The pipeline of a shader with specialisation constants (ids 0..nspec-1),
 * created on first use and kept in the context. */
VkPipeline vkctx_pipeline(VkCtx *c, int shader, const int32_t *spec, int nspec);

int vkcmd_init(VkCtx *c, VkCmd *cmd);
void vkcmd_free(VkCtx *c, VkCmd *cmd);
/* Submit cmd->cb and wait for it. */
int vkcmd_submit_wait(VkCtx *c, VkCmd *cmd);

/* A global memory barrier between compute / transfer commands. */
void vk_barrier(VkCommandBuffer cb);

#endif
