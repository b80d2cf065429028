//! Segment Anything against segment-anything's own `SamPredictor` on a tiny random-weight SAM
//! (tests/fixtures/sam, made by onnx/make_tiny_sam.py): with PyTorch's image embeddings fed to the ONNX decoder,
//! masks equal on ≥ 99.5 % of pixels and IoU scores within 1e-3; end to end from the PNG (our resize and
//! encoder input against torchvision's), masks equal on ≥ 99 %.

use std::path::PathBuf;

use oekaki::ai::pipeline::Pixels;
use oekaki::ai::sam::{Embedding, Frame, Point, Prompt, Proposal, SamModel};
use oekaki::ai::session::{Device, Output};
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sam").join(rel)
}

fn picture() -> Pixels {
    let img = image::open(fixture("reference/image.png")).unwrap().to_rgb8();
    Pixels { width: img.width() as usize, height: img.height() as usize, data: img.into_raw() }
}

/// A tensor PyTorch wrote (little-endian f32) with its shape.
fn torch_tensor(file: &str, shape: &Value) -> Output {
    let shape: Vec<usize> = shape.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let bytes = std::fs::read(fixture(file)).unwrap();
    let data: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(data.len(), shape.iter().product::<usize>());
    Output { shape, data }
}

fn torch_embedding() -> Embedding {
    let t = torch_tensor("reference/embeddings.f32", &reference_cases("reference")["embeddings_shape"]);
    Embedding { frame: Frame::longest_side(331, 229, 1024), tensors: vec![("image_embeddings".into(), t)] }
}

