/* The SPIR-V of every shader variant, compiled at build time by
 * glslangValidator (shaders/meson.build) into C headers. */
#include <stdint.h>

#include "vk.h"

#include "conv.spv.h"
#include "conv_ubo.spv.h"
#include "d2s.spv.h"
#include "dequant.spv.h"
#include "gn_apply.spv.h"
#include "gn_final.spv.h"
#include "gn_final_adaptive.spv.h"
#include "gn_sq.spv.h"
#include "gn_sum.spv.h"
#include "lfq.spv.h"
#include "s2d.spv.h"
#include "style.spv.h"

#define SHADER(id, name) [id] = { #name, name##_spv, sizeof(name##_spv) }

const VkShaderCode vk_shader_code[SH_COUNT] = {
    SHADER(SH_CONV, conv),
    SHADER(SH_CONV_UBO, conv_ubo),
    SHADER(SH_GN_SUM, gn_sum),
    SHADER(SH_GN_SQ, gn_sq),
    SHADER(SH_GN_FINAL, gn_final),
    SHADER(SH_GN_FINAL_ADAPTIVE, gn_final_adaptive),
    SHADER(SH_GN_APPLY, gn_apply),
    SHADER(SH_D2S, d2s),
    SHADER(SH_S2D, s2d),
    SHADER(SH_LFQ, lfq),
    SHADER(SH_DEQUANT, dequant),
    SHADER(SH_STYLE, style),
};
