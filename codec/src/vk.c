/* Vulkan runtime: instance, device selection, memory, pipelines, pipeline
 * cache file, command buffers. */
#include "vk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARG_PIN_DRIVERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARG_PIN_DRIVERS 1
#endif
#endif
#ifdef ARG_PIN_DRIVERS
#include <dlfcn.h>
#include <link.h>
#endif

#define MAX_DEVICES 16
#define MAX_CACHE_FILE ((size_t)256 << 20)

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static VkCtx *g_shared;
static int g_validation = -1;        /* -1: not enabled; else messages seen */

static void msgf(char *msg, size_t len, const char *fmt, ...)
{
    if (!msg || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

#ifdef ARG_PIN_DRIVERS
/* AddressSanitizer builds only: keep every loaded Vulkan driver (libvulkan_*.so)
 * mapped until exit. Mesa's lavapipe allocates a one-time table during device
 * enumeration and never frees it; while the driver stays loaded that memory is
 * still reachable, but once the loader unloads the driver LeakSanitizer reports
 * it as a leak in an unknown module, which no suppression can name. */
static int pin_driver(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    const char *base = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
    if (base && !strncmp(base + 1, "libvulkan_", 10))
        (void)dlopen(info->dlpi_name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    return 0;
}
#endif

int vk_validation_messages(void)
{
    pthread_mutex_lock(&g_lock);
    int v = g_validation;
    pthread_mutex_unlock(&g_lock);
    return v;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_cb(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                               VkDebugUtilsMessageTypeFlagsEXT type,
                                               const VkDebugUtilsMessengerCallbackDataEXT *data,
                                               void *user)
{
    (void)type;
    (void)user;
    if (sev & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) {
        pthread_mutex_lock(&g_lock);
        if (g_validation >= 0)
            g_validation++;
        pthread_mutex_unlock(&g_lock);
        fprintf(stderr, "arg: vulkan validation %s: %s\n",
                sev & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
                data && data->pMessage ? data->pMessage : "(no message)");
    }
    return VK_FALSE;
}

static int have_layer(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkLayerProperties *p = calloc(n, sizeof(*p));
    int found = 0;
    if (p && vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            found |= strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

static int have_instance_ext(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkExtensionProperties *p = calloc(n, sizeof(*p));
    int found = 0;
    if (p && vkEnumerateInstanceExtensionProperties(NULL, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            found |= strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* validate: enable the Khronos validation layer when asked and installed */
static VkResult make_instance(VkInstance *inst, int validate, int *validating)
{
    VkApplicationInfo app = { .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                              .pApplicationName = "libarg",
                              .applicationVersion = 1,
                              .pEngineName = "arg",
                              .engineVersion = 1,
                              .apiVersion = VK_API_VERSION_1_2 };
    const char *layers[1], *exts[2];
    uint32_t nl = 0, ne = 0;
    VkInstanceCreateFlags flags = 0;
    *validating = 0;
    if (validate && have_layer("VK_LAYER_KHRONOS_validation") &&
        have_instance_ext(VK_EXT_DEBUG_UTILS_EXTENSION_NAME)) {
        layers[nl++] = "VK_LAYER_KHRONOS_validation";
        exts[ne++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        *validating = 1;
    }
#ifdef VK_KHR_portability_enumeration
    if (have_instance_ext(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        exts[ne++] = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }
#endif
    VkInstanceCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                .flags = flags,
                                .pApplicationInfo = &app,
                                .enabledLayerCount = nl,
                                .ppEnabledLayerNames = layers,
                                .enabledExtensionCount = ne,
                                .ppEnabledExtensionNames = exts };
    return vkCreateInstance(&ci, NULL, inst);
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

/* Can ARG run on this device? Returns the compute queue family or -1, with
 * the reason in why. */
static int device_usable(VkPhysicalDevice pd, char *why, size_t len)
{
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);
    if (VK_API_VERSION_MAJOR(p.apiVersion) == 1 && VK_API_VERSION_MINOR(p.apiVersion) < 2) {
        msgf(why, len, "Vulkan %u.%u < 1.2", VK_API_VERSION_MAJOR(p.apiVersion), VK_API_VERSION_MINOR(p.apiVersion));
        return -1;
    }
    VkPhysicalDeviceVulkan12Features f12 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES };
    VkPhysicalDeviceFeatures2 f2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12 };
    vkGetPhysicalDeviceFeatures2(pd, &f2);
    if (!f12.bufferDeviceAddress) {
        msgf(why, len, "no bufferDeviceAddress");
        return -1;
    }
    if (p.limits.maxPushConstantsSize < 128 || p.limits.maxComputeWorkGroupInvocations < 256 ||
        p.limits.maxComputeSharedMemorySize < 16384) {
        msgf(why, len, "compute limits too small");
        return -1;
    }
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
    VkQueueFamilyProperties q[32];
    if (nq > 32)
        nq = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, q);
    int best = -1;
    for (uint32_t i = 0; i < nq; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || q[i].queueCount == 0)
            continue;
        /* prefer a family with timestamps, then a dedicated compute family */
        if (best < 0 || (q[i].timestampValidBits && !q[best].timestampValidBits))
            best = (int)i;
    }
    if (best < 0)
        msgf(why, len, "no compute queue");
    return best;
}

int vk_list_devices(char *buf, size_t len)
{
    VkInstance inst;
    int validating;
    if (len)
        buf[0] = 0;
    if (make_instance(&inst, 0, &validating) != VK_SUCCESS)
        return -ENODEV;
    uint32_t n = MAX_DEVICES;
    VkPhysicalDevice pd[MAX_DEVICES];
    if (vkEnumeratePhysicalDevices(inst, &n, pd) < 0)
        n = 0;
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pd[i], &p);
        char why[128] = "";
        int q = device_usable(pd[i], why, sizeof(why));
        if (at < len)
            at += (size_t)snprintf(buf + at, len - at, "%u: %s (%s, Vulkan %u.%u)%s%s\n", i, p.deviceName,
                                   type_name(p.deviceType), VK_API_VERSION_MAJOR(p.apiVersion),
                                   VK_API_VERSION_MINOR(p.apiVersion), q < 0 ? " unusable: " : "", why);
    }
    vkDestroyInstance(inst, NULL);
    return (int)n;
}

/* ------------------------------------------------------------ pipelines */

static void cache_path(VkCtx *c)
{
    const char *env = getenv("ARG_VK_PIPELINE_CACHE");
    c->cache_path[0] = 0;
    if (env) {
        if (*env && strcmp(env, "0") != 0)
            snprintf(c->cache_path, sizeof(c->cache_path), "%s", env);
        return;
    }
    char dir[900];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof(dir), "%s/arg", xdg);
    else if (home && home[0] == '/')
        snprintf(dir, sizeof(dir), "%s/.cache/arg", home);
    else
        return;
    snprintf(c->cache_path, sizeof(c->cache_path), "%s/vk-pipeline-cache-%04x-%04x.bin", dir,
             c->props.vendorID, c->props.deviceID);
}

/* Read the cache file if its header matches this device (the header is
 * checked here before the driver sees the data). */
static void *load_cache(VkCtx *c, size_t *size)
{
    *size = 0;
    if (!c->cache_path[0])
        return NULL;
    FILE *f = fopen(c->cache_path, "rb");
    if (!f)
        return NULL;
    void *data = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 32 &&
        (size_t)st.st_size <= MAX_CACHE_FILE) {
        data = malloc((size_t)st.st_size);
        if (data && fread(data, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
            const uint8_t *b = data;
            uint32_t hsize, hver, vendor, device;
            memcpy(&hsize, b, 4);
            memcpy(&hver, b + 4, 4);
            memcpy(&vendor, b + 8, 4);
            memcpy(&device, b + 12, 4);
            if (hsize >= 32 && hsize <= (uint32_t)st.st_size && hver == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
                vendor == c->props.vendorID && device == c->props.deviceID &&
                memcmp(b + 16, c->props.pipelineCacheUUID, VK_UUID_SIZE) == 0) {
                *size = (size_t)st.st_size;
            }
        }
        if (!*size) {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

static void mkdirs_for(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
}

/* Write the cache atomically: a temporary file in the same directory, then rename. */
static void save_cache(VkCtx *c)
{
    if (!c->cache_path[0] || !c->new_pipelines || !c->pcache)
        return;
    size_t size = 0;
    if (vkGetPipelineCacheData(c->dev, c->pcache, &size, NULL) != VK_SUCCESS || size == 0 ||
        size > MAX_CACHE_FILE)
        return;
    void *data = malloc(size);
    if (!data)
        return;
    if (vkGetPipelineCacheData(c->dev, c->pcache, &size, data) == VK_SUCCESS) {
        mkdirs_for(c->cache_path);
        char tmp[1100];
        snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", c->cache_path);
        int fd = mkstemp(tmp);
        if (fd >= 0) {
            FILE *f = fdopen(fd, "wb");
            int ok = f && fwrite(data, 1, size, f) == size;
            if (f)
                ok = fclose(f) == 0 && ok;
            else
                close(fd);
            struct stat st;
            /* replace only a regular file (or nothing) */
            int target_ok = stat(c->cache_path, &st) != 0 || S_ISREG(st.st_mode);
            if (!ok || !target_ok || rename(tmp, c->cache_path) != 0)
                unlink(tmp);
        }
    }
    free(data);
}

VkPipeline vkctx_pipeline(VkCtx *c, int shader, const int32_t *spec, int nspec)
{
    if (shader < 0 || shader >= SH_COUNT || nspec < 0 || nspec > VK_MAX_SPEC || (nspec && !spec))
        return VK_NULL_HANDLE;
    int32_t none[1] = { 0 };
    if (!nspec)
        spec = none; /* memcmp and memcpy want a pointer even for 0 bytes */
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->npipes; i++) {
        VkPipeEntry *e = &c->pipes[i];
        if (e->shader == shader && e->nspec == nspec && memcmp(e->spec, spec, (size_t)nspec * sizeof(int32_t)) == 0) {
            pthread_mutex_unlock(&c->lock);
            return e->pipe;
        }
    }
    VkSpecializationMapEntry map[VK_MAX_SPEC];
    for (int i = 0; i < nspec; i++)
        map[i] = (VkSpecializationMapEntry){ (uint32_t)i, (uint32_t)(i * 4), 4 };
    VkSpecializationInfo si = { (uint32_t)nspec, map, (size_t)nspec * 4, spec };
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                   .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                   .module = c->modules[shader],
                   .pName = "main",
                   .pSpecializationInfo = nspec ? &si : NULL },
        .layout = c->layout,
    };
    VkPipeline p = VK_NULL_HANDLE;
    if (c->npipes == c->cappipes) {
        int ncap = c->cappipes ? 2 * c->cappipes : 64;
        VkPipeEntry *n = realloc(c->pipes, (size_t)ncap * sizeof(*n));
        if (!n) {
            pthread_mutex_unlock(&c->lock);
            return VK_NULL_HANDLE;
        }
        c->pipes = n;
        c->cappipes = ncap;
    }
    if (vkCreateComputePipelines(c->dev, c->pcache, 1, &ci, NULL, &p) == VK_SUCCESS) {
        VkPipeEntry *e = &c->pipes[c->npipes++];
        memset(e, 0, sizeof(*e));
        e->shader = shader;
        e->nspec = nspec;
        memcpy(e->spec, spec, (size_t)nspec * sizeof(int32_t));
        e->pipe = p;
        c->new_pipelines++;
    } else {
        p = VK_NULL_HANDLE;
    }
    pthread_mutex_unlock(&c->lock);
    return p;
}

/* ------------------------------------------------------------- context */

static void ctx_destroy(VkCtx *c)
{
    if (!c)
        return;
    if (c->dev) {
        vkDeviceWaitIdle(c->dev);
        save_cache(c);
        for (int i = 0; i < c->npipes; i++)
            vkDestroyPipeline(c->dev, c->pipes[i].pipe, NULL);
        for (int i = 0; i < SH_COUNT; i++)
            if (c->modules[i])
                vkDestroyShaderModule(c->dev, c->modules[i], NULL);
        if (c->pcache)
            vkDestroyPipelineCache(c->dev, c->pcache, NULL);
        if (c->layout)
            vkDestroyPipelineLayout(c->dev, c->layout, NULL);
        if (c->wlayout)
            vkDestroyDescriptorSetLayout(c->dev, c->wlayout, NULL);
        vkDestroyDevice(c->dev, NULL);
    }
    if (c->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT fn =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(c->inst, "vkDestroyDebugUtilsMessengerEXT");
        if (fn)
            fn(c->inst, c->messenger, NULL);
    }
    if (c->inst)
        vkDestroyInstance(c->inst, NULL);
    free(c->pipes);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static int find_mem(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits, VkMemoryPropertyFlags want)
{
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++)
        if ((bits >> i & 1) && (mp->memoryTypes[i].propertyFlags & want) == want)
            return (int)i;
    return -1;
}

static int ctx_create(VkCtx **out, int device, int allow_cpu, char *msg, size_t msglen)
{
    VkCtx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    int validate = env_flag("ARG_VK_VALIDATION"), validating = 0;
    VkResult r = make_instance(&c->inst, validate, &validating);
    if (r != VK_SUCCESS) {
        c->inst = VK_NULL_HANDLE;
        msgf(msg, msglen, "no Vulkan driver (vkCreateInstance: %d)", (int)r);
        ctx_destroy(c);
        return -ENODEV;
    }
    if (validating) {
        PFN_vkCreateDebugUtilsMessengerEXT fn =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(c->inst, "vkCreateDebugUtilsMessengerEXT");
        VkDebugUtilsMessengerCreateInfoEXT di = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = debug_cb,
        };
        if (fn && fn(c->inst, &di, NULL, &c->messenger) == VK_SUCCESS) {
            pthread_mutex_lock(&g_lock);
            if (g_validation < 0)
                g_validation = 0;
            pthread_mutex_unlock(&g_lock);
        }
    }
    uint32_t n = MAX_DEVICES;
    VkPhysicalDevice pd[MAX_DEVICES];
    VkResult er = vkEnumeratePhysicalDevices(c->inst, &n, pd);
#ifdef ARG_PIN_DRIVERS
    dl_iterate_phdr(pin_driver, NULL);
#endif
    if (er < 0 || n == 0) {
        msgf(msg, msglen, "no Vulkan device");
        ctx_destroy(c);
        return -ENODEV;
    }
    int pick = -1, qfam = -1, best = -1;
    char why[128] = "";
    if (device >= 0) {
        if ((uint32_t)device >= n) {
            msgf(msg, msglen, "device %d does not exist (%u device%s)", device, n, n == 1 ? "" : "s");
            ctx_destroy(c);
            return -ENODEV;
        }
        qfam = device_usable(pd[device], why, sizeof(why));
        if (qfam < 0) {
            msgf(msg, msglen, "device %d is unusable: %s", device, why);
            ctx_destroy(c);
            return -ENODEV;
        }
        pick = device;
    } else {
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(pd[i], &p);
            int q = device_usable(pd[i], why, sizeof(why));
            int rank = type_rank(p.deviceType);
            if (q < 0 || (!allow_cpu && rank <= 1))
                continue;
            if (rank > best) {
                best = rank;
                pick = (int)i;
                qfam = q;
            }
        }
        if (pick < 0) {
            msgf(msg, msglen, allow_cpu ? "no usable Vulkan device" : "no Vulkan GPU");
            ctx_destroy(c);
            return -ENODEV;
        }
    }
    c->phys = pd[pick];
    c->index = pick;
    c->qfam = (uint32_t)qfam;
    vkGetPhysicalDeviceProperties(c->phys, &c->props);
    vkGetPhysicalDeviceMemoryProperties(c->phys, &c->memprops);
    memcpy(c->max_groups, c->props.limits.maxComputeWorkGroupCount, sizeof(c->max_groups));

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = c->qfam,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio };
    VkPhysicalDeviceVulkan12Features f12 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                             .bufferDeviceAddress = VK_TRUE };
    VkDeviceCreateInfo dci = { .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                               .pNext = &f12,
                               .queueCreateInfoCount = 1,
                               .pQueueCreateInfos = &qi };
    if ((r = vkCreateDevice(c->phys, &dci, NULL, &c->dev)) != VK_SUCCESS) {
        c->dev = VK_NULL_HANDLE;
        msgf(msg, msglen, "vkCreateDevice failed (%d) on %s", (int)r, c->props.deviceName);
        ctx_destroy(c);
        return -ENODEV;
    }
    vkGetDeviceQueue(c->dev, c->qfam, 0, &c->queue);

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &nq, NULL);
    VkQueueFamilyProperties qp[32];
    if (nq > 32)
        nq = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &nq, qp);
    c->timestamps = c->qfam < nq && qp[c->qfam].timestampValidBits > 0 && c->props.limits.timestampPeriod > 0;
    c->ts_ns = c->props.limits.timestampPeriod;

    /* memory: map device memory directly on integrated GPUs and CPU devices */
    VkMemoryPropertyFlags uma_flags = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                      VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    c->uma = (c->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
              c->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) &&
             find_mem(&c->memprops, ~0u, uma_flags) >= 0 && !env_flag("ARG_VK_STAGING");

    /* CPU implementations read the weights of a convolution through a
     * uniform buffer: the only memory their compilers load cheaply (see
     * shaders/conv.comp); ARG_VK_CONV=tiled|ubo overrides */
    const char *cv = getenv("ARG_VK_CONV");
    int ubo_ok = c->props.limits.maxUniformBufferRange >= VK_UBO_RANGE &&
                 c->props.limits.minUniformBufferOffsetAlignment <= 16; /* offsets are multiples of 16 bytes */
    c->conv_ubo = ubo_ok && (cv && *cv ? strcmp(cv, "ubo") == 0
                                       : c->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU);
    c->wide_tiles = c->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU;
    VkDescriptorSetLayoutBinding lb = { 0, VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER_DYNAMIC, 1, VK_SHADER_STAGE_COMPUTE_BIT,
                                        NULL };
    VkDescriptorSetLayoutCreateInfo dli = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                            .bindingCount = 1,
                                            .pBindings = &lb };
    if (vkCreateDescriptorSetLayout(c->dev, &dli, NULL, &c->wlayout) != VK_SUCCESS) {
        c->wlayout = VK_NULL_HANDLE;
        msgf(msg, msglen, "vkCreateDescriptorSetLayout failed");
        ctx_destroy(c);
        return -ENODEV;
    }
    VkPushConstantRange pcr = { VK_SHADER_STAGE_COMPUTE_BIT, 0, 128 };
    VkPipelineLayoutCreateInfo li = { .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                      .setLayoutCount = 1,
                                      .pSetLayouts = &c->wlayout,
                                      .pushConstantRangeCount = 1,
                                      .pPushConstantRanges = &pcr };
    if (vkCreatePipelineLayout(c->dev, &li, NULL, &c->layout) != VK_SUCCESS) {
        c->layout = VK_NULL_HANDLE;
        msgf(msg, msglen, "vkCreatePipelineLayout failed");
        ctx_destroy(c);
        return -ENODEV;
    }
    for (int i = 0; i < SH_COUNT; i++) {
        VkShaderModuleCreateInfo si = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                        .codeSize = vk_shader_code[i].size,
                                        .pCode = vk_shader_code[i].code };
        if (vkCreateShaderModule(c->dev, &si, NULL, &c->modules[i]) != VK_SUCCESS) {
            c->modules[i] = VK_NULL_HANDLE;
            msgf(msg, msglen, "shader %s rejected by the driver", vk_shader_code[i].name);
            ctx_destroy(c);
            return -ENODEV;
        }
    }
    cache_path(c);
    size_t csize;
    void *cdata = load_cache(c, &csize);
    VkPipelineCacheCreateInfo pci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                      .initialDataSize = csize,
                                      .pInitialData = cdata };
    if (vkCreatePipelineCache(c->dev, &pci, NULL, &c->pcache) != VK_SUCCESS) {
        pci.initialDataSize = 0;
        pci.pInitialData = NULL;
        if (vkCreatePipelineCache(c->dev, &pci, NULL, &c->pcache) != VK_SUCCESS)
            c->pcache = VK_NULL_HANDLE;
    }
    free(cdata);
    snprintf(c->name, sizeof(c->name), "vulkan: %.100s (%s, device %d)", c->props.deviceName,
             type_name(c->props.deviceType), c->index);
    c->refs = 1;
    *out = c;
    return 0;
}

