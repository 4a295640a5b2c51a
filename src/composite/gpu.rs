//! Compositing with the canvas on the GPU (`--compositor cuda`).
//!
//! The frame is scaled into a canvas in GPU memory, gradients and rectangles (the scrims that
//! cover most of a cover) are blended there, and the cover is JPEG-encoded there. Text, images
//! and QR codes are drawn by the CPU compositor's own code on copies of just the regions they
//! touch, which go back to the canvas: so these layers come out exactly as on the CPU, `auto`
//! colours see the real pixels under them, and only those regions cross the bus, not the canvas.
//!
//! The region logic is written against [`Surface`], which an [`Image`] implements too: the tests
//! run it on the CPU and check it gives the same pixels as [`super::composite`].

/// Whether the GPU compositor (CUDA driver, FFmpeg's CUDA device, the kernels, nvJPEG) works
/// here, and why not.
///
/// # Errors
/// The first thing missing, in the loader's or driver's words.
pub fn available() -> Result<(), String> {
    crate::av::cuda::available()
}

use super::{draw_layers, fitting, off_faces, text, CompositeError, CompositeReport};
use crate::av::cuda::{DeviceCanvas, FramePixels};
use crate::color::Rgba;
use crate::env::Env;
use crate::layout::doc::{Layer, LayoutDoc, Rect};
use crate::pixels::Image;

/// A canvas the layers can be drawn on: gradients and rectangles in place, anything else on a
/// copied region that is put back.
pub(crate) trait Surface {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// As [`Image::fill_gradient`].
    fn gradient(
        &mut self,
        rect: (i32, i32, u32, u32),
        vertical: bool,
        from: Rgba,
        to: Rgba,
    ) -> Result<(), CompositeError>;
    /// As [`Image::fill_rect`].
    fn rect(&mut self, rect: (i32, i32, u32, u32), color: Rgba) -> Result<(), CompositeError>;
    /// A copy of `rect` (inside the surface).
    fn region(&self, rect: (u32, u32, u32, u32)) -> Result<Image, CompositeError>;
    /// Writes `region` back with its top-left at (x, y).
    fn put(&mut self, region: &Image, x: u32, y: u32) -> Result<(), CompositeError>;
}

impl Surface for Image {
    fn size(&self) -> (u32, u32) {
        (self.width(), self.height())
    }
    fn gradient(
        &mut self,
        rect: (i32, i32, u32, u32),
        vertical: bool,
        from: Rgba,
        to: Rgba,
    ) -> Result<(), CompositeError> {
        self.fill_gradient(rect, vertical, from, to);
        Ok(())
    }
    fn rect(&mut self, rect: (i32, i32, u32, u32), color: Rgba) -> Result<(), CompositeError> {
        self.fill_rect(rect.0, rect.1, rect.2, rect.3, color);
        Ok(())
    }
    fn region(&self, rect: (u32, u32, u32, u32)) -> Result<Image, CompositeError> {
        Ok(self.clone_region((rect.0 as i32, rect.1 as i32, rect.2, rect.3)))
    }
    fn put(&mut self, region: &Image, x: u32, y: u32) -> Result<(), CompositeError> {
        self.paste(region, x as i32, y as i32);
        Ok(())
    }
}

impl Surface for DeviceCanvas<'_> {
    fn size(&self) -> (u32, u32) {
        (self.width(), self.height())
    }
    fn gradient(
        &mut self,
        rect: (i32, i32, u32, u32),
        vertical: bool,
        from: Rgba,
        to: Rgba,
    ) -> Result<(), CompositeError> {
        DeviceCanvas::gradient(self, rect, vertical, from, to).map_err(CompositeError::Gpu)
    }
    fn rect(&mut self, rect: (i32, i32, u32, u32), color: Rgba) -> Result<(), CompositeError> {
        // A gradient from a colour to itself blends exactly as a flat fill.
        DeviceCanvas::gradient(self, rect, true, color, color).map_err(CompositeError::Gpu)
    }
    fn region(&self, rect: (u32, u32, u32, u32)) -> Result<Image, CompositeError> {
        self.download(rect).map_err(CompositeError::Gpu)
    }
    fn put(&mut self, region: &Image, x: u32, y: u32) -> Result<(), CompositeError> {
        self.upload(region, x, y).map_err(CompositeError::Gpu)
    }
}

