//! Where a paragraph's lines may break, and which breaks a designer would choose.
//!
//! Break opportunities come from UAX #14 (`unicode-linebreak`: spaces, CJK, kinsoku — no line
//! starts with `，。」！` and friends or ends with `「（`), narrowed for Chinese by a word
//! segmenter (`jieba-rs` and its dictionary, see [`super::words`]): between two CJK characters a line may only
//! break where a word ends, and a number keeps the character after it (its unit: `3分钟`).
//! Where nothing else fits (a word wider than the box), any grapheme boundary will do.
//!
//! Among all the ways to break, [`choose`] takes the cheapest by a cost with these terms, from
//! strongest to weakest (weights below):
//! 1. breaks between graphemes that UAX #14 forbids (only for text that cannot fit otherwise);
//! 2. breaks inside a word;
//! 3. a line of one character (punctuation does not count);
//! 4. the number of lines (fewer first);
//! 5. the shape: balanced lines (every line near the average width) with `balance: true`,
//!    otherwise the room left on each line but the last plus each line's distance from the
//!    average width (squared);
//!    a bonus for breaking after punctuation (`：！？。；｜` more than `，、`), a penalty for a
//!    line that starts with a particle (`的了吗呢…`) or holds only two characters.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

/// What breaking before a cluster costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// UAX #14 allows it and it is not inside a word.
    Allowed,
    /// Between two one-character words: often a word the dictionary lacks (暖|心) or a verb
    /// and its object (别|吃). Taken when it spares a line or a worse break.
    Loose,
    /// Allowed by UAX #14, but inside a word or between a number and its unit.
    InsideWord,
    /// UAX #14 forbids it (only taken when a piece is wider than the box).
    Emergency,
}

const EMERGENCY: f64 = 1e9;
const INSIDE_WORD: f64 = 1e7;
const LOOSE: f64 = 5000.0;
const ORPHAN: f64 = 1e6;
const LINE: f64 = 1e5;
/// Scale of the shape terms (a line that is all slack costs this much).
const SHAPE: f64 = 1000.0;
/// Full lines: each line but the last pays for its room left, and every line for its distance
/// from the average width (titles read better in lines of similar length).
const FILL_WEIGHT: f64 = 1.0;
const BALANCE_WEIGHT: f64 = 1.0;
const STRONG_PUNCT_BONUS: f64 = 400.0;
const MILD_PUNCT_BONUS: f64 = 250.0;
/// More than a line: a particle starting a line reads like a word cut in two.
const PARTICLE_START: f64 = 2e5;
const FORWARD_END: f64 = 400.0;
/// A line ending with a one-character word (a verb cut from its object: 只吃/便利店).
const SINGLE_END: f64 = 150.0;
/// After 的, where a modifier phrase ends (小学生都能听懂的/相对论).
const PHRASE_BONUS: f64 = 150.0;
const TWO_CHAR_LINE: f64 = 600.0;

/// Ideographs, kana, hangul and full-width forms.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF
        | 0x20000..=0x2FA1F)
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

fn is_strong_punct(c: char) -> bool {
    "：:！!？?。；;｜|」』）)】》".contains(c)
}

fn is_mild_punct(c: char) -> bool {
    "，,、…—·".contains(c)
}

/// Particles that read wrong at the start of a line.
fn is_particle(c: char) -> bool {
    "的了吗呢吧啊着过地得们么嘛呀".contains(c)
}

/// One-character words that bind to what follows (prepositions, the copula, modal verbs):
/// a line should not end with one.
fn binds_forward(c: char) -> bool {
    "是要在和与把被对给从向让将跟比".contains(c)
}

/// The class of breaking before each grapheme cluster of `text` (index 0 is never a break; its
/// class is unused). Cached per text: fit-to-box sets a title at several sizes, and a batch's
/// titles repeat.
pub fn classes(text: &str) -> Arc<[Class]> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<[Class]>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(text) {
        return c.clone();
    }
    let found: Arc<[Class]> = classify(text).into();
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if c.len() > 4096 {
        c.clear(); // a bound beats an eviction policy here
    }
    c.insert(text.to_owned(), found.clone());
    found
}

