//! The GPU side of the canvas: the composited document lives in 256² textures, changed 64² core tiles are
//! written to them with `queue.write_texture` as soon as they change (never from inside the paint callback,
//! whose frames may not be drawn), and a paint callback draws the visible tiles as quads, turned and mirrored
//! with the view.
//!
//! Zoomed out, the textures' mip levels keep the picture smooth: each changed core tile is box-filtered on the
//! CPU down to 1×1 and every level is written with it (7 levels: 256 → 4 texels per GPU tile). Zoomed in past
//! 200 %, nearest sampling keeps pixels crisp.

use std::collections::HashMap;

use eframe::egui;
use eframe::egui_wgpu::{self, wgpu};
use oekaki::geom::{TILE, TileKey};
use oekaki::raster::Surface;
use oekaki::view::View;

/// Side of a GPU tile in pixels (4×4 core tiles).
const GPU_TILE: i32 = 256;
const PER: i32 = GPU_TILE / TILE;
/// Mip levels per GPU tile: down to the level where one core tile is one texel.
const MIPS: u32 = 7;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Vertex {
    position: [f32; 2],
    uv: [f32; 2],
}

/// GPU resources of one canvas; cheap handles, cloned into each frame's callback.
pub struct GpuCanvas {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::RenderPipeline,
    tile_layout: wgpu::BindGroupLayout,
    linear: wgpu::BindGroup,
    nearest: wgpu::BindGroup,
    tiles: HashMap<(i32, i32), (wgpu::Texture, wgpu::BindGroup)>,
    vertices: Option<wgpu::Buffer>,
}

impl GpuCanvas {
    pub fn new(rs: &egui_wgpu::RenderState) -> GpuCanvas {
        let device = rs.device.clone();
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("canvas"),
            source: wgpu::ShaderSource::Wgsl(include_str!("canvas.wgsl").into()),
        });
        let tile_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("canvas tile"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: true },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            }],
        });
        let sampler_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("canvas sampler"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("canvas"),
            bind_group_layouts: &[Some(&tile_layout), Some(&sampler_layout)],
            immediate_size: 0,
        });
        let vertex_layout = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<Vertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x2],
        };
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("canvas"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[Some(vertex_layout)],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: rs.target_format,
                    blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let sampler_group = |filter: wgpu::FilterMode| {
            let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
                label: Some("canvas"),
                mag_filter: filter,
                min_filter: wgpu::FilterMode::Linear,
                mipmap_filter: wgpu::MipmapFilterMode::Linear,
                ..Default::default()
            });
            device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("canvas sampler"),
                layout: &sampler_layout,
                entries: &[wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::Sampler(&sampler) }],
            })
        };
        GpuCanvas {
            linear: sampler_group(wgpu::FilterMode::Linear),
            nearest: sampler_group(wgpu::FilterMode::Nearest),
            queue: rs.queue.clone(),
            device,
            pipeline,
            tile_layout,
            tiles: HashMap::new(),
            vertices: None,
        }
    }

    /// Copies changed core tiles of the composite to the GPU now.
    pub fn upload(&mut self, composite: &Surface, keys: &[TileKey]) {
        const ZERO: [[u8; 4]; (TILE * TILE) as usize] = [[0; 4]; (TILE * TILE) as usize];
        for key in keys {
            let gpu = (key.tx.div_euclid(PER), key.ty.div_euclid(PER));
            let (texture, _) = self.tiles.entry(gpu).or_insert_with(|| {
                let texture = self.device.create_texture(&wgpu::TextureDescriptor {
                    label: Some("canvas tile"),
                    size: wgpu::Extent3d { width: GPU_TILE as u32, height: GPU_TILE as u32, depth_or_array_layers: 1 },
                    mip_level_count: MIPS,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    format: wgpu::TextureFormat::Rgba8Unorm,
                    usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                    view_formats: &[],
                });
                let view = texture.create_view(&Default::default());
                let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("canvas tile"),
                    layout: &self.tile_layout,
                    entries: &[wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::TextureView(&view),
                    }],
                });
                (texture, group)
            });
            let mut level: Vec<[u8; 4]> = composite.tile(*key).map_or(ZERO.to_vec(), |t| t.to_vec());
            let (ox, oy) = ((key.tx.rem_euclid(PER) * TILE) as u32, (key.ty.rem_euclid(PER) * TILE) as u32);
            for mip in 0..MIPS {
                let side = TILE as u32 >> mip;
                if mip > 0 {
                    level = half(&level, side as usize * 2);
                }
                self.queue.write_texture(
                    wgpu::TexelCopyTextureInfo {
                        texture,
                        mip_level: mip,
                        origin: wgpu::Origin3d { x: ox >> mip, y: oy >> mip, z: 0 },
                        aspect: wgpu::TextureAspect::All,
                    },
                    bytemuck::cast_slice(&level),
                    wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(side * 4), rows_per_image: None },
                    wgpu::Extent3d { width: side, height: side, depth_or_array_layers: 1 },
                );
            }
        }
    }

    /// Forgets all tiles (another document was opened).
    pub fn clear(&mut self) {
        self.tiles.clear();
    }

    /// The callback drawing the visible tiles of a `width`×`height` canvas into `rect` with `view`.
    pub fn callback(&mut self, rect: egui::Rect, view: &View, width: u32, height: u32) -> egui::PaintCallback {
        let mut verts: Vec<Vertex> = Vec::new();
        let mut draws = Vec::new();
        let ndc = |p: [f32; 2]| [((p[0]) / rect.width()) * 2.0 - 1.0, 1.0 - (p[1] / rect.height()) * 2.0];
        for (&(gx, gy), (_, group)) in &self.tiles {
            let x0 = (gx * GPU_TILE) as f32;
            let y0 = (gy * GPU_TILE) as f32;
            // Only the part inside the canvas is drawn.
            let x1 = (x0 + GPU_TILE as f32).min(width as f32);
            let y1 = (y0 + GPU_TILE as f32).min(height as f32);
            if x1 <= x0 || y1 <= y0 {
                continue;
            }
            let [a, b, c, d] = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]].map(|p| view.to_screen(p));
            let lo = [a[0].min(b[0]).min(c[0]).min(d[0]), a[1].min(b[1]).min(c[1]).min(d[1])];
            let hi = [a[0].max(b[0]).max(c[0]).max(d[0]), a[1].max(b[1]).max(c[1]).max(d[1])];
            if hi[0] < 0.0 || hi[1] < 0.0 || lo[0] > rect.width() || lo[1] > rect.height() {
                continue;
            }
            let (u1, v1) = ((x1 - x0) / GPU_TILE as f32, (y1 - y0) / GPU_TILE as f32);
            let (a, b, c, d) = (ndc(a), ndc(b), ndc(c), ndc(d));
            let first = verts.len() as u32;
            verts.extend_from_slice(&[
                Vertex { position: a, uv: [0.0, 0.0] },
                Vertex { position: b, uv: [u1, 0.0] },
                Vertex { position: c, uv: [0.0, v1] },
                Vertex { position: c, uv: [0.0, v1] },
                Vertex { position: b, uv: [u1, 0.0] },
                Vertex { position: d, uv: [u1, v1] },
            ]);
            draws.push((group.clone(), first..first + 6));
        }
        let bytes: &[u8] = bytemuck::cast_slice(&verts);
        let size = (bytes.len() as u64).max(64).next_power_of_two();
        if self.vertices.as_ref().is_none_or(|b| b.size() < size) {
            self.vertices = Some(self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("canvas quads"),
                size,
                usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let vertices = self.vertices.clone();
        if let Some(buf) = &vertices
            && !bytes.is_empty()
        {
            self.queue.write_buffer(buf, 0, bytes);
        }
        let sampler = if view.zoom >= 2.0 { self.nearest.clone() } else { self.linear.clone() };
        egui_wgpu::Callback::new_paint_callback(
            rect,
            CanvasCallback { pipeline: self.pipeline.clone(), sampler, vertices, draws },
        )
    }
}

