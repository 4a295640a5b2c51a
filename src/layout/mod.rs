//! Stage 2c: turn a template's rendered text into a [`LayoutDoc`]: validate it, measure and wrap
//! text, size images and QR codes, and place every layer by its anchor.
//!
//! The layout stage sees fonts (to measure) and image headers (to size) but never the video
//! frame. All problems of one pass are collected and reported together, each with a line.

pub mod breaks;
pub mod doc;
mod layers;
pub mod safe_zones;
mod spec;
pub mod text;
pub mod words;

use crate::env::Env;
use crate::limits;
use crate::metadata::{closest, yaml_diagnostic, Metadata};
use crate::model::{Diagnostic, Diagnostics};
use crate::template::TemplateSource;
use doc::*;
use spec::{Anchor, Kind, LayerSpec, Spec};
use std::path::{Path, PathBuf};

/// The font used when a text layer names none.
pub const DEFAULT_FONT: &str = "wqy-microhei";
/// Fonts tried, in order, for characters the layer's font lacks (when they are installed).
pub const DEFAULT_FALLBACK: &[&str] = &["noto-color-emoji"];

/// Why a layout could not be resolved: located diagnostics (all of one pass), or a limit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Template, metadata or layout problems, each with file, line and column.
    #[error(transparent)]
    Diagnostics(#[from] Diagnostics),
    /// A value exceeded a limit (a canvas side, a text length).
    #[error("{}: {source}", file.display())]
    Limit {
        /// The file whose content exceeded it.
        file: PathBuf,
        /// Which limit.
        source: limits::LimitError,
    },
}

/// The QR symbol for `data` at error correction level M (15 % of it recoverable): the one the
/// layout sizes and the compositor draws. fast_qr picks the mask by the standard's penalty
/// scores as the `qrcode` crate did, at several times its speed (in a batch profile, encoding
/// each cover's QR twice took more CPU than drawing its text).
///
/// # Errors
/// When the data does not fit the largest QR symbol.
pub fn qr_code(data: &str) -> Result<fast_qr::QRCode, String> {
    // The layout encodes a cover's QR to size it and the compositor again to draw it, on the
    // same thread: the last code is kept (an encode is ~0.5 ms, most of it choosing the mask).
    thread_local! {
        static LAST: std::cell::RefCell<Option<(String, fast_qr::QRCode)>> = const { std::cell::RefCell::new(None) };
    }
    if let Some(code) =
        LAST.with_borrow(|last| last.as_ref().filter(|(d, _)| d == data).map(|(_, c)| c.clone()))
    {
        return Ok(code);
    }
    let code =
        fast_qr::QRBuilder::new(data.as_bytes()).ecl(fast_qr::ECL::M).build().map_err(|e| e.to_string())?;
    LAST.with_borrow_mut(|last| *last = Some((data.to_owned(), code.clone())));
    Ok(code)
}

/// Finds the template `meta` names (or `template_override`) and resolves the layout for it:
/// the layout stage as a job runs it. Returns the template's file and the layout.
///
/// # Errors
/// Template and layout diagnostics; limit errors.
pub fn for_metadata(
    meta: &Metadata,
    template_override: Option<&str>,
    env: &Env,
) -> Result<(PathBuf, LayoutDoc), LayoutError> {
    let source =
        crate::template::find_for(meta, template_override, env.templates_dir(), &env.limits, &env.roots)?;
    Ok((source.path.clone(), resolve(meta, &source, env)?))
}

/// Renders the template for `meta` and resolves the result.
///
/// # Errors
/// Template, metadata or layout diagnostics; limit errors.
pub fn resolve(meta: &Metadata, template: &TemplateSource, env: &Env) -> Result<LayoutDoc, LayoutError> {
    let text = env.compiled_template(template)?.render(meta, &env.limits)?;
    resolve_rendered(&text, template, env, meta.source.parent())
}

/// Resolves already-rendered layout text.
///
/// # Errors
/// Diagnostics located in the rendered text (file = the template), or limit errors.
pub fn from_rendered(text: &str, template: &TemplateSource, env: &Env) -> Result<LayoutDoc, LayoutError> {
    resolve_rendered(text, template, env, None)
}