fn prompt(case: &Value) -> Prompt {
    let points = case["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Point { x: p[0].as_f64().unwrap() as f32, y: p[1].as_f64().unwrap() as f32, foreground: p[2] == 1 })
        .collect();
    let bbox = case["box"].as_array().map(|b| {
        let v: Vec<f32> = b.iter().map(|x| x.as_f64().unwrap() as f32).collect();
        [v[0], v[1], v[2], v[3]]
    });
    Prompt { points, bbox }
}

/// Fraction of pixels where our mask agrees with the reference PNG.
fn agreement(got: &[u8], reference: &str) -> f64 {
    let want = image::open(fixture(reference)).unwrap().to_luma8();
    assert_eq!(got.len(), want.as_raw().len(), "{reference}");
    let same = got.iter().zip(want.as_raw()).filter(|(a, b)| (**a > 127) == (**b > 127)).count();
    same as f64 / got.len() as f64
}

/// Candidate `i` of `proposal` against reference `set` ("multimask" / "single") entry `j` of `case`.
/// Candidate `i` against mask `j` of a reference entry (`masks`, `scores`) whose files are in folder `dir`.
fn compare(proposal: &Proposal, i: usize, entry: &Value, j: usize, dir: &str, min_agreement: f64, what: &str) {
    let name = entry["masks"][j].as_str().unwrap();
    let score = entry["scores"][j].as_f64().unwrap() as f32;
    let agree = agreement(&proposal.mask(i), &format!("{dir}/{name}"));
    assert!(agree >= min_agreement, "{what}: {name} agrees on {:.3} % of pixels", agree * 100.0);
    assert!((proposal.scores[i] - score).abs() < 1e-3, "{what}: {name} IoU {} vs {score}", proposal.scores[i]);
}

#[test]
fn decoder_matches_sam_predictor_for_points_boxes_multimask_and_refinement() {
    let mut model = SamModel::load(&fixture("tiny-sam"), Device::Cpu).unwrap();
    check_cases(&mut model, &torch_embedding(), "reference", 0.995, "decoder");
}

/// The session runs the decoder cut down to its low-resolution outputs; our scaling of those logits to the
/// image gives what the whole graph's own resizes give.
#[test]
fn pruned_decoder_and_our_upscaling_give_the_whole_graphs_masks() {
    use oekaki::ai::session::{Feed, Model};
    let mut model = SamModel::load(&fixture("tiny-sam"), Device::Cpu).unwrap();
    assert_eq!(model.decoder_outputs(), ["iou_predictions", "low_res_masks"]);
    let mut whole = Model::load(&fixture("tiny-sam/tiny_sam.decoder.onnx"), Device::Cpu).unwrap();
    assert!(whole.has_output("masks"));
    let emb = torch_embedding();
    let t = emb.get("image_embeddings").unwrap();
    let plane = 331 * 229;
    let mut mixed = 0;
    let cases = reference_cases("reference");
    let cases: Vec<&Value> =
        cases["cases"].as_array().unwrap().iter().filter(|c| c.get("mask_input_from").is_none()).collect();
    for case in &cases {
        let prompt = prompt(case);
        let p = model.decode(&emb, &prompt, None).unwrap();
        let labelled = prompt.labelled();
        let coords =
            labelled.iter().flat_map(|([x, y], l)| if *l < 0.0 { [*x, *y] } else { emb.frame.to_model(*x, *y) });
        let out = whole
            .run(
                vec![
                    ("image_embeddings", Feed::F32(t.shape.clone(), t.data.clone())),
                    ("point_coords", Feed::F32(vec![1, labelled.len(), 2], coords.collect())),
                    ("point_labels", Feed::F32(vec![1, labelled.len()], labelled.iter().map(|(_, l)| *l).collect())),
                    ("mask_input", Feed::F32(vec![1, 1, 256, 256], vec![0.0; 256 * 256])),
                    ("has_mask_input", Feed::F32(vec![1], vec![0.0])),
                    ("orig_im_size", Feed::F32(vec![2], vec![229.0, 331.0])),
                ],
                &["masks"],
            )
            .unwrap();
        assert_eq!(out[0].data.len(), 4 * plane);
        for (i, token) in [1, 2, 3, 0].into_iter().enumerate() {
            let graph = &out[0].data[token * plane..(token + 1) * plane];
            let ours = p.image_logits(i).unwrap();
            let worst = graph.iter().zip(&ours).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            let spread = graph.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(
                worst <= 1e-3 * spread.max(1.0),
                "{} candidate {i}: off by {worst} (logits up to {spread})",
                case["name"]
            );
            let inside = graph.iter().filter(|v| **v > 0.0).count();
            mixed += usize::from(inside > plane / 100 && inside < plane - plane / 100);
        }
    }
    // The comparison could fail: most candidates have both sides.
    assert!(
        mixed * 2 >= cases.len() * 4,
        "only {mixed} of {} candidates have an inside and an outside",
        cases.len() * 4
    );
}

#[test]
fn end_to_end_from_the_png_matches_sam_predictor() {
    let mut model = SamModel::load(&fixture("tiny-sam"), Device::Cpu).unwrap();
    let emb = model.encode(&picture()).unwrap();
    assert_eq!(emb.frame, Frame::longest_side(331, 229, 1024));
    let reference = torch_embedding();
    assert_eq!(emb.get("image_embeddings").unwrap().shape, reference.get("image_embeddings").unwrap().shape);
    check_cases(&mut model, &emb, "reference", 0.99, "end to end");
}

/// The single-mask decoder (`--return-single-mask`) picks like SAM's demo; an encoder without in-graph
/// preprocessing gets normalized, padded input from us.
#[test]
fn single_mask_decoder_and_plain_encoder_pick_as_the_demo_does() {
    let mut model = SamModel::load(&fixture("tiny-sam-plain"), Device::Cpu).unwrap();
    assert_eq!(model.family, oekaki::ai::sam::Family::SamV1 { preprocess_in_graph: false });
    let emb = model.encode(&picture()).unwrap();
    let doc = reference_cases("reference");
    for case in doc["cases"].as_array().unwrap() {
        if case.get("mask_input_from").is_some() {
            continue; // refinement is covered with the 4-token decoder
        }
        let prompt = prompt(case);
        let p = model.decode(&emb, &prompt, None).unwrap();
        assert_eq!((p.candidates(), p.best), (1, 0));
        let scores: Vec<f32> = (0..3).map(|j| case["multimask"]["scores"][j].as_f64().unwrap() as f32).collect();
        let want = Proposal::pick_best(&[&scores[..], &[0.0]].concat(), 3, Some(3), prompt.labelled().len());
        let (set, j) = if want == 3 { ("single", 0) } else { ("multimask", want) };
        compare(&p, 0, &case[set], j, "reference", 0.99, &format!("single-mask {}", case["name"]));
    }
}

#[test]
fn unusable_folders_and_prompts_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SamModel::load(dir.path(), Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("no *encoder*.onnx and no *decoder*.onnx"), "{err}");
    std::fs::copy(fixture("tiny-sam/tiny_sam.encoder.onnx"), dir.path().join("x.encoder.onnx")).unwrap();
    let err = SamModel::load(dir.path(), Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("no *decoder*.onnx"), "{err}");
    // An encoder in the decoder's place: its inputs are named, not guessed at.
    std::fs::copy(fixture("tiny-sam/tiny_sam.encoder.onnx"), dir.path().join("x.decoder.onnx")).unwrap();
    let err = SamModel::load(dir.path(), Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("(input_image) are not a SAM decoder's"), "{err}");

    let mut model = SamModel::load(&fixture("tiny-sam"), Device::Cpu).unwrap();
    let emb = torch_embedding();
    let outside = Prompt { points: vec![Point { x: 400.0, y: 10.0, foreground: true }], bbox: None };
    assert!(model.decode(&emb, &outside, None).unwrap_err().to_string().contains("outside the 331×229 image"));
    assert!(model.decode(&emb, &Prompt::default(), None).is_err());
    let tiny = Pixels { width: 0, height: 4, data: vec![] };
    assert!(model.encode(&tiny).is_err());
}

