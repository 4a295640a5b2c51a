//! Stage 2c: turn a template's rendered text into a [`LayoutDoc`]: validate it, measure and wrap
//! text, size images and QR codes, and place every layer by its anchor.
//!
//! The layout stage sees fonts (to measure) and image headers (to size) but never the video
//! frame. All problems of one pass are collected and reported together, each with a line.

pub mod doc;
pub mod safe_zones;
mod spec;
pub mod text;

use crate::env::Env;
use crate::limits;
use crate::metadata::{closest, yaml_diagnostic, Metadata};
use crate::model::{Diagnostic, Diagnostics};
use crate::template::TemplateSource;
use doc::*;
use spec::{Anchor, Direction, Kind, LayerSpec, Paint, Spec};
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
    let source = crate::template::find_for(meta, template_override, env.templates_dir())?;
    Ok((source.path.clone(), resolve(meta, &source, env)?))
}

/// Renders the template for `meta` and resolves the result.
///
/// # Errors
/// Template, metadata or layout diagnostics; limit errors.
pub fn resolve(meta: &Metadata, template: &TemplateSource, env: &Env) -> Result<LayoutDoc, LayoutError> {
    let text = env.compiled_template(template)?.render(meta, env.limits.max_template_output)?;
    from_rendered(&text, template, env)
}