/// Composites the cover of `frame` on the GPU; the canvas stays there for encoding.
///
/// # Errors
/// CUDA's reason when the GPU fails; the CPU compositor's errors for the layers.
pub(crate) fn composite_on_gpu<'f>(
    frame: FramePixels<'f>,
    doc: &LayoutDoc,
    env: &Env,
) -> Result<(DeviceCanvas<'f>, CompositeReport), CompositeError> {
    let (fw, fh, faces_in_frame) = match frame {
        FramePixels::Host(image) => {
            let faces = if doc.faces {
                let model = env.face_model();
                image
                    .detect_faces(&model)
                    .map_err(|e| CompositeError::Asset { path: model, message: e.message })?
            } else {
                Vec::new()
            };
            (image.width(), image.height(), faces)
        }
        FramePixels::Device(f) if doc.faces => {
            return Err(CompositeError::Gpu(format!(
                "face detection needs the frame in system memory ({}x{} frame is on the GPU)",
                f.width(),
                f.height()
            )))
        }
        FramePixels::Device(f) => (f.width(), f.height(), Vec::new()),
    };
    let fit = fitting(fw, fh, doc, &faces_in_frame);
    let mut canvas =
        DeviceCanvas::new(doc.canvas.width, doc.canvas.height, fit.fill).map_err(CompositeError::Gpu)?;
    canvas.draw_frame(frame, fit.crop, fit.dst).map_err(CompositeError::Gpu)?;
    let faces = fit.map_faces(&faces_in_frame);
    let report = draw_layers_in_regions(&mut canvas, &doc.layers, &faces, env)?;
    Ok((canvas, report))
}

/// Draws `layers` on `surface` (which holds the fitted frame): gradients and rectangles in
/// place; every run of other layers between them in groups of overlapping regions, each group
/// drawn on a copy of its region by [`draw_layers`] and put back. Layers that do not overlap do
/// not interact, so the result equals drawing everything on the whole canvas in order.
pub(crate) fn draw_layers_in_regions(
    surface: &mut impl Surface,
    layers: &[Layer],
    faces: &[Rect],
    env: &Env,
) -> Result<CompositeReport, CompositeError> {
    let mut report = CompositeReport { faces: faces.to_vec(), ..Default::default() };
    let mut groups: Vec<Group> = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        match layer {
            Layer::Gradient(g) => {
                draw_groups(surface, std::mem::take(&mut groups), layers, faces, env, &mut report)?;
                let b = g.bbox;
                surface.gradient((b.x, b.y, b.width, b.height), g.vertical, g.from, g.to)?;
            }
            Layer::Rect(r) => {
                draw_groups(surface, std::mem::take(&mut groups), layers, faces, env, &mut report)?;
                let b = r.bbox;
                surface.rect((b.x, b.y, b.width, b.height), r.color)?;
            }
            _ => {
                let Some(rect) = clip(extent(layer, faces), surface.size()) else { continue };
                let mut group = Group { rect, layers: vec![index] };
                // Absorb every group this one overlaps (transitively, as groups grow).
                while let Some(i) = groups.iter().position(|g| intersects(g.rect, group.rect)) {
                    let other = groups.swap_remove(i);
                    group.rect = union(group.rect, other.rect);
                    group.layers.extend(other.layers);
                }
                group.layers.sort_unstable();
                groups.push(group);
            }
        }
    }
    draw_groups(surface, groups, layers, faces, env, &mut report)?;
    Ok(report)
}

/// Layers (indices, in drawing order) drawn together on one region of the canvas.
struct Group {
    rect: (u32, u32, u32, u32),
    layers: Vec<usize>,
}

