//! The AUTOMATIC1111 "parameters" text that civitai, A1111, Forge, ComfyUI importers and most SD tools read:
//!
//! ```text
//! <prompt, any number of lines>
//! Negative prompt: <negative prompt, any number of lines>
//! Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 832x1216, Clip skip: 2
//! ```
//!
//! Parsing follows A1111's `parse_generation_parameters`: the last line is settings only if it holds at least
//! three `Key: value` pairs; values with `,`, `:` or a newline are JSON-quoted (A1111's `quote`).

/// Prompt, negative prompt and settings (in file order, values unquoted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerationParams {
    pub prompt: String,
    pub negative_prompt: String,
    pub settings: Vec<(String, String)>,
}

const NEGATIVE: &str = "Negative prompt:";

impl GenerationParams {
    /// Never fails: text that is not A1111-shaped becomes the prompt.
    pub fn parse(text: &str) -> GenerationParams {
        let mut lines: Vec<&str> = text.trim().split('\n').collect();
        let mut settings = Vec::new();
        if let Some(last) = lines.last() {
            let pairs = find_pairs(last);
            if pairs.len() >= 3 {
                settings = pairs;
                lines.pop();
            }
        }
        let (mut prompt, mut negative) = (Vec::new(), Vec::new());
        let mut in_negative = false;
        for line in lines {
            let mut line = line.trim();
            if let Some(rest) = line.strip_prefix(NEGATIVE) {
                in_negative = true;
                line = rest.trim();
            }
            if in_negative { negative.push(line) } else { prompt.push(line) }
        }
        GenerationParams { prompt: prompt.join("\n"), negative_prompt: negative.join("\n"), settings }
    }

    /// A1111's formatting, so every tool that reads it reads ours.
    pub fn to_text(&self) -> String {
        let mut out = self.prompt.clone();
        if !self.negative_prompt.is_empty() {
            out.push_str(&format!("\n{NEGATIVE} {}", self.negative_prompt));
        }
        if !self.settings.is_empty() {
            let s: Vec<String> = self
                .settings
                .iter()
                .map(|(k, v)| if k == v { k.clone() } else { format!("{k}: {}", quote(v)) })
                .collect();
            out.push('\n');
            out.push_str(&s.join(", "));
        }
        out
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Sets a value, keeping the position of an existing key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.settings.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.settings.push((key.to_string(), value)),
        }
    }

    pub fn steps(&self) -> Option<u32> {
        self.get("Steps")?.trim().parse().ok()
    }

    /// The seed; A1111's `-1` (random) reads as `None`.
    pub fn seed(&self) -> Option<u64> {
        self.get("Seed")?.trim().parse().ok()
    }

    pub fn cfg_scale(&self) -> Option<f32> {
        self.get("CFG scale")?.trim().parse().ok()
    }

    pub fn sampler(&self) -> Option<&str> {
        self.get("Sampler")
    }

    pub fn size(&self) -> Option<(u32, u32)> {
        let (w, h) = self.get("Size")?.split_once('x')?;
        Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
    }

    pub fn clip_skip(&self) -> Option<u32> {
        self.get("Clip skip")?.trim().parse().ok()
    }
}