/// Resolves already-rendered layout text.
///
/// # Errors
/// Diagnostics located in the rendered text (file = the template), or limit errors.
pub fn from_rendered(text: &str, template: &TemplateSource, env: &Env) -> Result<LayoutDoc, LayoutError> {
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
        placed: Vec::new(),
        problems: Vec::new(),
        zones,
        findings: Vec::new(),
        line: None,
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
    /// Ids and boxes of the layers so far (for `relative_to`).
    placed: Vec<(Option<String>, Rect)>,
    problems: Vec<Diagnostic>,
    /// Safe zones text and QR codes keep out of.
    zones: Vec<safe_zones::Zone>,
    findings: Vec<Finding>,
    /// Line of the layer being resolved.
    line: Option<usize>,
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
        let cw = self.canvas.width as f64;
        let ch = self.canvas.height as f64;
        let num = |n: Option<spec::Num>, default: f64| n.map_or(default, |n| n.0);
        let dx = num(l.dx, 0.0);
        let dy = num(l.dy, 0.0);
        let id = l.id.clone();
        match l.kind {
            Kind::Text => {
                let Some(text) = &l.text else {
                    return Err(self.problem(format!("{name}: a text layer needs `text`")));
                };
                let n = text.chars().count();
                if n > self.env.limits.max_text_chars {
                    return Err(Some(LayoutError::Limit {
                        file: self.file.clone(),
                        source: limits::LimitError::new(
                            format!("{name} text length"),
                            n,
                            self.env.limits.max_text_chars,
                        ),
                    }));
                }
                let font_name = l.font.clone().unwrap_or_else(|| DEFAULT_FONT.to_string());
                let font =
                    self.env.fonts.get(&font_name).map_err(|m| self.problem(format!("{name}: {m}")))?;
                let max_size = num(l.size, 48.0);
                let min_size = num(l.min_size, max_size);
                for (key, v) in [("size", max_size), ("min_size", min_size)] {
                    if !(4.0..=1000.0).contains(&v) {
                        return Err(self.problem(format!("{name}: {key} {v} is outside 4–1000 px")));
                    }
                }
                if min_size > max_size {
                    return Err(
                        self.problem(format!("{name}: min_size {min_size} is larger than size {max_size}"))
                    );
                }
                let line_factor = num(l.line_height, 1.25);
                let spacing = num(l.letter_spacing, 0.0) as f32;
                let max_lines = num(l.max_lines, 2.0).max(1.0) as usize;
                let box_w = num(l.width, (cw - 2.0 * dx.abs()).max(1.0)).max(1.0);
                let box_h = l.height.map(|n| n.0);
                let marked = text::parse_markup(text);
                // The fallback chain: the layer's font, then its `fallback` fonts, by default the
                // colour emoji font when the fonts folder has it.
                let fallback_names: Vec<String> = match &l.fallback {
                    Some(list) => list.clone(),
                    None => DEFAULT_FALLBACK
                        .iter()
                        .filter(|f| self.env.fonts.path(f).is_ok())
                        .map(|f| f.to_string())
                        .collect(),
                };
                let mut chain = vec![font.clone()];
                for f in &fallback_names {
                    chain.push(
                        self.env.fonts.get(f).map_err(|m| self.problem(format!("{name}: fallback {m}")))?,
                    );
                }
                let missing = text::Measurer::new(&chain, max_size as f32, spacing).missing(&marked);
                if !missing.is_empty() {
                    let list: String = missing.iter().collect();
                    let fonts: Vec<&str> = chain.iter().map(|f| f.name.as_str()).collect();
                    return Err(self.problem(format!(
                        "{name}: no font of `{}` has glyphs for `{list}`",
                        fonts.join(", ")
                    )));
                }
                let balance = l.balance.unwrap_or(false);
                // Wraps at one size; "fits" means no ellipsis and, with a box height, no overflow.
                let attempt = |size: f64| {
                    let m = text::Measurer::new(&chain, size as f32, spacing);
                    let w = if marked.trim().is_empty() {
                        text::Wrapped { lines: vec![], truncated: false }
                    } else if balance {
                        text::wrap_balanced(&marked, &m, box_w as f32, max_lines)
                    } else {
                        text::wrap(&marked, &m, box_w as f32, max_lines)
                    };
                    let fits =
                        !w.truncated && box_h.is_none_or(|h| w.lines.len() as f64 * line_factor * size <= h);
                    (w, fits)
                };
                // Fit-to-box: the largest whole-pixel size in [min_size, size] that fits; only
                // when even min_size does not fit does the ellipsis cut the text.
                let (size, wrapped) = match attempt(max_size) {
                    (w, true) => (max_size, w),
                    (w, false) if min_size >= max_size => (max_size, w),
                    _ => match attempt(min_size) {
                        (w, false) => (min_size, w),
                        (w, true) => {
                            let (mut lo, mut hi, mut best) =
                                (min_size.ceil(), max_size.floor(), (min_size, w));
                            while hi - lo > 0.5 {
                                let mid = ((lo + hi) / 2.0).ceil();
                                match attempt(mid) {
                                    (w, true) => {
                                        best = (mid, w);
                                        lo = mid;
                                    }
                                    _ => hi = mid - 1.0,
                                }
                            }
                            if lo > best.0 {
                                if let (w, true) = attempt(lo) {
                                    best = (lo, w);
                                }
                            }
                            best
                        }
                    },
                };
                let line_height = (line_factor * size) as f32;
                let align = l.align.unwrap_or_default();
                let mut open = false;
                let lines: Vec<TextLine> = wrapped
                    .lines
                    .into_iter()
                    .map(|(t, w)| {
                        let slack = (box_w - w as f64).max(0.0);
                        let x = match align {
                            Align::Left => 0.0,
                            Align::Center => slack / 2.0,
                            Align::Right => slack,
                        };
                        let (text, highlights) = text::split_highlights(&t, &mut open);
                        TextLine { text, x: x.round() as i32, width: w.ceil() as u32, highlights }
                    })
                    .collect();
                let h = (lines.len() as f32 * line_height).ceil() as f64;
                let bbox = self.place(&name, l, box_w, h, dx, dy)?;
                let bbox = self.keep_clear(&name, bbox);
                // Other places the text may take when the frame has a face where `bbox` is.
                let mut alternatives = Vec::new();
                for alt in l.alternatives.iter().flatten() {
                    let (adx, ady) = (num(alt.dx, 0.0), num(alt.dy, 0.0));
                    let b = self.place_at(&name, alt, box_w, h, adx, ady)?;
                    alternatives.push(self.keep_clear(&name, b));
                }
                if wrapped.truncated {
                    let (kind, message) = if min_size < max_size {
                        (
                            FindingKind::BelowMinimum,
                            format!("shrank to its minimum size {min_size} px and was still cut by an ellipsis after {max_lines} line(s)"),
                        )
                    } else {
                        (FindingKind::Truncated, format!("text is longer than the template allows: cut by an ellipsis after {max_lines} line(s)"))
                    };
                    self.finding(kind, &name, message);
                }
                let shadow = l.shadow.as_ref().map(|s| Shadow {
                    dx: num(s.dx, 0.0).round() as i32,
                    dy: num(s.dy, 4.0).round() as i32,
                    blur: num(s.blur, 8.0).max(0.0) as f32,
                    color: s.color.unwrap_or(crate::color::Rgba { a: 160, ..crate::color::Rgba::BLACK }),
                });
                let stroke = l.stroke.as_ref().map(|s| Stroke {
                    width: num(s.width, 3.0).clamp(0.0, 64.0) as f32,
                    color: s.color.unwrap_or(crate::color::Rgba::BLACK),
                });
                let (color, auto_color) = match l.color {
                    None => (crate::color::Rgba::WHITE, false),
                    Some(Paint::Color(c)) => (c, false),
                    Some(Paint::Auto) => (crate::color::Rgba::WHITE, true),
                };
                Ok(Some(Layer::Text(TextLayer {
                    id,
                    bbox,
                    font: font_name,
                    size: size as f32,
                    line_height,
                    color,
                    auto_color,
                    letter_spacing: spacing,
                    stroke,
                    highlight: l.highlight,
                    fallback: {
                        let used = text::Measurer::new(&chain, size as f32, spacing).fonts_used(&marked);
                        used.into_iter().filter(|&i| i > 0).map(|i| chain[i].name.clone()).collect()
                    },
                    alternatives,
                    align,
                    shadow,
                    truncated: wrapped.truncated,
                    lines,
                })))
            }
            Kind::Image => {
                let Some(src) = l.src.as_deref().filter(|s| !s.is_empty()) else {
                    return Ok(None); // e.g. `src: {{ watermark }}` with no watermark
                };
                let path = if Path::new(src).is_absolute() {
                    PathBuf::from(src)
                } else {
                    self.template_dir.join(src)
                };
                let img = self.env.image(&path).map_err(|m| self.problem(format!("{name}: {m}")))?;
                let (iw, ih) = (img.width() as f64, img.height() as f64);
                let (w, h) = match (l.width.map(|n| n.0), l.height.map(|n| n.0)) {
                    (Some(w), Some(h)) => (w, h),
                    (Some(w), None) => (w, w * ih / iw),
                    (None, Some(h)) => (h * iw / ih, h),
                    (None, None) => (iw, ih),
                };
                self.check_size(&name, w, h)?;
                let bbox = self.place(&name, l, w, h, dx, dy)?;
                let opacity = num(l.opacity, 1.0);
                if !(0.0..=1.0).contains(&opacity) {
                    return Err(self.problem(format!("{name}: opacity {opacity} is outside 0–1")));
                }
                Ok(Some(Layer::Image(ImageLayer { id, bbox, src: path, opacity: opacity as f32 })))
            }
            Kind::Qr => {
                let Some(data) = l.data.as_deref().filter(|s| !s.is_empty()) else {
                    return Ok(None); // e.g. `data: {{ link }}` with no link
                };
                let code = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M)
                    .map_err(|e| self.problem(format!("{name}: cannot encode `{data}` as a QR code: {e}")))?;
                let modules = code.width() as u32;
                let quiet = num(l.quiet_zone, 4.0);
                if !(2.0..=16.0).contains(&quiet) {
                    return Err(self.problem(format!(
                        "{name}: quiet_zone {quiet} is outside 2–16 modules (4 is the standard)"
                    )));
                }
                let quiet = quiet as u32;
                let size = num(l.width.or(l.height), 240.0);
                let needed = (modules + 2 * quiet) as f64;
                if size < needed {
                    return Err(self.problem(format!(
                        "{name}: a {size} px QR code cannot draw {modules}+{}x2 modules of at least 1 px (needs {needed} px)",
                        quiet
                    )));
                }
                let bbox = self.place(&name, l, size, size, dx, dy)?;
                let bbox = self.keep_clear(&name, bbox);
                let module_px = (size as u32) / (modules + 2 * quiet);
                if module_px < 4 {
                    self.finding(
                        FindingKind::QrModules,
                        &name,
                        format!("QR modules are {module_px} px at the output size ({modules} modules in {size} px); phones read 4 px and up reliably"),
                    );
                }
                if quiet < 4 {
                    self.finding(
                        FindingKind::QrQuietZone,
                        &name,
                        format!("QR quiet zone is {quiet} modules; the standard is 4"),
                    );
                }
                Ok(Some(Layer::Qr(QrLayer {
                    id,
                    bbox,
                    data: data.to_string(),
                    modules,
                    quiet_zone: quiet,
                    dark: l.dark.unwrap_or(crate::color::Rgba::BLACK),
                    light: l.light.unwrap_or(crate::color::Rgba::WHITE),
                })))
            }
            Kind::Gradient => {
                let (Some(from), Some(to)) = (l.from, l.to) else {
                    return Err(self.problem(format!("{name}: a gradient needs `from` and `to` colours")));
                };
                let (w, h) = (num(l.width, cw), num(l.height, ch));
                self.check_size(&name, w, h)?;
                let bbox = self.place(&name, l, w, h, dx, dy)?;
                let vertical = l.direction.unwrap_or_default() == Direction::Vertical;
                Ok(Some(Layer::Gradient(GradientLayer { id, bbox, vertical, from, to })))
            }
            Kind::Rect => {
                let color = match l.color {
                    Some(Paint::Color(c)) => c,
                    Some(Paint::Auto) => {
                        return Err(self.problem(format!("{name}: a rect colour cannot be `auto`")))
                    }
                    None => return Err(self.problem(format!("{name}: a rect needs `color`"))),
                };
                let (w, h) = (num(l.width, cw), num(l.height, ch));
                self.check_size(&name, w, h)?;
                let bbox = self.place(&name, l, w, h, dx, dy)?;
                Ok(Some(Layer::Rect(RectLayer { id, bbox, color })))
            }
        }
    }

    fn check_size(&mut self, name: &str, w: f64, h: f64) -> Result<(), Option<LayoutError>> {
        let max = self.env.limits.max_canvas_side as f64;
        if !(w >= 0.0 && h >= 0.0) {
            return Err(self.problem(format!("{name}: size {w}x{h} must not be negative")));
        }
        if w > max || h > max {
            return Err(Some(LayoutError::Limit {
                file: self.file.clone(),
                source: limits::LimitError::new(
                    format!("{name} size"),
                    format!("{w}x{h}"),
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
