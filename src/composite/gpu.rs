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
pub fn available() -> Result<(), crate::av::error::GpuError> {
    crate::av::cuda::available()
}

use super::{draw_layers, fitting, text, CompositeError, CompositeReport, OffFaces};
use crate::av::cuda::DeviceCanvas;
use crate::av::Pixels;
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
    fn gradient(&mut self, rect: Rect, vertical: bool, from: Rgba, to: Rgba) -> Result<(), CompositeError>;
    /// As [`Image::fill_rect`].
    fn rect(&mut self, rect: Rect, color: Rgba) -> Result<(), CompositeError>;
    /// A copy of `rect` (inside the surface).
    fn region(&self, rect: Rect) -> Result<Image, CompositeError>;
    /// Writes `region` back with its top-left at (x, y).
    fn put(&mut self, region: &Image, x: u32, y: u32) -> Result<(), CompositeError>;
}

impl Surface for Image {
    fn size(&self) -> (u32, u32) {
        (self.width(), self.height())
    }
    fn gradient(&mut self, rect: Rect, vertical: bool, from: Rgba, to: Rgba) -> Result<(), CompositeError> {
        self.fill_gradient(rect, vertical, from, to);
        Ok(())
    }
    fn rect(&mut self, rect: Rect, color: Rgba) -> Result<(), CompositeError> {
        self.fill_rect(rect, color);
        Ok(())
    }
    fn region(&self, rect: Rect) -> Result<Image, CompositeError> {
        Ok(self.clone_region(rect))
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
    fn gradient(&mut self, rect: Rect, vertical: bool, from: Rgba, to: Rgba) -> Result<(), CompositeError> {
        DeviceCanvas::gradient(self, rect, vertical, from, to).map_err(CompositeError::Gpu)
    }
    fn rect(&mut self, rect: Rect, color: Rgba) -> Result<(), CompositeError> {
        // A gradient from a colour to itself blends exactly as a flat fill.
        DeviceCanvas::gradient(self, rect, true, color, color).map_err(CompositeError::Gpu)
    }
    fn region(&self, rect: Rect) -> Result<Image, CompositeError> {
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
    frame: &'f Pixels,
    known_faces: Option<&[Rect]>,
    doc: &LayoutDoc,
    env: &Env,
) -> Result<(DeviceCanvas<'f>, CompositeReport), CompositeError> {
    let (fw, fh, faces_in_frame) = match frame {
        Pixels::Host(image) => {
            (image.width(), image.height(), super::faces_in(image, known_faces, doc, env)?)
        }
        Pixels::Device(f) if !doc.faces => (f.width(), f.height(), Vec::new()),
        // Faces on a surface are found with the keyframe (`extract_kept`), never here.
        Pixels::Device(f) => match known_faces {
            Some(faces) => (f.width(), f.height(), faces.to_vec()),
            None => {
                return Err(CompositeError::Gpu(
                    format!(
                        "the faces of the {}x{} frame on the GPU were not found with it",
                        f.width(),
                        f.height()
                    )
                    .into(),
                ))
            }
        },
    };
    let fit = fitting(fw, fh, doc, &faces_in_frame);
    let mut canvas =
        DeviceCanvas::new(doc.canvas.width, doc.canvas.height, fit.fill).map_err(CompositeError::Gpu)?;
    match frame {
        Pixels::Host(image) => canvas.draw_host_frame(image, fit.crop, fit.dst),
        Pixels::Device(f) => canvas.draw_device_frame(f, fit.crop, fit.dst),
    }
    .map_err(CompositeError::Gpu)?;
    // The frame is being scaled on the GPU (queued, not waited for): draw the text masks on
    // the CPU meanwhile, so the first region read back waits less. They are kept for the
    // drawing below (and for other covers whose text is set the same way).
    for layer in &doc.layers {
        if let Layer::Text(t) = layer {
            if !t.lines.is_empty() {
                super::text::masks_for(t, env)?;
            }
        }
    }
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
    // Text goes off the faces first, over all layers (a follower may fall in another region
    // than the layer it follows); the regions are then drawn with nothing left to move.
    let mut moves = OffFaces::new(faces);
    let layers: Vec<Layer> = layers
        .iter()
        .map(|layer| match layer {
            Layer::Text(t) => Layer::Text(moves.place_noting(t, &mut report)),
            other => other.clone(),
        })
        .collect();
    let (layers, faces): (&[Layer], &[Rect]) = (&layers, &[]);
    let mut groups: Vec<Group> = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        match layer {
            Layer::Gradient(g) => {
                draw_groups(surface, std::mem::take(&mut groups), layers, faces, env, &mut report)?;
                let b = g.bbox;
                surface.gradient(b, g.vertical, g.from, g.to)?;
            }
            Layer::Rect(r) => {
                draw_groups(surface, std::mem::take(&mut groups), layers, faces, env, &mut report)?;
                let b = r.bbox;
                surface.rect(b, r.color)?;
            }
            _ => {
                let (width, height) = surface.size();
                let Some(rect) = extent(layer).clip_to(width, height) else { continue };
                let mut group = Group { rect, layers: vec![index] };
                // Absorb every group this one overlaps (transitively, as groups grow).
                while let Some(i) = groups.iter().position(|g| g.rect.overlaps(&group.rect)) {
                    let other = groups.swap_remove(i);
                    group.rect = group.rect.union(&other.rect);
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
    rect: Rect,
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
        let (x, y) = (g.rect.x, g.rect.y);
        let (dx, dy) = (-x, -y);
        let moved: Vec<Layer> = g.layers.iter().map(|&i| layers[i].moved(dx, dy)).collect();
        let moved_faces: Vec<Rect> = faces.iter().map(|f| f.moved(dx, dy)).collect();
        let mut region = surface.region(g.rect)?;
        let r = draw_layers(&mut region, &moved, &moved_faces, env, false)?;
        surface.put(&region, x as u32, y as u32)?;
        report.contrast.extend(r.contrast);
        report.moved_off_faces.extend(r.moved_off_faces);
    }
    Ok(())
}

/// Every pixel a text, image or QR layer may touch (text already placed off faces).
fn extent(layer: &Layer) -> Rect {
    match layer {
        Layer::Text(t) => text::extent(t),
        Layer::Image(i) => match i.shadow {
            // The shadow: the box moved, grown by the blur.
            Some(s) => {
                let pad = (s.blur * 2.0).ceil() as i32;
                let grown = Rect::new(
                    i.bbox.x - pad,
                    i.bbox.y - pad,
                    i.bbox.width + 2 * pad as u32,
                    i.bbox.height + 2 * pad as u32,
                );
                i.bbox.union(&grown.moved(s.dx, s.dy))
            }
            None => i.bbox,
        },
        other => other.bbox(),
    }
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
}
