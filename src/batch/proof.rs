//! The proof sheet: one self-contained HTML page with a thumbnail of every cover, its status
//! and its error, so a designer can review a whole batch at a glance.
//!
//! Thumbnails are written to files as jobs finish (memory stays flat) and embedded as data URIs
//! when the page is assembled, so the page can be mailed or moved without its folder.

use super::{JobReport, Status, Summary};
use crate::model::html::escape;
use crate::pixels::Image;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Thumbnail height in pixels.
const THUMB_HEIGHT: u32 = 240;

/// What the sheet shows for one job.
pub(super) struct Row {
    /// The video and metadata: the variants of one job share it and one row of the sheet.
    group: String,
    variant: Option<String>,
    output: PathBuf,
    thumb: PathBuf,
    status: Status,
    title: String,
    error: Option<String>,
    /// The cover's measures, with `--measures`: shown, and used to sort and filter.
    measures: Option<crate::analyze::Measures>,
}

impl Row {
    /// A row for a cover rendered elsewhere (a worker of the fleet): its thumbnail is made from
    /// the cover file when missing.
    pub(super) fn for_cover(
        group: String,
        variant: Option<String>,
        output: &Path,
        status: Status,
        error: Option<String>,
        thumbs_dir: &Path,
    ) -> Self {
        if status != Status::Failed {
            ensure_thumbnail(output, thumbs_dir);
        }
        Row {
            group,
            variant,
            output: output.to_owned(),
            thumb: thumb_path(output, thumbs_dir),
            status,
            title: String::new(),
            error,
            measures: None,
        }
    }

    pub(super) fn from_report(r: &JobReport, thumbs_dir: &Path) -> Self {
        Row {
            group: format!("{} · {}", r.input.display(), r.meta),
            variant: r.variant.clone(),
            output: r.output.clone(),
            thumb: thumb_path(&r.output, thumbs_dir),
            status: r.status,
            title: r.title.clone().unwrap_or_default(),
            error: r.error.as_ref().map(|e| e.message.clone()),
            measures: r.measures.clone(),
        }
    }
}

fn thumb_path(output: &Path, thumbs_dir: &Path) -> PathBuf {
    thumbs_dir.join(format!("{}.jpg", output.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()))
}

/// Writes the thumbnail of a freshly rendered cover. Failures only cost the thumbnail.
pub(super) fn write_thumbnail(canvas: &Image, output: &Path, thumbs_dir: &Path) {
    let h = THUMB_HEIGHT.min(canvas.height());
    let w = ((canvas.width() as u64 * h as u64) / canvas.height().max(1) as u64).max(1) as u32;
    if let Ok(small) = canvas.crop_resized(canvas.bounds(), w, h) {
        if let Ok(bytes) = crate::encode::jpeg(&small, 80) {
            let _ = crate::files::write_atomic(
                &thumb_path(output, thumbs_dir),
                &bytes,
                crate::files::Durability::Unsynced,
            );
        }
    }
}

/// Makes sure a skipped cover has a thumbnail (e.g. the previous run had no proof sheet).
pub(super) fn ensure_thumbnail(output: &Path, thumbs_dir: &Path) {
    if !thumb_path(output, thumbs_dir).is_file() {
        if let Ok(img) = Image::load(output) {
            write_thumbnail(&img, output, thumbs_dir);
        }
    }
}

/// One cover's thumbnail and caption.
fn figure(w: &mut impl Write, row: &Row) -> std::io::Result<()> {
    use base64::Engine;
    let status = format!("{:?}", row.status).to_lowercase();
    write!(w, "<figure class=\"{status}\"")?;
    if let Some(m) = &row.measures {
        // `data-text_coverage="0.0912"`: the page's sort and filter read these.
        for (name, value) in crate::analyze::FEATURES.iter().zip(crate::analyze::features(m)) {
            if let Some(v) = value {
                write!(w, " data-{name}=\"{v}\"")?;
            }
        }
    }
    write!(w, ">")?;
    match std::fs::read(&row.thumb) {
        Ok(bytes) if row.status != Status::Failed => write!(
            w,
            "<img alt=\"{}\" src=\"data:image/jpeg;base64,{}\">",
            escape(&row.title),
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )?,
        _ => write!(w, "<div class=\"missing\"></div>")?,
    }
    write!(w, "<figcaption><span class=\"status\">{status}</span> ")?;
    if let Some(v) = &row.variant {
        write!(w, "<span class=\"variant\">{}</span> ", escape(v))?;
    }
    write!(w, "{}<br>{}", escape(&row.output.display().to_string()), escape(&row.title))?;
    if let Some(e) = &row.error {
        write!(w, "<br><span class=\"error\">{}</span>", escape(e))?;
    }
    if let Some(m) = &row.measures {
        write!(
            w,
            "<br><span class=\"measures\">saturation {:.0} · brightness {:.0}",
            m.stats.saturation_mean, m.stats.brightness
        )?;
        if let Some(t) = m.text_coverage {
            write!(w, " · text {:.1} %", t * 100.0)?;
        }
        if let Some(c) = m.title_contrast {
            write!(w, " · contrast {c:.1}")?;
        }
        if m.faces > 0 {
            write!(w, " · {} face(s)", m.faces)?;
        }
        write!(w, "</span>")?;
    }
    writeln!(w, "</figcaption></figure>")
}