struct CanvasCallback {
    pipeline: wgpu::RenderPipeline,
    sampler: wgpu::BindGroup,
    vertices: Option<wgpu::Buffer>,
    draws: Vec<(wgpu::BindGroup, std::ops::Range<u32>)>,
}

impl egui_wgpu::CallbackTrait for CanvasCallback {
    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        _resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(vertices) = &self.vertices else { return };
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(1, &self.sampler, &[]);
        pass.set_vertex_buffer(0, vertices.slice(..));
        for (group, range) in &self.draws {
            pass.set_bind_group(0, group, &[]);
            pass.draw(range.clone(), 0..1);
        }
    }
}

/// A square block of premultiplied pixels halved in each direction (2×2 box filter, rounded).
fn half(src: &[[u8; 4]], side: usize) -> Vec<[u8; 4]> {
    let h = side / 2;
    let mut out = Vec::with_capacity(h * h);
    for y in 0..h {
        for x in 0..h {
            let p = |dx: usize, dy: usize| src[(2 * y + dy) * side + 2 * x + dx];
            let (a, b, c, d) = (p(0, 0), p(1, 0), p(0, 1), p(1, 1));
            out.push(std::array::from_fn(|i| ((a[i] as u16 + b[i] as u16 + c[i] as u16 + d[i] as u16 + 2) / 4) as u8));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::half;

    #[test]
    fn halving_averages_two_by_two_blocks() {
        let src = vec![[0, 0, 0, 0], [255, 255, 255, 255], [100, 0, 0, 100], [0, 0, 0, 0]];
        assert_eq!(half(&src, 2), vec![[89, 64, 64, 89]]);
    }
}
