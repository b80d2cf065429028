// Canvas tiles: textures hold premultiplied, sRGB-encoded bytes (the core's pixel format), written out as
// they are, since egui-wgpu renders into a non-sRGB target with premultiplied blending.

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@location(0) position: vec2<f32>, @location(1) uv: vec2<f32>) -> VertexOut {
    var out: VertexOut;
    out.position = vec4<f32>(position, 0.0, 1.0);
    out.uv = uv;
    return out;
}

@group(0) @binding(0) var tile: texture_2d<f32>;
@group(1) @binding(0) var tile_sampler: sampler;

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    return textureSample(tile, tile_sampler, in.uv);
}