fn quote(v: &str) -> String {
    if !v.contains([',', '\n', ':']) {
        return v.to_string();
    }
    serde_json::to_string(v).unwrap_or_else(|_| v.to_string())
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// All `Key: value` pairs in a settings line, like A1111's
/// `re.findall(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)', line)`.
fn find_pairs(line: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match pair_at(&chars, i) {
            Some((k, v, end)) => {
                out.push((k, v));
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    out
}

fn pair_at(c: &[char], mut i: usize) -> Option<(String, String, usize)> {
    while i < c.len() && c[i].is_whitespace() {
        i += 1;
    }
    let start = i;
    if i >= c.len() || !is_word(c[i]) {
        return None;
    }
    i += 1;
    while i < c.len() && (is_word(c[i]) || matches!(c[i], ' ' | '-' | '/')) {
        i += 1;
    }
    if i - start < 2 || c.get(i) != Some(&':') {
        return None;
    }
    let key: String = c[start..i].iter().collect();
    i += 1;
    while i < c.len() && c[i].is_whitespace() {
        i += 1;
    }
    if c.get(i) == Some(&'"')
        && let Some(end) = quoted_end(c, i)
        && (end == c.len() || c[end] == ',')
    {
        let raw: String = c[i..end].iter().collect();
        let value = serde_json::from_str::<String>(&raw).unwrap_or_else(|_| raw[1..raw.len() - 1].to_string());
        return Some((key, value, end + 1));
    }
    let vstart = i;
    while i < c.len() && c[i] != ',' {
        i += 1;
    }
    Some((key, c[vstart..i].iter().collect(), i + 1))
}

/// Index just past the closing quote of `"(?:\\.|[^\\"])+"` starting at `i`.
fn quoted_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < c.len() {
        match c[j] {
            '\\' => j += 2,
            '"' => return (j > i + 1).then_some(j + 1),
            _ => j += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = "masterpiece, best quality, 1girl, solo, long hair, (silver hair:1.2), <lora:add_detail:0.6>\n\
looking at viewer, cherry blossoms\n\
Negative prompt: lowres, (worst quality:1.4), bad hands\n\
easynegative\n\
Steps: 28, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 832x1216, \
Model hash: 1449e5b0b9, Model: animagineXLV31_v31, Clip skip: 2, Lora hashes: \"add_detail: 7c6bad76eb54\", Version: v1.10.1";

    #[test]
    fn reads_a_real_a1111_string() {
        let p = GenerationParams::parse(REAL);
        assert!(p.prompt.starts_with("masterpiece") && p.prompt.ends_with("cherry blossoms"));
        assert_eq!(p.negative_prompt, "lowres, (worst quality:1.4), bad hands\neasynegative");
        assert_eq!(p.steps(), Some(28));
        assert_eq!(p.sampler(), Some("Euler a"));
        assert_eq!(p.cfg_scale(), Some(7.0));
        assert_eq!(p.seed(), Some(1234567890));
        assert_eq!(p.size(), Some((832, 1216)));
        assert_eq!(p.clip_skip(), Some(2));
        assert_eq!(p.get("Lora hashes"), Some("add_detail: 7c6bad76eb54"));
        assert_eq!(p.get("Version"), Some("v1.10.1"));
        assert_eq!(p.settings.len(), 11);
    }

    #[test]
    fn format_then_parse_round_trips() {
        let cases = [
            GenerationParams::parse(REAL),
            GenerationParams { prompt: "a cat".into(), negative_prompt: String::new(), settings: vec![] },
            GenerationParams {
                prompt: String::new(),
                negative_prompt: "blurry".into(),
                settings: vec![
                    ("Steps".into(), "20".into()),
                    ("Seed".into(), "1".into()),
                    ("Note".into(), "a, \"b\": c\nd".into()),
                ],
            },
            GenerationParams {
                prompt: "桜の木の下で、少女\n二行目".into(),
                negative_prompt: "低品質".into(),
                settings: vec![
                    ("Steps".into(), "30".into()),
                    ("Sampler".into(), "DPM++ 2M".into()),
                    ("Size".into(), "512x768".into()),
                ],
            },
        ];
        for p in cases {
            assert_eq!(GenerationParams::parse(&p.to_text()), p, "{}", p.to_text());
        }
        assert_eq!(GenerationParams::parse(REAL).to_text(), REAL);
    }

    #[test]
    fn plain_text_and_short_lines_are_prompt() {
        let p = GenerationParams::parse("just words: here, and there");
        assert_eq!(p.prompt, "just words: here, and there");
        assert!(p.settings.is_empty());
        let mut q = GenerationParams::default();
        q.set("Seed", "5");
        q.set("Seed", "6");
        assert_eq!(q.settings, vec![("Seed".to_string(), "6".to_string())]);
        assert_eq!(GenerationParams::parse("x\nSteps: 1, Seed: -1, Size: 3x4").seed(), None);
    }
}