int vkctx_get(VkCtx **out, int device, int allow_cpu, char *msg, size_t msglen)
{
    pthread_mutex_lock(&g_lock);
    VkCtx *s = g_shared;
    if (s && (device < 0 || device == s->index) &&
        (allow_cpu || device >= 0 || s->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU)) {
        s->refs++;
        *out = s;
        pthread_mutex_unlock(&g_lock);
        return 0;
    }
    pthread_mutex_unlock(&g_lock);
    int rc = ctx_create(out, device, allow_cpu, msg, msglen);
    if (rc == 0) {
        pthread_mutex_lock(&g_lock);
        if (!g_shared)
            g_shared = *out;
        pthread_mutex_unlock(&g_lock);
    }
    return rc;
}

void vkctx_put(VkCtx *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g_lock);
    int last = --c->refs == 0;
    if (last && g_shared == c)
        g_shared = NULL;
    pthread_mutex_unlock(&g_lock);
    if (last)
        ctx_destroy(c);
}

/* --------------------------------------------------------------- buffers */

int vkbuf_alloc(VkCtx *c, VkBuf *b, size_t size, int kind)
{
    memset(b, 0, sizeof(*b));
    if (size == 0)
        size = 16;
    size = (size + 15) & ~(size_t)15;
    VkBufferCreateInfo bi = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = size,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE };
    if (vkCreateBuffer(c->dev, &bi, NULL, &b->buf) != VK_SUCCESS) {
        b->buf = VK_NULL_HANDLE;
        return -ENOMEM;
    }
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(c->dev, b->buf, &req);
    const VkMemoryPropertyFlags HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int mt = -1, map = 1;
    if (kind == VKB_DEVICE) {
        if (c->uma) {
            mt = find_mem(&c->memprops, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | HV);
        } else {
            mt = find_mem(&c->memprops, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
            map = 0;
        }
        if (mt < 0) {
            mt = find_mem(&c->memprops, req.memoryTypeBits, 0);
            map = 0;
        }
    } else if (kind == VKB_READBACK) {
        mt = find_mem(&c->memprops, req.memoryTypeBits, HV | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (mt < 0)
            mt = find_mem(&c->memprops, req.memoryTypeBits, HV);
    } else {
        mt = find_mem(&c->memprops, req.memoryTypeBits, HV);
    }
    if (mt < 0) {
        vkDestroyBuffer(c->dev, b->buf, NULL);
        memset(b, 0, sizeof(*b));
        return -ENOMEM;
    }
    VkMemoryAllocateFlagsInfo fi = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
                                     .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT };
    VkMemoryAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                .pNext = &fi,
                                .allocationSize = req.size,
                                .memoryTypeIndex = (uint32_t)mt };
    if (vkAllocateMemory(c->dev, &ai, NULL, &b->mem) != VK_SUCCESS) {
        vkDestroyBuffer(c->dev, b->buf, NULL);
        memset(b, 0, sizeof(*b));
        return -ENOMEM;
    }
    if (vkBindBufferMemory(c->dev, b->buf, b->mem, 0) != VK_SUCCESS ||
        (map && vkMapMemory(c->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map) != VK_SUCCESS)) {
        b->map = NULL;
        vkbuf_free(c, b);
        return -ENOMEM;
    }
    VkBufferDeviceAddressInfo dai = { .sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, .buffer = b->buf };
    b->addr = vkGetBufferDeviceAddress(c->dev, &dai);
    b->size = size;
    return 0;
}