/// The sort and filter bar of a sheet with measures.
fn tools(w: &mut impl Write) -> std::io::Result<()> {
    let options: String = crate::analyze::FEATURES
        .iter()
        .map(|f| format!("<option value=\"{f}\">{}</option>", f.replace('_', " ")))
        .collect();
    writeln!(
        w,
        "<div id=\"tools\">Sort by <select id=\"sort\"><option value=\"\">batch order</option>{options}</select> \
         <select id=\"order\"><option value=\"desc\">highest first</option><option value=\"asc\">lowest first</option></select> \
         · Show only <select id=\"filter\"><option value=\"\">all covers</option>{options}</select> \
         from <input id=\"min\" size=\"6\" placeholder=\"min\"> to <input id=\"max\" size=\"6\" placeholder=\"max\"> \
         · <span id=\"shown\"></span> (text coverage and face area are fractions of the cover: 0.08 is 8 %)</div>"
    )
}

/// Sorting flattens the variant groups into one grid (batch order restores them); filtering
/// hides covers whose value is missing or outside the range.
const TOOLS_SCRIPT: &str = "<script>(function(){\
const grid=document.querySelector('.grid');const original=grid.innerHTML;\
const $=id=>document.getElementById(id);\
function apply(){const key=$('sort').value,dir=$('order').value==='asc'?1:-1;\
if(!key){grid.innerHTML=original;}else{const figs=[...grid.querySelectorAll('figure')];\
figs.sort((a,b)=>{const x=parseFloat(a.dataset[key]),y=parseFloat(b.dataset[key]);\
if(isNaN(x))return isNaN(y)?0:1;if(isNaN(y))return -1;return dir*(x-y);});\
grid.innerHTML='';figs.forEach(f=>grid.appendChild(f));}\
const f=$('filter').value,lo=parseFloat($('min').value),hi=parseFloat($('max').value);let shown=0,all=0;\
grid.querySelectorAll('figure').forEach(fig=>{all++;let ok=true;if(f){const v=parseFloat(fig.dataset[f]);\
if(isNaN(v)||(!isNaN(lo)&&v<lo)||(!isNaN(hi)&&v>hi))ok=false;}fig.style.display=ok?'':'none';if(ok)shown++;});\
$('shown').textContent=shown+' of '+all+' covers shown';}\
['sort','order','filter','min','max'].forEach(id=>$(id).addEventListener('input',apply));apply();})();</script>";

/// Writes the page atomically.
pub(super) fn write(path: &Path, rows: &[Row], summary: &Summary) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut staged = crate::files::Staged::new(path)?;
    {
        let mut w = std::io::BufWriter::new(staged.file());
        write!(
            w,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>coverforge proof sheet</title>\n<style>\
             body{{font:14px system-ui,sans-serif;margin:16px;background:#f4f4f4}}\
             .grid{{display:flex;flex-wrap:wrap;gap:12px}}\
             figure{{margin:0;background:#fff;padding:8px;border-radius:6px;width:min-content;border:3px solid #ccc}}\
             figure.ok,figure.skipped{{border-color:#4caf50}} figure.failed{{border-color:#e53935}}\
             figure img{{height:{THUMB_HEIGHT}px;display:block}} .missing{{width:135px;height:{THUMB_HEIGHT}px;background:#ddd}}\
             figcaption{{width:220px;overflow-wrap:anywhere}}\
             .variants{{flex-basis:100%;background:#e8eaf6;padding:8px;border-radius:6px}} .variants h3{{margin:0 0 8px;font-size:14px}}\
             #tools{{margin:0 0 12px;padding:8px;background:#fff;border-radius:6px}} .measures{{color:#555;font-size:12px}}\
             .variants .row{{display:flex;gap:12px;flex-wrap:wrap}} .variant{{font-weight:bold;color:#283593}} .status{{font-weight:bold}} .error{{color:#b71c1c}}\
             </style></head><body>\n<h1>coverforge proof sheet</h1>\n<p>{} covers: {} rendered, {} unchanged, {} failed, {} planned.</p>\n",
            summary.total, summary.ok, summary.skipped, summary.failed, summary.planned
        )?;
        let measured = rows.iter().any(|r| r.measures.is_some());
        if measured {
            tools(&mut w)?;
        }
        writeln!(w, "<div class=\"grid\">")?;
        let mut open_group: Option<&str> = None;
        for row in rows {
            // A video's A/B variants sit side by side in a row of their own, under its name.
            let group = row.variant.as_ref().map(|_| row.group.as_str());
            if open_group.is_some() && open_group != group {
                writeln!(w, "</div></section>")?;
            }
            if group.is_some() && open_group != group {
                write!(
                    w,
                    "<section class=\"variants\"><h3>{} — A/B variants</h3><div class=\"row\">",
                    escape(&row.group)
                )?;
            }
            open_group = group;
            figure(&mut w, row)?;
        }
        if open_group.is_some() {
            writeln!(w, "</div></section>")?;
        }
        writeln!(w, "</div>{}</body></html>", if measured { TOOLS_SCRIPT } else { "" })?;
        w.flush()?;
    }
    staged.commit(crate::files::Durability::Unsynced)
}