/// The Smart select worker on a document: an area away from the origin, clicks in document coordinates, and
/// the selection command at full resolution; the same masks as calling the model on the cropped picture.
#[test]
fn smart_select_worker_maps_document_points_and_makes_the_selection() {
    use oekaki::doc::selection::Combine;
    use oekaki::geom::Rect;
    use oekaki::jobs::segment::{SegmentEvent, Segmenter, Source, selection_command};
    use std::time::Duration;

    let bytes = std::fs::read(fixture("reference/image.png")).unwrap();
    let doc = oekaki::io::raster_file::open_image(&bytes, "picture", oekaki::io::Limits::default()).unwrap();
    let rect = Rect { x0: 100, y0: 50, x1: 331, y1: 229 };
    let worker = Segmenter::new();
    worker.encode(7, fixture("tiny-sam"), Device::Cpu, Source { doc: doc.clone(), layer: None, rect });
    let area = match worker.wait(Duration::from_secs(60)) {
        Some(SegmentEvent::Encoded { key: 7, area, providers, .. }) => {
            assert_eq!(providers, "CPU");
            area
        }
        _ => panic!("no embedding"),
    };
    assert_eq!((area.rect, area.work_width, area.work_height), (rect, 231, 179));
    let clicks = [Point { x: 132.0, y: 101.0, foreground: true }, Point { x: 300.0, y: 60.0, foreground: false }];
    // Several clicks in a burst: the newest one is answered.
    for seq in 1..=3 {
        worker.decode(7, seq, clicks[..(seq as usize).min(2)].to_vec(), None, None);
    }
    let mut last = None;
    while let Some(event) = worker.wait(Duration::from_secs(30)) {
        match event {
            SegmentEvent::Proposal { seq, proposal, .. } => {
                let done = seq == 3;
                last = Some(proposal);
                if done {
                    break;
                }
            }
            SegmentEvent::Failed { error, .. } => panic!("{error}"),
            SegmentEvent::Encoded { .. } => panic!("encoded twice"),
        }
    }
    let proposal = last.expect("a proposal for the last click");

    // The same, straight from the model on the cropped picture.
    let crop = image::open(fixture("reference/image.png")).unwrap().to_rgb8();
    let crop = image::imageops::crop_imm(&crop, 100, 50, 231, 179).to_image();
    let mut model = SamModel::load(&fixture("tiny-sam"), Device::Cpu).unwrap();
    let emb = model.encode(&Pixels { width: 231, height: 179, data: crop.into_raw() }).unwrap();
    let local: Vec<Point> = clicks.iter().map(|p| Point { x: p.x - 100.0, y: p.y - 50.0, ..*p }).collect();
    let direct = model.decode(&emb, &Prompt { points: local, bbox: None }, None).unwrap();
    assert_eq!(proposal.best, direct.best);
    for i in 0..4 {
        assert_eq!(proposal.mask(i), direct.mask(i), "candidate {i}");
    }

    // This random model's single-mask token is nearly empty here; select with the first multimask candidate.
    let cmd = selection_command(&doc, &proposal, 0, &area, Combine::Replace).unwrap();
    let mut edited = doc.clone();
    cmd.apply(&mut edited).unwrap();
    let mask = direct.mask(0);
    let mut inside = 0;
    for y in 0..229 {
        for x in 0..331 {
            let want = if rect.contains(x, y) { mask[((y - 50) * 231 + (x - 100)) as usize] } else { 0 };
            assert_eq!(edited.selection.coverage(x, y), want, "({x}, {y})");
            inside += (want > 0) as usize;
        }
    }
    assert!(inside > 1000 && inside < 231 * 179 - 1000, "the selection is neither empty nor everything: {inside}");

    // A click outside the encoded area is refused with a clear message, not answered with a wrong mask.
    worker.decode(7, 4, vec![Point { x: 20.0, y: 20.0, foreground: true }], None, None);
    match worker.wait(Duration::from_secs(30)) {
        Some(SegmentEvent::Failed { error, .. }) => assert!(error.contains("outside the area"), "{error}"),
        _ => panic!("expected a failure"),
    }
}