void vkbuf_free(VkCtx *c, VkBuf *b)
{
    if (!b || !c)
        return;
    if (b->map)
        vkUnmapMemory(c->dev, b->mem);
    if (b->buf)
        vkDestroyBuffer(c->dev, b->buf, NULL);
    if (b->mem)
        vkFreeMemory(c->dev, b->mem, NULL);
    memset(b, 0, sizeof(*b));
}

/* copy between a buffer and a temporary host-visible one */
static int staged(VkCtx *c, VkBuf *b, size_t off, void *data, size_t size, int write)
{
    VkBuf s;
    int rc = vkbuf_alloc(c, &s, size, write ? VKB_UPLOAD : VKB_READBACK);
    if (rc < 0)
        return rc;
    VkCmd cmd;
    if ((rc = vkcmd_init(c, &cmd)) < 0) {
        vkbuf_free(c, &s);
        return rc;
    }
    if (write)
        memcpy(s.map, data, size);
    VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
    vkBeginCommandBuffer(cmd.cb, &bi);
    vk_barrier(cmd.cb);
    VkBufferCopy region = { write ? 0 : off, write ? off : 0, size };
    vkCmdCopyBuffer(cmd.cb, write ? s.buf : b->buf, write ? b->buf : s.buf, 1, &region);
    vk_barrier(cmd.cb);
    vkEndCommandBuffer(cmd.cb);
    rc = vkcmd_submit_wait(c, &cmd);
    if (rc == 0 && !write)
        memcpy(data, s.map, size);
    vkcmd_free(c, &cmd);
    vkbuf_free(c, &s);
    return rc;
}