/// As [`from_rendered`]; image layers may also read from `meta_dir` (the metadata's folder,
/// where a relative watermark lives).
fn resolve_rendered(
    text: &str,
    template: &TemplateSource,
    env: &Env,
    meta_dir: Option<&Path>,
) -> Result<LayoutDoc, LayoutError> {
    let file = &template.path;
    let spec: Spec = serde_yaml_ng::from_str(text).map_err(|e| {
        let keys: Vec<&str> = spec::LAYER_KEYS
            .iter()
            .chain(["canvas", "fit", "layers", "background", "animated"].iter())
            .copied()
            .collect();
        let mut d = yaml_diagnostic(file, &e, &keys);
        d.message = format!("in the rendered layout: {}", d.message);
        if let Some(rest) = d.message.split("unknown variant `").nth(1) {
            let word = rest.split('`').next().unwrap_or("");
            let kinds = ["text", "image", "qr", "gradient", "rect"];
            if let Some(best) = closest(word, &kinds) {
                d = d.hint(format!("did you mean `{best}`?"));
            }
        }
        if d.hint.is_none() {
            d = d.hint("`coverforge layout --raw` prints the rendered text these lines refer to");
        }
        Diagnostics::from(d)
    })?;

    let lim = &env.limits;
    let limit_err = |source| LayoutError::Limit { file: file.clone(), source };
    let width = spec.canvas.width.0;
    let height = spec.canvas.height.0;
    for (what, v) in [("canvas width", width), ("canvas height", height)] {
        if v.is_nan() || v < 1.0 {
            return Err(Diagnostics::from(Diagnostic::new(
                file,
                format!("{what} {v} must be at least 1 px"),
            ))
            .into());
        }
        limits::check(what, v.round() as u64, lim.max_canvas_side as u64).map_err(limit_err)?;
    }
    limits::check("number of layers", spec.layers.len(), lim.max_layers).map_err(limit_err)?;
    env.fonts.preload(
        spec.layers
            .iter()
            .filter(|l| l.kind == spec::Kind::Text)
            .map(|l| l.font.as_deref().unwrap_or(DEFAULT_FONT)),
    );
    let canvas = CanvasDef {
        width: width.round() as u32,
        height: height.round() as u32,
        background: spec.canvas.background.unwrap_or(crate::color::Rgba::BLACK),
    };

    let mut zones = spec.safe_zones.clone();
    if let Some(platform) = &spec.platform {
        match safe_zones::profile(platform, canvas.width, canvas.height) {
            Some(z) => zones.extend(z),
            None => {
                let hint = closest(platform, safe_zones::PROFILES).map(|p| format!("did you mean `{p}`?"));
                let mut d = Diagnostic::new(
                    file,
                    format!("unknown platform `{platform}` (known: {})", safe_zones::PROFILES.join(", ")),
                )
                .at(text.lines().position(|l| l.starts_with("platform:")).map(|i| i + 1), None);
                if let Some(h) = hint {
                    d = d.hint(h);
                }
                return Err(Diagnostics::from(d).into());
            }
        }
    }
    let layer_lines = layer_lines(text);
    let template_dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut ctx = Resolver {
        env,
        file,
        canvas: &canvas,
        template_dir,
        meta_dir: meta_dir.map(Path::to_path_buf),
        placed: Vec::new(),
        problems: Vec::new(),
        zones,
        findings: Vec::new(),
        line: None,
        text_pixels: 0,
    };
    let mut layers = Vec::new();
    for (i, layer) in spec.layers.iter().enumerate() {
        let line = layer_lines.get(i).copied();
        ctx.line = line;
        let before = ctx.problems.len();
        match ctx.layer(i, layer) {
            Ok(Some(l)) => {
                ctx.placed.push((layer.id.clone(), l.bbox()));
                layers.push(l);
            }
            Ok(None) => ctx.placed.push((layer.id.clone(), Rect { x: 0, y: 0, width: 0, height: 0 })),
            Err(Some(e)) => return Err(e),
            Err(None) => {}
        }
        for d in &mut ctx.problems[before..] {
            if d.line.is_none() {
                d.line = line;
            }
        }
    }
    if !ctx.problems.is_empty() {
        return Err(Diagnostics(ctx.problems).into());
    }
    let (safe_zones, findings) = (ctx.zones, ctx.findings);
    Ok(LayoutDoc {
        template: template.name.clone(),
        canvas,
        fit: spec.fit,
        faces: spec.faces,
        layers,
        animated: spec.animated,
        safe_zones,
        findings,
    })
}

/// A layout number for a message: as written when reasonable, in scientific notation when huge
/// (a `1e300` offset is not printed as 301 digits).
pub(crate) fn show(v: f64) -> String {
    if v.abs() >= 1e7 {
        format!("{v:e}")
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

/// 1-based lines where each item of `layers:` starts in the rendered text.
fn layer_lines(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.trim_end() == "layers:") else { return vec![] };
    let indent = lines[start + 1..]
        .iter()
        .find(|l| l.trim_start().starts_with("- "))
        .map(|l| l.len() - l.trim_start().len());
    let Some(indent) = indent else { return vec![] };
    lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .filter(|(_, l)| l.len() - l.trim_start().len() == indent && l.trim_start().starts_with("- "))
        .map(|(i, _)| i + 1)
        .collect()
}

struct Resolver<'a> {
    env: &'a Env,
    file: &'a PathBuf,
    canvas: &'a CanvasDef,
    template_dir: PathBuf,
    /// The metadata's folder, when resolving for a metadata file.
    meta_dir: Option<PathBuf>,
    /// Ids and boxes of the layers so far (for `relative_to`).
    placed: Vec<(Option<String>, Rect)>,
    problems: Vec<Diagnostic>,
    /// Safe zones text and QR codes keep out of.
    zones: Vec<safe_zones::Zone>,
    findings: Vec<Finding>,
    /// Line of the layer being resolved.
    line: Option<usize>,
    /// Pixels of text drawing area so far (see `Limits::max_text_pixels`).
    text_pixels: u64,
}