fn reference_cases(dir: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{dir}/cases.json"))).unwrap()).unwrap()
}

/// Every case against the reference in `dir`: the three multimask candidates, and SAM v1's single-mask token
/// where the reference has one; a refinement step feeds back our own low-resolution logits of the best
/// multimask candidate of the case it refines, as the reference did with PyTorch's (where the family has it).
fn check_cases(model: &mut SamModel, emb: &Embedding, dir: &str, min_agreement: f64, what: &str) {
    let doc = reference_cases(dir);
    let mut low_res = std::collections::HashMap::new();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let previous: Option<&Vec<f32>> =
            case.get("mask_input_from").and_then(|v| v.as_str()).map(|from| &low_res[from]);
        let p = model.decode(emb, &prompt(case), previous.map(|v| v.as_slice())).unwrap();
        let single = case.get("single");
        assert_eq!((p.candidates(), p.multimask), (3 + single.is_some() as usize, 3), "{name}");
        let multimask = case.get("multimask").unwrap_or(case);
        for j in 0..3 {
            compare(&p, j, multimask, j, dir, min_agreement, &format!("{what} {name}"));
        }
        if let Some(single) = single {
            compare(&p, 3, single, 0, dir, min_agreement, &format!("{what} {name}"));
        }
        let best = (0..3).fold(0, |b, i| if p.scores[i] > p.scores[b] { i } else { b });
        low_res.insert(name.to_string(), p.low_res(best).map(<[f32]>::to_vec).unwrap_or_default());
    }
}

#[test]
fn sam2_decoder_matches_sam2_image_predictor() {
    let mut model = SamModel::load(&fixture("tiny-sam2"), Device::Cpu).unwrap();
    assert_eq!(model.family, oekaki::ai::sam::Family::Sam2);
    let doc = reference_cases("reference-sam2");
    let tensors = ["image_embed", "high_res_feats_0", "high_res_feats_1"]
        .map(|n| (n.to_string(), torch_tensor(&format!("reference-sam2/{n}.f32"), &doc["features"][n])))
        .to_vec();
    let emb = Embedding { frame: Frame::stretched(331, 229, 1024), tensors };
    check_cases(&mut model, &emb, "reference-sam2", 0.995, "SAM2 decoder");
}