int vkbuf_write(VkCtx *c, VkBuf *b, size_t off, const void *data, size_t size)
{
    if (off + size > b->size)
        return -EINVAL;
    if (size == 0)
        return 0;
    if (b->map) {
        memcpy((char *)b->map + off, data, size);
        return 0;
    }
    return staged(c, b, off, (void *)data, size, 1);
}

int vkbuf_read(VkCtx *c, VkBuf *b, size_t off, void *data, size_t size)
{
    if (off + size > b->size)
        return -EINVAL;
    if (size == 0)
        return 0;
    if (b->map) {
        memcpy(data, (char *)b->map + off, size);
        return 0;
    }
    return staged(c, b, off, data, size, 0);
}

int vkctx_wset(VkCtx *c, const VkBuf *b, VkWSet *ws)
{
    memset(ws, 0, sizeof(*ws));
    if (b->size < VK_UBO_RANGE)
        return -EINVAL;
    VkDescriptorPoolSize ps = { VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER_DYNAMIC, 1 };
    VkDescriptorPoolCreateInfo pi = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = 1,
                                      .poolSizeCount = 1,
                                      .pPoolSizes = &ps };
    if (vkCreateDescriptorPool(c->dev, &pi, NULL, &ws->pool) != VK_SUCCESS) {
        ws->pool = VK_NULL_HANDLE;
        return -ENOMEM;
    }
    VkDescriptorSetAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                       .descriptorPool = ws->pool,
                                       .descriptorSetCount = 1,
                                       .pSetLayouts = &c->wlayout };
    if (vkAllocateDescriptorSets(c->dev, &ai, &ws->set) != VK_SUCCESS) {
        vkctx_wset_free(c, ws);
        return -ENOMEM;
    }
    VkDescriptorBufferInfo bi = { b->buf, 0, VK_UBO_RANGE };
    VkWriteDescriptorSet w = { .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                               .dstSet = ws->set,
                               .dstBinding = 0,
                               .descriptorCount = 1,
                               .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER_DYNAMIC,
                               .pBufferInfo = &bi };
    vkUpdateDescriptorSets(c->dev, 1, &w, 0, NULL);
    return 0;
}

