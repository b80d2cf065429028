//! Every blend mode against outputs of `tests/goldens/blend_reference.py`, a plain transcription of the
//! W3C Compositing and Blending Level 1 formulas.

use std::collections::HashMap;

use oekaki::doc::blend::{BlendMode, blend_buffer, blend_pixel};

type Case = [[f32; 4]; 3];

fn goldens() -> HashMap<String, Vec<Case>> {
    #[derive(serde::Deserialize)]
    struct File {
        cases: HashMap<String, Vec<Case>>,
    }
    let text = include_str!("goldens/blend_w3c.json");
    serde_json::from_str::<File>(text).expect("golden file parses").cases
}

fn name(m: BlendMode) -> String {
    serde_json::to_value(m).unwrap().as_str().unwrap().to_string()
}

#[test]
fn every_mode_has_goldens() {
    let g = goldens();
    for m in BlendMode::ALL {
        assert!(g.get(&name(m)).is_some_and(|c| c.len() > 200), "no goldens for {m:?}");
    }
}

#[test]
fn pixels_match_the_w3c_reference() {
    let g = goldens();
    for m in BlendMode::ALL {
        for [b, s, want] in &g[&name(m)] {
            let got = blend_pixel(m, *b, *s);
            for c in 0..4 {
                assert!(
                    (got[c] - want[c]).abs() < 1e-4,
                    "{m:?}: backdrop {b:?} source {s:?}: want {want:?}, got {got:?}"
                );
            }
        }
    }
}

#[test]
fn tile_loops_match_the_w3c_reference() {
    // The compositor's vectorised loops, fed the same cases as whole buffers.
    let g = goldens();
    for m in BlendMode::ALL {
        let cases = &g[&name(m)];
        let mut acc: Vec<f32> = cases.iter().flat_map(|c| c[0]).collect();
        let src: Vec<f32> = cases.iter().flat_map(|c| c[1]).collect();
        blend_buffer(m, &mut acc, &src);
        for (got, [b, s, want]) in acc.chunks_exact(4).zip(cases) {
            for c in 0..4 {
                assert!((got[c] - want[c]).abs() < 1e-4, "{m:?} buffer: {b:?} over {s:?}: want {want:?}, got {got:?}");
            }
        }
    }
}