fn classify(text: &str) -> Vec<Class> {
    use unicode_segmentation::UnicodeSegmentation;
    let allowed: HashSet<usize> = unicode_linebreak::linebreaks(text)
        .filter(|(_, o)| *o == unicode_linebreak::BreakOpportunity::Allowed)
        .map(|(i, _)| i)
        .collect();
    let words = if text.chars().any(is_han) { Some(super::words::word_starts(text)) } else { None };
    // Inside 《book titles》 and 【tags】: names, kept whole like words.
    let mut depth = 0i32;
    let mut inside_name = vec![false; text.len() + 1];
    for (i, c) in text.char_indices() {
        match c {
            '《' | '【' => depth += 1,
            '》' | '】' => depth = (depth - 1).max(0),
            _ => {}
        }
        inside_name[i + c.len_utf8()] = depth > 0;
    }
    text.grapheme_indices(true)
        .enumerate()
        .map(|(k, (start, _))| {
            if k == 0 || !allowed.contains(&start) {
                return Class::Emergency;
            }
            let before = text[..start].chars().next_back().unwrap_or(' ');
            let after = text[start..].chars().next().unwrap_or(' ');
            let both_han = is_han(before) && is_han(after);
            let words = words.as_ref().filter(|_| both_han);
            let inside_word = words.is_some_and(|w| !w.contains_key(&start));
            // One-character words on both sides of the break.
            let single = |len: Option<&usize>| len.is_some_and(|l| *l <= 4);
            let loose =
                words.is_some_and(|w| single(w.get(&start)) && single(w.get(&(start - before.len_utf8()))));
            let name = inside_name[start] && !matches!(after, '》' | '】');
            if inside_word || name || (before.is_ascii_digit() && is_cjk(after)) {
                Class::InsideWord
            } else if loose && !is_particle(after) && !is_particle(before) {
                Class::Loose
            } else {
                Class::Allowed
            }
        })
        .collect()
}

/// A paragraph to break: its clusters (text, width in px) and break classes.
pub struct Paragraph<'a> {
    /// Each grapheme cluster's text.
    pub clusters: Vec<&'a str>,
    /// Break class before each cluster.
    pub classes: Arc<[Class]>,
    /// Letter spacing in px.
    spacing: f32,
    /// Sums over clusters `[0, k)`: advances, clusters spacing goes before, content clusters
    /// (widths and counts of any line in O(1): the search tries many lines).
    advance_sum: Vec<f64>,
    spaced_sum: Vec<u32>,
    content_sum: Vec<u32>,
}

/// How lines should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Fill each line but the last.
    Full,
    /// Every line close to the same width.
    Balanced,
}

