/* Shared declarations of ARG's compute shaders. Buffers are passed as
 * buffer device addresses in push constants (Vulkan 1.2 bufferDeviceAddress),
 * so no descriptor sets are needed and no buffer is limited by
 * maxStorageBufferRange. Element offsets are 32-bit. */
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_control_flow_attributes : require

layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer RBuf { float d[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) writeonly buffer WBuf { float d[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer RWBuf { float d[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer RUBuf { uint d[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) writeonly buffer WUBuf { uint d[]; };

/* Flat index of this workgroup in a 2D grid folded to respect
 * maxComputeWorkGroupCount (the host splits large counts over x and y). */
uint group_index2()
{
    return gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y;
}
