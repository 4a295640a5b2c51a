//! Where the words of a Chinese text begin: jieba-rs with its built-in dictionary, without
//! waiting for it.
//!
//! Building jieba's dictionary (349 k words into its trie) takes 150–220 ms on one core: most of
//! a single cover's time, and at the start of a batch every worker stood still for it. It is
//! built on a thread of its own ([`warm_up`]). Until it is ready, a text is cut by a segmenter
//! made for that text alone: the dictionary's entries that occur inside the text, looked up in a
//! sorted copy of the same dictionary embedded in the binary (`assets/jieba/dict.txt`), plus
//! one entry no text contains holding the rest of the dictionary's frequency. jieba's cut of a
//! text reads only the dictionary words inside that text, their frequencies and the dictionary's
//! total, so both segmenters cut every text alike; the tests hold them to it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Once, OnceLock};

/// jieba-rs 0.11's `src/data/dict.txt`: `word frequency tag` a line, sorted by the word's bytes.
/// Embedded as text, so nothing is decompressed or indexed before the first lookup (unpacking a
/// zstd copy and indexing its lines took 90 ms, half of what building jieba takes).
const DICTIONARY: &str = include_str!("../../assets/jieba/dict.txt");

/// The sum of every frequency in [`DICTIONARY`] (a test recomputes it).
const TOTAL: u64 = 60_101_964;

/// The one entry a text's segmenter adds: a noncharacter no title holds (a text that does waits
/// for the full dictionary).
const REST: &str = "\u{FFFF}";

/// Starts building the full segmenter on a thread of its own (once; callers that set text call
/// it early).
pub fn warm_up() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            full();
        });
    });
}

static FULL: OnceLock<jieba_rs::Jieba> = OnceLock::new();

/// The full segmenter, built here if no thread has started it (waits for one that has).
fn full() -> &'static jieba_rs::Jieba {
    FULL.get_or_init(jieba_rs::Jieba::new)
}

/// The full segmenter if it is built (only [`warm_up`] starts building it: a single cover cuts
/// its few texts in well under a millisecond without it).
fn full_if_ready() -> Option<&'static jieba_rs::Jieba> {
    FULL.get()
}

/// Byte offsets where a word starts in `text`, with the word's length in bytes.
pub fn word_starts(text: &str) -> HashMap<usize, usize> {
    let mut starts = HashMap::new();
    let mut at = 0;
    let mut add = |word: &str| {
        starts.insert(at, word.len());
        at += word.len();
    };
    match full_if_ready() {
        Some(jieba) => jieba.cut(text, true).iter().for_each(|t| add(t.word)),
        None if text.contains(REST) => full().cut(text, true).iter().for_each(|t| add(t.word)),
        None => for_text(text).cut(text, true).iter().for_each(|t| add(t.word)),
    }
    starts
}

/// A segmenter that cuts `text` as the full one does (see the module docs).
fn for_text(text: &str) -> jieba_rs::Jieba {
    let mut entries = String::new();
    let mut inside = 0u64;
    for line in lines_inside(text) {
        entries.push_str(line);
        entries.push('\n');
        inside += frequency(line);
    }
    entries.push_str(&format!("{REST} {} x\n", TOTAL - inside));
    let mut jieba = jieba_rs::Jieba::empty();
    jieba.load_dict(&mut entries.as_bytes()).expect("entries copied from the dictionary parse");
    jieba
}

fn frequency(line: &str) -> u64 {
    line.split(' ').nth(1).and_then(|f| f.parse().ok()).unwrap_or(0)
}

/// The dictionary's line holding byte `at` (its start, and the line without its newline). Any
/// byte will do: lines are found by their newlines, which are never inside a character.
fn line_at(at: usize) -> (usize, &'static str) {
    let bytes = DICTIONARY.as_bytes();
    let start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let end = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| at + i);
    (start, &DICTIONARY[start..end])
}

fn word_of(line: &str) -> &str {
    line.split(' ').next().unwrap_or(line)
}

/// The first dictionary line whose word is not below `piece` (`None` past the last): a binary
/// search over the text's bytes, each probe widened to its line.
fn first_line_from(piece: &str) -> Option<&'static str> {
    // `low` and `high` are line starts. Invariant: lines starting before `low` have words below
    // `piece`; lines starting at or after `high` do not. A probe between them lands in a line
    // that starts at or after `low`.
    let (mut low, mut high) = (0, DICTIONARY.len());
    while low < high {
        let (start, line) = line_at((low + high) / 2);
        if word_of(line) < piece {
            low = start + line.len() + 1;
        } else {
            high = start;
        }
    }
    (low < DICTIONARY.len()).then(|| line_at(low).1)
}

