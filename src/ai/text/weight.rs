//! Ctrl+Up / Ctrl+Down in a prompt box: change the attention weight of the selected words in A1111 syntax, as
//! A1111's `edit-attention.js` does. `cat` becomes `(cat:1.1)`, again `(cat:1.2)`; back at 1.0 the brackets go.
//! With nothing selected, the word (or the weighted group) under the cursor is taken.
//!
//! Positions are character indices (what text widgets use), not bytes.

/// The edited prompt and the new selection (character indices, the words without brackets and weight).
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

const WORD_STOPS: &[char] = &[' ', '\n', '\t', ',', '(', ')', '[', ']', '<', '>', '|'];

/// `delta` is usually ±0.1. Returns `None` when there is nothing to weight (an empty prompt, the cursor on a
/// comma).
pub fn adjust_weight(text: &str, start: usize, end: usize, delta: f32) -> Option<Weighted> {
    let chars: Vec<char> = text.chars().collect();
    let (mut s, mut e) = (start.min(end).min(chars.len()), start.max(end).min(chars.len()));
    if s == e {
        (s, e) = group_around(&chars, s).or_else(|| word_around(&chars, s))?;
    }
    while e > s && chars[e - 1].is_whitespace() {
        e -= 1;
    }
    while s < e && chars[s].is_whitespace() {
        s += 1;
    }
    if s == e {
        return None;
    }
    // Already weighted: `(` right before and `:w)` right after the selection.
    if s > 0
        && chars[s - 1] == '('
        && let Some((w, close)) = weight_after(&chars, e)
    {
        let new = ((w + delta) * 100.0).round() / 100.0;
        let inner: String = chars[s..e].iter().collect();
        let before: String = chars[..s - 1].iter().collect();
        let after: String = chars[close + 1..].iter().collect();
        return Some(if (new - 1.0).abs() < 1e-6 {
            Weighted { text: format!("{before}{inner}{after}"), start: s - 1, end: e - 1 }
        } else {
            Weighted { text: format!("{before}({inner}:{}){after}", format_weight(new)), start: s, end: e }
        });
    }
    let new = ((1.0 + delta) * 100.0).round() / 100.0;
    let before: String = chars[..s].iter().collect();
    let inner: String = chars[s..e].iter().collect();
    let after: String = chars[e..].iter().collect();
    Some(Weighted { text: format!("{before}({inner}:{}){after}", format_weight(new)), start: s + 1, end: e + 1 })
}

fn format_weight(w: f32) -> String {
    let s = format!("{w:.2}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').map(|t| format!("{t}.0")).unwrap_or_else(|| s.to_string())
}

/// `:number)` starting at `at`: the number and the index of `)`.
fn weight_after(chars: &[char], at: usize) -> Option<(f32, usize)> {
    if chars.get(at) != Some(&':') {
        return None;
    }
    let close = at + chars[at..].iter().position(|&c| c == ')')?;
    let num: String = chars[at + 1..close].iter().collect();
    num.trim().parse::<f32>().ok().map(|w| (w, close))
}

/// The text of a `(words:w)` group the cursor stands in.
fn group_around(chars: &[char], at: usize) -> Option<(usize, usize)> {
    let open = chars[..at].iter().rposition(|&c| c == '(')?;
    if chars[open..at].contains(&')') {
        return None;
    }
    let close = at + chars[at..].iter().position(|&c| c == ')')?;
    let colon = open + chars[open..close].iter().rposition(|&c| c == ':')?;
    weight_after(chars, colon)?;
    Some((open + 1, colon))
}

fn word_around(chars: &[char], at: usize) -> Option<(usize, usize)> {
    let s = chars[..at].iter().rposition(|c| WORD_STOPS.contains(c)).map_or(0, |i| i + 1);
    let e = at + chars[at..].iter().position(|c| WORD_STOPS.contains(c)).unwrap_or(chars.len() - at);
    (s < e).then_some((s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(text: &str, s: usize, e: usize) -> Weighted {
        adjust_weight(text, s, e, 0.1).unwrap()
    }

    #[test]
    fn selected_words_get_brackets_then_step_then_lose_them_at_one() {
        let a = up("1girl, red scarf, snow", 7, 16);
        assert_eq!(a.text, "1girl, (red scarf:1.1), snow");
        assert_eq!((a.start, a.end), (8, 17));
        let b = up(&a.text, a.start, a.end);
        assert_eq!(b.text, "1girl, (red scarf:1.2), snow");
        let c = adjust_weight(&b.text, b.start, b.end, -0.1).unwrap();
        let d = adjust_weight(&c.text, c.start, c.end, -0.1).unwrap();
        assert_eq!(d.text, "1girl, red scarf, snow");
        assert_eq!((d.start, d.end), (7, 16));
        let e = adjust_weight(&d.text, d.start, d.end, -0.1).unwrap();
        assert_eq!(e.text, "1girl, (red scarf:0.9), snow");
    }

    #[test]
    fn the_cursor_takes_the_word_or_the_group_under_it() {
        assert_eq!(up("masterpiece, cat ears", 15, 15).text, "masterpiece, (cat:1.1) ears");
        // inside a weighted group, the whole group is changed
        assert_eq!(up("(cat ears:1.3), tail", 3, 3).text, "(cat ears:1.4), tail");
        // trailing spaces of a selection are not weighted
        assert_eq!(up("cat  ", 0, 5).text, "(cat:1.1)  ");
        assert_eq!(adjust_weight("a, , b", 3, 3, 0.1), None);
        assert_eq!(adjust_weight("", 0, 0, 0.1), None);
    }

    #[test]
    fn non_ascii_text_is_indexed_by_character() {
        let w = up("猫耳, 雪", 0, 2);
        assert_eq!(w.text, "(猫耳:1.1), 雪");
        assert_eq!((w.start, w.end), (1, 3));
    }
}