void vkctx_wset_free(VkCtx *c, VkWSet *ws)
{
    if (ws->pool)
        vkDestroyDescriptorPool(c->dev, ws->pool, NULL); /* frees its set */
    memset(ws, 0, sizeof(*ws));
}

/* -------------------------------------------------------------- commands */

int vkcmd_init(VkCtx *c, VkCmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    VkCommandPoolCreateInfo pi = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = c->qfam };
    if (vkCreateCommandPool(c->dev, &pi, NULL, &cmd->pool) != VK_SUCCESS) {
        cmd->pool = VK_NULL_HANDLE;
        return -ENOMEM;
    }
    VkCommandBufferAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = cmd->pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1 };
    VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    if (vkAllocateCommandBuffers(c->dev, &ai, &cmd->cb) != VK_SUCCESS ||
        vkCreateFence(c->dev, &fi, NULL, &cmd->fence) != VK_SUCCESS) {
        cmd->fence = VK_NULL_HANDLE;
        vkcmd_free(c, cmd);
        return -ENOMEM;
    }
    return 0;
}

void vkcmd_free(VkCtx *c, VkCmd *cmd)
{
    if (cmd->fence)
        vkDestroyFence(c->dev, cmd->fence, NULL);
    if (cmd->pool)
        vkDestroyCommandPool(c->dev, cmd->pool, NULL); /* frees its command buffers */
    memset(cmd, 0, sizeof(*cmd));
}

int vkcmd_submit_wait(VkCtx *c, VkCmd *cmd)
{
    VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd->cb };
    vkResetFences(c->dev, 1, &cmd->fence);
    pthread_mutex_lock(&c->lock);
    VkResult r = vkQueueSubmit(c->queue, 1, &si, cmd->fence);
    pthread_mutex_unlock(&c->lock);
    if (r != VK_SUCCESS)
        return r == VK_ERROR_DEVICE_LOST ? -EIO : -ENOMEM;
    r = vkWaitForFences(c->dev, 1, &cmd->fence, VK_TRUE, UINT64_MAX);
    return r == VK_SUCCESS ? 0 : -EIO;
}

void vk_barrier(VkCommandBuffer cb)
{
    VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                           .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                                            VK_ACCESS_HOST_WRITE_BIT,
                           .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                            VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                                            VK_ACCESS_HOST_READ_BIT };
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         0, 1, &mb, 0, NULL, 0, NULL);
}