/// Every dictionary line whose word occurs in `text`, each once.
fn lines_inside(text: &str) -> BTreeSet<&'static str> {
    let mut found = BTreeSet::new();
    for (start, _) in text.char_indices() {
        let rest = &text[start..];
        let ends = rest.char_indices().skip(1).map(|(i, _)| i).chain(std::iter::once(rest.len()));
        for end in ends {
            let piece = &rest[..end];
            // Words sort by their bytes: the first line at or after `piece` is `piece` itself
            // if it is a word, and starts with it if any longer word does.
            let Some(line) = first_line_from(piece) else { break };
            let word = word_of(line);
            if !word.starts_with(piece) {
                break;
            }
            if word == piece {
                found.insert(line);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut<'a>(jieba: &jieba_rs::Jieba, text: &'a str) -> Vec<&'a str> {
        jieba.cut(text, true).into_iter().map(|t| t.word).collect()
    }

    /// Texts made of the dictionary's own words (some runs of them, some cut mid-word, some
    /// with Latin letters, digits and punctuation between), from a fixed seed.
    fn texts_from_the_dictionary(count: usize) -> Vec<String> {
        let words: Vec<&str> = DICTIONARY.lines().map(word_of).collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let glue = ["", "", "", "，", "：", " ", "3", "AB", "的", "了", "！"];
        (0..count)
            .map(|_| {
                let mut text = String::new();
                for _ in 0..2 + next(6) {
                    let word = words[next(words.len())];
                    let chars: Vec<char> = word.chars().collect();
                    // Now and then only the start of a word: runs the dictionary does not hold.
                    let keep = if next(4) == 0 { 1 + next(chars.len()) } else { chars.len() };
                    text.extend(&chars[..keep]);
                    text.push_str(glue[next(glue.len())]);
                }
                text
            })
            .collect()
    }

    #[test]
    fn a_text_is_cut_as_the_full_dictionary_cuts_it() {
        let titles = [
            "第 0 期 · 三分钟学会红烧肉",
            "大雄兔的森林冒险：三分钟看完",
            "周末去哪儿？北京郊区小众露营地推荐",
            "新手必看：手机拍出电影感的五个技巧",
            "我在云南的小镇住了一个月",
            "月薪三千如何存下第一个十万",
            "iPhone 15 Pro 上手：钛金属真的更轻吗",
            "暖心！小学生都能听懂的相对论",
            "南京市长江大桥",
            "结婚的和尚未结婚的",
        ];
        let texts: Vec<String> =
            titles.iter().map(|t| t.to_string()).chain(texts_from_the_dictionary(600)).collect();
        for text in &texts {
            assert_eq!(cut(&for_text(text), text), cut(full(), text), "{text}");
        }
    }

    #[test]
    fn the_embedded_copy_holds_the_crates_own_dictionary() {
        // Every word of the copy is one of jieba's; were jieba's dictionary larger or its
        // frequencies other, the cuts above would part (the total weighs every route).
        assert_eq!(DICTIONARY.lines().count(), 349_045);
        assert_eq!(DICTIONARY.lines().map(frequency).sum::<u64>(), TOTAL);
        let words: Vec<&str> = DICTIONARY.lines().map(word_of).collect();
        assert!(words.windows(2).all(|w| w[0] < w[1]), "sorted by bytes, each word once");
        let missing: Vec<&&str> = words.iter().filter(|w| !full().has_word(w)).take(5).collect();
        assert!(missing.is_empty(), "not in jieba's dictionary: {missing:?}");
        let inside: Vec<&str> = lines_inside("南京市长江大桥").into_iter().map(word_of).collect();
        assert!(
            inside.contains(&"长江大桥") && inside.contains(&"南京市") && inside.contains(&"大"),
            "{inside:?}"
        );
        assert!(lines_inside("").is_empty() && lines_inside("\u{FFFF}").is_empty());
        // The search's ends: before the first word, at the last, past it.
        let (first, last) = (DICTIONARY.lines().next().unwrap(), DICTIONARY.lines().last().unwrap());
        assert_eq!(first_line_from(""), Some(first));
        assert_eq!(first_line_from(word_of(first)), Some(first));
        assert_eq!(first_line_from(word_of(last)), Some(last));
        assert_eq!(first_line_from("\u{10FFFF}"), None);
    }
}
