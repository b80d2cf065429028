//! AUTOMATIC1111's prompt attention syntax, parsed exactly as its `parse_prompt_attention` does:
//! `(a)` ×1.1, `[a]` ÷1.1, `(a:1.3)`, `\(` escapes, unbalanced brackets closed at the end, and `BREAK`
//! (a chunk boundary, marked with weight −1). Runs of equal weight are merged.

/// One run of prompt text and its weight; `BREAK` markers are `("BREAK", -1.0)`.
pub type Weighted = (String, f64);

const ROUND: f64 = 1.1;
const SQUARE: f64 = 1.0 / 1.1;

/// The tokens of A1111's `re_attention`, in its alternation order.
enum Piece<'a> {
    Escaped(&'a str),
    Open(char),
    Weight(f64),
    Close(char),
    Text,
}

/// `:([+-]?[.\d]+)\)` at the start of `s` (A1111 allows no spaces inside): (match length, number text).
fn weight_at(s: &str) -> Option<(usize, &str)> {
    let rest = &s[1..];
    let sign = usize::from(rest.starts_with(['+', '-']));
    let digits = rest[sign..].chars().take_while(|c| *c == '.' || c.is_ascii_digit()).count();
    if digits == 0 || !rest[sign + digits..].starts_with(')') {
        return None;
    }
    Some((1 + sign + digits + 1, &rest[..sign + digits]))
}

fn next_piece(s: &str) -> (Piece<'_>, usize) {
    let mut chars = s.chars();
    let c = chars.next().unwrap_or_default();
    match c {
        '\\' => match chars.next() {
            Some(n @ ('(' | ')' | '[' | ']' | '\\')) => (Piece::Escaped(&s[1..1 + n.len_utf8()]), 1 + n.len_utf8()),
            _ => (Piece::Escaped(""), 1),
        },
        '(' | '[' => (Piece::Open(c), 1),
        ')' | ']' => (Piece::Close(c), 1),
        ':' => match weight_at(s) {
            // A number Python's float() rejects ("1.2.3") is kept as text.
            Some((len, number)) => match number.parse::<f64>() {
                Ok(w) => (Piece::Weight(w), len),
                Err(_) => (Piece::Text, len),
            },
            None => (Piece::Text, 1),
        },
        _ => {
            let len = s.find(['\\', '(', ')', '[', ']', ':']).unwrap_or(s.len());
            (Piece::Text, len)
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `re.split(r"\s*\bBREAK\b\s*", text)`.
fn split_break(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("BREAK") {
        let at = search + found;
        let end = at + "BREAK".len();
        let before_ok = text[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let after_ok = text[end..].chars().next().is_none_or(|c| !is_word(c));
        if before_ok && after_ok {
            let cut_start = text[start..at].trim_end().len() + start;
            let cut_end = end + (text[end..].len() - text[end..].trim_start().len());
            // Python's \s* before \b: a run of spaces starting inside an earlier part is not re-split.
            parts.push(&text[start..cut_start.max(start)]);
            start = cut_end;
            search = cut_end;
        } else {
            search = at + 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A1111's `parse_prompt_attention`.
pub fn parse_attention(text: &str) -> Vec<Weighted> {
    let mut res: Vec<Weighted> = Vec::new();
    let mut round: Vec<usize> = Vec::new();
    let mut square: Vec<usize> = Vec::new();
    let multiply = |res: &mut Vec<Weighted>, from: usize, m: f64| res[from..].iter_mut().for_each(|r| r.1 *= m);
    let mut rest = text;
    while !rest.is_empty() {
        let (piece, len) = next_piece(rest);
        match piece {
            Piece::Escaped(t) => res.push((t.to_string(), 1.0)),
            Piece::Open('(') => round.push(res.len()),
            Piece::Open(_) => square.push(res.len()),
            Piece::Weight(w) if !round.is_empty() => {
                let from = round.pop().unwrap_or_default();
                multiply(&mut res, from, w);
            }
            Piece::Close(')') if !round.is_empty() => {
                let from = round.pop().unwrap_or_default();
                multiply(&mut res, from, ROUND);
            }
            Piece::Close(']') if !square.is_empty() => {
                let from = square.pop().unwrap_or_default();
                multiply(&mut res, from, SQUARE);
            }
            _ => {
                for (i, part) in split_break(&rest[..len]).into_iter().enumerate() {
                    if i > 0 {
                        res.push(("BREAK".into(), -1.0));
                    }
                    res.push((part.to_string(), 1.0));
                }
            }
        }
        rest = &rest[len..];
    }
    for pos in round {
        multiply(&mut res, pos, ROUND);
    }
    for pos in square {
        multiply(&mut res, pos, SQUARE);
    }
    if res.is_empty() {
        res.push((String::new(), 1.0));
    }
    let mut i = 0;
    while i + 1 < res.len() {
        if res[i].1 == res[i + 1].1 {
            let next = res.remove(i + 1);
            res[i].0.push_str(&next.0);
        } else {
            i += 1;
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, f64)> {
        parse_attention(s)
    }

    #[test]
    fn examples_from_a1111_docstring() {
        assert_eq!(p("normal text"), vec![("normal text".into(), 1.0)]);
        assert_eq!(
            p("an (important) word"),
            vec![("an ".into(), 1.0), ("important".into(), 1.1), (" word".into(), 1.0)]
        );
        assert_eq!(p("(unbalanced"), vec![("unbalanced".into(), 1.1)]);
        assert_eq!(p("\\(literal\\]"), vec![("(literal]".into(), 1.0)]);
        assert_eq!(p("(unnecessary)(parens)"), vec![("unnecessaryparens".into(), 1.1)]);
        assert_eq!(p("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).").len(), 9);
        assert_eq!(p("a BREAK b"), vec![("a".into(), 1.0), ("BREAK".into(), -1.0), ("b".into(), 1.0)]);
    }
}
