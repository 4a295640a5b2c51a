//! QR codes with crisp modules: every module is a whole number of pixels, the symbol is centred
//! in its box, and the leftover pixels join the light quiet zone.

use super::CompositeError;
use crate::layout::doc::{QrLayer, Rect};
use crate::pixels::Image;

pub(super) fn draw(canvas: &mut Image, q: &QrLayer) -> Result<(), CompositeError> {
    let code = crate::layout::qr_code(&q.data).map_err(CompositeError::Qr)?;
    let n = code.size as u32;
    let size = q.bbox.width.min(q.bbox.height);
    let module = (size / (n + 2 * q.quiet_zone)).max(1);
    let symbol = module * n;
    let x0 = q.bbox.x + ((q.bbox.width - symbol) / 2) as i32;
    let y0 = q.bbox.y + ((q.bbox.height - symbol) / 2) as i32;
    canvas.fill_rect(q.bbox, q.light);
    for (i, cell) in code.data[..(n * n) as usize].iter().enumerate() {
        if cell.value() {
            let (mx, my) = (i as u32 % n, i as u32 / n);
            canvas.fill_rect(
                Rect::new(x0 + (mx * module) as i32, y0 + (my * module) as i32, module, module),
                q.dark,
            );
        }
    }
    Ok(())
}