/// `Err(None)`: a problem was recorded, go on with the next layer. `Err(Some)`: stop now.
type LayerResult = Result<Option<Layer>, Option<LayoutError>>;

impl Resolver<'_> {
    fn problem(&mut self, message: String) -> Option<LayoutError> {
        self.problems.push(Diagnostic::new(self.file, message));
        None
    }

    fn finding(&mut self, kind: FindingKind, layer: &str, message: String) {
        self.findings.push(Finding { kind, layer: layer.to_string(), line: self.line, message });
    }

    /// Moves a text or QR box out of the safe zones, or records a finding when it cannot.
    fn keep_clear(&mut self, name: &str, b: Rect) -> Rect {
        match safe_zones::keep_out(b, &self.zones, self.canvas.width, self.canvas.height) {
            Ok(moved) => moved,
            Err(zone) => {
                let message =
                    format!("overlaps the safe zone `{}` and cannot be moved clear of it", zone.name);
                self.finding(FindingKind::SafeZone, name, message);
                b
            }
        }
    }

    fn name(i: usize, l: &LayerSpec) -> String {
        match &l.id {
            Some(id) => format!("layer {} (`{id}`)", i + 1),
            None => format!("layer {}", i + 1),
        }
    }

    fn layer(&mut self, i: usize, l: &LayerSpec) -> LayerResult {
        let name = Self::name(i, l);
        if let Some(id) = &l.id {
            if self.placed.iter().any(|(p, _)| p.as_deref() == Some(id.as_str())) {
                return Err(self.problem(format!("{name}: id `{id}` is used by an earlier layer")));
            }
        }
        match l.kind {
            Kind::Text => self.text_layer(&name, l),
            Kind::Image => self.image_layer(&name, l),
            Kind::Qr => self.qr_layer(&name, l),
            Kind::Gradient => self.gradient_layer(&name, l),
            Kind::Rect => self.rect_layer(&name, l),
        }
    }

    fn check_size(&mut self, name: &str, w: f64, h: f64) -> Result<(), Option<LayoutError>> {
        let max = self.env.limits.max_canvas_side as f64;
        if !(w >= 0.0 && h >= 0.0) {
            return Err(self.problem(format!("{name}: size {}x{} must not be negative", show(w), show(h))));
        }
        if w > max || h > max {
            return Err(Some(LayoutError::Limit {
                file: self.file.clone(),
                source: limits::LimitError::new(
                    format!("{name} size"),
                    format!("{}x{}", show(w), show(h)),
                    format!("{max}x{max}"),
                ),
            }));
        }
        Ok(())
    }

    /// Places a `w`×`h` box: its `anchor` point goes to the `at` point of the reference box,
    /// plus (dx, dy).
    fn place(
        &mut self,
        name: &str,
        l: &LayerSpec,
        w: f64,
        h: f64,
        dx: f64,
        dy: f64,
    ) -> Result<Rect, Option<LayoutError>> {
        let p = spec::Placement {
            anchor: l.anchor,
            at: l.at,
            relative_to: l.relative_to.clone(),
            dx: None,
            dy: None,
        };
        self.place_at(name, &p, w, h, dx, dy)
    }

    /// Places a `w`×`h` box as `p` says (offsets given separately, already defaulted).
    fn place_at(
        &mut self,
        name: &str,
        l: &spec::Placement,
        w: f64,
        h: f64,
        dx: f64,
        dy: f64,
    ) -> Result<Rect, Option<LayoutError>> {
        // Every box of every kind is placed here: one bound for all of them.
        self.check_size(name, w, h)?;
        let far = 4.0 * self.env.limits.max_canvas_side as f64;
        for (key, v) in [("dx", dx), ("dy", dy)] {
            if !(-far..=far).contains(&v) {
                return Err(self.problem(format!("{name}: {key} {} is outside ±{far} px", show(v))));
            }
        }
        let reference = match l.relative_to.as_deref() {
            None | Some("canvas") => {
                Rect { x: 0, y: 0, width: self.canvas.width, height: self.canvas.height }
            }
            Some(other) => match self.placed.iter().find(|(id, _)| id.as_deref() == Some(other)) {
                Some((_, b)) => *b,
                None => {
                    let known: Vec<&str> = self.placed.iter().filter_map(|(id, _)| id.as_deref()).collect();
                    return Err(self.problem(format!(
                        "{name}: relative_to `{other}` is not `canvas` or the id of an earlier layer (earlier ids: {})",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    )));
                }
            },
        };
        let anchor = l.anchor.unwrap_or(Anchor::TopLeft);
        let at = l.at.unwrap_or(anchor);
        let (ax, ay) = at.fractions();
        let (sx, sy) = anchor.fractions();
        let x = reference.x as f64 + ax * reference.width as f64 + dx - sx * w;
        let y = reference.y as f64 + ay * reference.height as f64 + dy - sy * h;
        Ok(Rect {
            x: x.round() as i32,
            y: y.round() as i32,
            width: w.round() as u32,
            height: h.round() as u32,
        })
    }
}