#[test]
fn sam2_end_to_end_from_the_png_matches_sam2_image_predictor() {
    let mut model = SamModel::load(&fixture("tiny-sam2"), Device::Cpu).unwrap();
    let emb = model.encode(&picture()).unwrap();
    assert_eq!(emb.frame, Frame::stretched(331, 229, 1024));
    check_cases(&mut model, &emb, "reference-sam2", 0.99, "SAM2 end to end");
}

#[test]
fn efficientsam_matches_its_onnx_export_modules_in_pytorch() {
    let mut model = SamModel::load(&fixture("tiny-efficientsam"), Device::Cpu).unwrap();
    assert_eq!(model.family, oekaki::ai::sam::Family::EfficientSam);
    let doc = reference_cases("reference-efficientsam");
    let t = torch_tensor("reference-efficientsam/image_embeddings.f32", &doc["features"]["image_embeddings"]);
    let emb = Embedding { frame: Frame::as_is(331, 229, 1024), tensors: vec![("image_embeddings".into(), t)] };
    check_cases(&mut model, &emb, "reference-efficientsam", 0.995, "EfficientSAM decoder");
    let emb = model.encode(&picture()).unwrap();
    check_cases(&mut model, &emb, "reference-efficientsam", 0.99, "EfficientSAM end to end");
    let seven = Prompt { points: vec![Point { x: 5.0, y: 5.0, foreground: true }; 7], bbox: None };
    assert!(model.decode(&emb, &seven, None).unwrap_err().to_string().contains("at most 6 points"));
}

/// "Active layer" as the source: a layer hidden under an opaque one is segmented as if it were alone (over
/// white), while the visible picture is the covering layer.
#[test]
fn smart_select_worker_can_look_at_one_layer_alone() {
    use oekaki::jobs::segment::{SegmentEvent, Segmenter, Source};
    use std::time::Duration;

    let bytes = std::fs::read(fixture("reference/image.png")).unwrap();
    let mut doc = oekaki::io::raster_file::open_image(&bytes, "picture", oekaki::io::Limits::default()).unwrap();
    let picture_layer = doc.layers[0].id;
    let mut cover = oekaki::raster::Surface::new([0; 4]);
    cover.write_rect(doc.bounds(), &vec![[30, 200, 30, 255]; 331 * 229]);
    let cover = doc.new_raster_layer("cover", cover);
    doc.layers.push(cover);
    let click = vec![Point { x: 132.0, y: 101.0, foreground: true }];
    let proposal = |layer| {
        let worker = Segmenter::new();
        worker.encode(1, fixture("tiny-sam"), Device::Cpu, Source { doc: doc.clone(), layer, rect: doc.bounds() });
        assert!(matches!(worker.wait(Duration::from_secs(60)), Some(SegmentEvent::Encoded { .. })));
        worker.decode(1, 1, click.clone(), None, None);
        match worker.wait(Duration::from_secs(30)) {
            Some(SegmentEvent::Proposal { proposal, .. }) => proposal,
            _ => panic!("no proposal"),
        }
    };
    let mut model = SamModel::load(&fixture("tiny-sam"), Device::Cpu).unwrap();
    let emb = model.encode(&picture()).unwrap();
    let direct = model.decode(&emb, &Prompt { points: click.clone(), bbox: None }, None).unwrap();
    let alone = proposal(Some(picture_layer));
    assert_eq!(alone.mask(0), direct.mask(0), "the hidden layer, alone");
    let visible = proposal(None);
    assert_ne!(visible.mask(0), direct.mask(0), "the visible picture is the green cover");
}