fn draw_groups(
    surface: &mut impl Surface,
    mut groups: Vec<Group>,
    layers: &[Layer],
    faces: &[Rect],
    env: &Env,
    report: &mut CompositeReport,
) -> Result<(), CompositeError> {
    // In the order of their first layer, so reports list text layers in drawing order.
    groups.sort_unstable_by_key(|g| g.layers[0]);
    for g in groups {
        let (x, y, _, _) = g.rect;
        let (dx, dy) = (-(x as i32), -(y as i32));
        let moved: Vec<Layer> = g.layers.iter().map(|&i| layers[i].moved(dx, dy)).collect();
        let moved_faces: Vec<Rect> = faces.iter().map(|f| f.moved(dx, dy)).collect();
        let mut region = surface.region(g.rect)?;
        let r = draw_layers(&mut region, &moved, &moved_faces, env, false)?;
        surface.put(&region, x, y)?;
        report.contrast.extend(r.contrast);
        report.moved_off_faces.extend(r.moved_off_faces);
    }
    Ok(())
}

/// Every pixel a text, image or QR layer may touch (text at the placement it takes off faces).
fn extent(layer: &Layer, faces: &[Rect]) -> (i32, i32, u32, u32) {
    match layer {
        Layer::Text(t) => text::extent(&off_faces(t, faces)),
        other => {
            let b = other.bbox();
            (b.x, b.y, b.width, b.height)
        }
    }
}

/// `rect` clipped to a `size` canvas; `None` when nothing is left.
fn clip(rect: (i32, i32, u32, u32), size: (u32, u32)) -> Option<(u32, u32, u32, u32)> {
    let x0 = rect.0.max(0) as i64;
    let y0 = rect.1.max(0) as i64;
    let x1 = (rect.0 as i64 + rect.2 as i64).min(size.0 as i64);
    let y1 = (rect.1 as i64 + rect.3 as i64).min(size.1 as i64);
    (x0 < x1 && y0 < y1).then(|| (x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32))
}

fn intersects(a: (u32, u32, u32, u32), b: (u32, u32, u32, u32)) -> bool {
    a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
}

fn union(a: (u32, u32, u32, u32), b: (u32, u32, u32, u32)) -> (u32, u32, u32, u32) {
    let (x0, y0) = (a.0.min(b.0), a.1.min(b.1));
    let (x1, y1) = ((a.0 + a.2).max(b.0 + b.2), (a.1 + a.3).max(b.1 + b.3));
    (x0, y0, x1 - x0, y1 - y0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy_frame(w: u32, h: u32) -> Image {
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [(x * 7 + y) as u8, (y * 3) as u8, ((x ^ y) * 5) as u8]
            })
            .collect();
        Image::from_rgb(w, h, &rgb)
    }

    /// Renders a shipped template's layout the usual way and through regions; both must match
    /// byte for byte, `auto` colours and their reports included.
    #[test]
    fn regions_give_the_same_cover_as_the_whole_canvas() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let env = crate::env::Env::new(root, Default::default());
        for sample in ["cooking", "travel"] {
            let meta = root.join(format!("samples/{sample}.yaml"));
            let meta = crate::metadata::load(&meta, &env.limits).expect("sample metadata");
            let (_, doc) = crate::layout::for_metadata(&meta, None, &env).expect("sample layout");
            let frame = busy_frame(640, 360);
            let (expected, expected_report) =
                super::super::composite_with_report(&frame, &doc, &env, false).unwrap();
            let (mut canvas, faces) = super::super::background(&frame, &doc, &[]).unwrap();
            let report = draw_layers_in_regions(&mut canvas, &doc.layers, &faces, &env).unwrap();
            assert_eq!(canvas.bgr_bytes(), expected.bgr_bytes(), "{sample}: pixels differ");
            assert_eq!(report, expected_report, "{sample}: reports differ");
        }
    }

    #[test]
    fn overlapping_layers_share_a_region_and_order_is_kept() {
        assert!(intersects((0, 0, 10, 10), (9, 9, 5, 5)));
        assert!(!intersects((0, 0, 10, 10), (10, 0, 5, 5)));
        assert_eq!(union((0, 0, 10, 10), (20, 5, 5, 10)), (0, 0, 25, 15));
        assert_eq!(clip((-5, -5, 10, 10), (100, 100)), Some((0, 0, 5, 5)));
        assert_eq!(clip((100, 0, 10, 10), (100, 100)), None);
    }
}