fn is_space(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

fn is_content(s: &str) -> bool {
    s.chars().any(|c| {
        c.is_alphanumeric()
            || (is_cjk(c)
                && !is_strong_punct(c)
                && !is_mild_punct(c)
                && !"，。、「」『』（）【】《》〈〉".contains(c))
    }) || s.chars().any(|c| c as u32 >= 0x1F000)
}

impl<'a> Paragraph<'a> {
    /// A paragraph of `clusters` with their `advances` (px), whether letter `spacing` (px)
    /// goes before each, and the break `classes`.
    pub fn new(
        clusters: Vec<&'a str>,
        advances: &[f32],
        spaced: &[bool],
        spacing: f32,
        classes: Arc<[Class]>,
    ) -> Self {
        let mut advance_sum = vec![0.0];
        let mut spaced_sum = vec![0];
        let mut content_sum = vec![0];
        for (k, c) in clusters.iter().enumerate() {
            advance_sum.push(advance_sum[k] + advances[k] as f64);
            spaced_sum.push(spaced_sum[k] + u32::from(spaced[k]));
            content_sum.push(content_sum[k] + u32::from(is_content(c)));
        }
        Paragraph { clusters, classes, spacing, advance_sum, spaced_sum, content_sum }
    }

    /// The trimmed extent of the line `[i, j)` (no spaces at either end).
    fn trimmed(&self, i: usize, j: usize) -> (usize, usize) {
        let (mut a, mut b) = (i, j);
        while a < b && is_space(self.clusters[a]) {
            a += 1;
        }
        while b > a && is_space(self.clusters[b - 1]) {
            b -= 1;
        }
        (a, b)
    }

    /// Width in px of the line `[i, j)` without its end spaces.
    pub fn width(&self, i: usize, j: usize) -> f32 {
        let (a, b) = self.trimmed(i, j);
        if a == b {
            return 0.0;
        }
        let gaps = self.spaced_sum[b] - self.spaced_sum[a + 1];
        (self.advance_sum[b] - self.advance_sum[a]) as f32 + gaps as f32 * self.spacing
    }

    /// Visible characters of the line that are not punctuation.
    fn content(&self, i: usize, j: usize) -> usize {
        (self.content_sum[j] - self.content_sum[i]) as usize
    }

    /// The cost of breaking before cluster `k` (its class and punctuation).
    fn break_cost(&self, k: usize) -> f64 {
        let class = match self.classes[k] {
            Class::Allowed => 0.0,
            Class::Loose => LOOSE,
            Class::InsideWord => INSIDE_WORD,
            Class::Emergency => EMERGENCY,
        };
        let before =
            self.clusters[..k].iter().rev().find(|c| !is_space(c)).and_then(|c| c.chars().next_back());
        let bonus = match before {
            Some(c) if is_strong_punct(c) => STRONG_PUNCT_BONUS,
            Some(c) if is_mild_punct(c) => MILD_PUNCT_BONUS,
            _ => 0.0,
        };
        let next = self.clusters[k..].iter().find(|c| !is_space(c)).and_then(|c| c.chars().next());
        // A particle that is a word of its own (not the start of a longer word such as 的确).
        let particle = next.is_some_and(is_particle) && self.classes.get(k + 1) != Some(&Class::InsideWord);
        // The line ends with a one-character word (not inside a longer one, not punctuation).
        let single_end = before.is_some_and(is_han)
            && !before.is_some_and(is_particle)
            && self.classes.get(k - 1).is_none_or(|c| matches!(c, Class::Allowed | Class::Loose))
            && k >= 2;
        let phrase = before == Some('的');
        // A one-character word such as 是 or 在 ending the line.
        let forward = before.is_some_and(binds_forward)
            && matches!(self.classes[k], Class::Allowed | Class::Loose)
            && self.classes.get(k - 1).is_none_or(|c| matches!(c, Class::Allowed | Class::Loose));
        class - bonus - if phrase { PHRASE_BONUS } else { 0.0 }
            + if particle { PARTICLE_START } else { 0.0 }
            + if forward {
                FORWARD_END
            } else if single_end {
                SINGLE_END
            } else {
                0.0
            }
    }
}

/// The best breaks of `p` into lines at most `max_width` px wide, as cluster indices where each
/// line after the first starts; `None` when no way of breaking needs at most `max_lines` lines.
pub fn choose(p: &Paragraph<'_>, max_width: f32, max_lines: usize, shape: Shape) -> Option<Vec<usize>> {
    let n = p.clusters.len();
    if n == 0 {
        return Some(vec![]);
    }
    if p.width(0, n) <= max_width {
        return Some(vec![]);
    }
    let fewest = greedy(p, max_width, usize::MAX).len() + 1;
    if fewest > max_lines {
        return None;
    }
    let total_content = p.content(0, n);
    let line_cost = |i: usize, j: usize, target: f64, last: bool| -> Option<f64> {
        let w = p.width(i, j);
        if w > max_width && j - i > 1 {
            return None; // too wide (one cluster wider than the box is let through)
        }
        let c = p.content(i, j);
        let mut cost = 0.0;
        if c <= 1 && total_content > 1 {
            cost += ORPHAN;
        } else if c == 2 && total_content > 4 {
            cost += TWO_CHAR_LINE;
        }
        let room = |w: f64| ((w / max_width as f64).min(2.0)).powi(2) * SHAPE;
        // Balanced: every line near the average. Full: lines filled, and the last not much
        // shorter than the average (a title that ends in a stub reads as cut off).
        cost += match shape {
            Shape::Balanced => room((target - w as f64).abs()),
            Shape::Full if !last => {
                FILL_WEIGHT * room(max_width as f64 - w as f64)
                    + BALANCE_WEIGHT * room((target - w as f64).abs())
            }
            Shape::Full => BALANCE_WEIGHT * room((target - w as f64).abs()),
        };
        Some(cost)
    };
    let break_costs: Vec<f64> = (0..n).map(|j| if j == 0 { 0.0 } else { p.break_cost(j) }).collect();
    let mut best: Option<(f64, Vec<usize>)> = None;
    for lines in fewest..=(fewest + 1).min(max_lines).min(n) {
        let target = p.width(0, n) as f64 / lines as f64;
        // cost[k][j]: the cheapest way to set clusters [0, j) in k lines, and where the
        // last of them starts.
        let mut cost = vec![vec![(f64::INFINITY, 0usize); n + 1]; lines + 1];
        cost[0][0] = (0.0, 0);
        for k in 1..=lines {
            for j in 1..=n {
                if j < n && k == lines {
                    continue;
                }
                let break_at_j = if j < n { break_costs[j] } else { 0.0 };
                for i in (0..j).rev() {
                    if p.width(i, j) > max_width && j - i > 1 {
                        break; // wider only grows leftwards
                    }
                    let (before, _) = cost[k - 1][i];
                    if !before.is_finite() {
                        continue;
                    }
                    if let Some(c) = line_cost(i, j, target, j == n) {
                        let total = before + c + break_at_j;
                        if total < cost[k][j].0 {
                            cost[k][j] = (total, i);
                        }
                    }
                }
            }
        }
        let (total, _) = cost[lines][n];
        if !total.is_finite() {
            continue;
        }
        let total = total + LINE * lines as f64;
        let mut starts = Vec::new();
        let (mut k, mut j) = (lines, n);
        while k > 1 {
            let i = cost[k][j].1;
            starts.push(i);
            j = i;
            k -= 1;
        }
        starts.reverse();
        if best.as_ref().is_none_or(|(b, _)| total < *b) {
            best = Some((total, starts));
        }
    }
    best.map(|(_, s)| s)
}

/// Fills lines as far as they go (inside a word too; between graphemes UAX #14 keeps together
/// only when nothing else fits): the starts of at most `max_lines` lines after the first. It
/// counts the fewest lines the text can take, and sets text cut by an ellipsis.
pub fn greedy(p: &Paragraph<'_>, max_width: f32, max_lines: usize) -> Vec<usize> {
    let n = p.clusters.len();
    let mut starts = Vec::new();
    let mut i = 0;
    while i < n && starts.len() + 1 < max_lines {
        // The furthest end that fits, UAX #14 allowing, and the furthest of all.
        let mut best: [Option<usize>; 2] = [None; 2];
        for j in i + 1..=n {
            if p.width(i, j) > max_width && j > i + 1 {
                break;
            }
            if j == n {
                return starts;
            }
            best[usize::from(p.classes[j] == Class::Emergency)] = Some(j);
        }
        let Some(j) = best.iter().flatten().next().copied() else { return starts };
        starts.push(j);
        i = j;
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_segmentation::UnicodeSegmentation;

    fn para(text: &str) -> Paragraph<'_> {
        let clusters: Vec<&str> = text.graphemes(true).collect();
        let advances: Vec<f32> =
            clusters.iter().map(|c| if c.chars().any(is_cjk) { 10.0 } else { 5.0 }).collect();
        let spaced = vec![true; clusters.len()];
        Paragraph::new(clusters, &advances, &spaced, 0.0, classes(text))
    }

    fn set(text: &str, width: f32, shape: Shape) -> String {
        let p = para(text);
        let starts = choose(&p, width, 10, shape).unwrap();
        let mut out = String::new();
        for (k, c) in p.clusters.iter().enumerate() {
            if starts.contains(&k) {
                out.push('/');
            }
            out.push_str(c);
        }
        out
    }

    #[test]
    fn words_units_and_punctuation() {
        assert_eq!(set("大雄兔的森林冒险：三分钟看完", 80.0, Shape::Full), "大雄兔的森林/冒险：三分钟看完");
        assert_eq!(set("两个人的旅行，从计划开始", 80.0, Shape::Full), "两个人的旅行，/从计划开始");
        let c = classes("3分钟");
        assert_eq!(c[1], Class::InsideWord, "a number keeps its unit");
        assert_eq!(set("Hello wide world", 40.0, Shape::Full), "Hello /wide /world");
    }

    #[test]
    fn a_long_text_breaks_into_full_lines() {
        // 500 characters at 50 a line (prefix sums keep each line's width O(1)).
        let text = "很长的标题".repeat(100);
        let starts = choose(&para(&text), 500.0, 100, Shape::Balanced).unwrap();
        assert_eq!(starts.len(), 9);
    }

    #[test]
    fn no_line_of_one_character() {
        let s = set("自制酸奶的正确方法", 80.0, Shape::Full);
        assert!(!s.split('/').any(|l| l.chars().count() == 1), "{s}");
    }
}
