//! The background job queue on the tiny fixture models: progress to the last step with previews over the edited
//! area, one candidate per seed, results that only change the document when applied (and undo exactly),
//! cancelling within a step, failures reported as events, and jobs run one after another.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oekaki::ai::edit::{EditKind, EditOptions};
use oekaki::ai::pipeline::Request;
use oekaki::ai::session::Device;
use oekaki::color::premultiply;
use oekaki::doc::selection::{Combine, Shape};
use oekaki::doc::{Document, Selection};
use oekaki::geom::Rect;
use oekaki::history::Editor;
use oekaki::jobs::{EditJob, JobEvent, JobId, JobQueue, Stage};
use oekaki::raster::Surface;

fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sd").join(name)
}

fn picture() -> Document {
    let mut doc = Document::new(160, 120).unwrap();
    let mut base = Surface::new([0; 4]);
    let px: Vec<_> = (0..160 * 120).map(|i| premultiply([(i % 160) as u8, (i / 160) as u8, 90, 255])).collect();
    base.write_rect(doc.bounds(), &px);
    let base = doc.new_raster_layer("base", base);
    doc.layers = vec![base];
    let shape = Shape::Rect { x: 50, y: 30, w: 40, h: 30 };
    doc.selection = Selection::none().with_shape(&shape, Combine::Replace, doc.bounds());
    doc
}

fn job(doc: &Document, name: &str, steps: usize, seeds: Vec<u64>) -> EditJob {
    EditJob {
        doc: doc.clone(),
        model: model(name),
        device: Device::Cpu,
        kind: EditKind::Inpaint,
        options: EditOptions { work_area: 128 * 128, ..EditOptions::default() },
        request: Request { prompt: "a (red:1.2) scarf".into(), steps, ..Request::default() },
        seeds,
        prelude: None,
        guide: None,
    }
}

/// Layers (id, name) and the flattened picture.
fn fingerprint(doc: &Document) -> (Vec<(u64, String)>, Vec<[u8; 4]>) {
    let layers = doc.layers.iter().map(|l| (l.id, l.props.name.clone())).collect();
    (layers, oekaki::doc::composite::flatten(doc))
}

fn queue() -> JobQueue {
    JobQueue::new(Arc::new(|| {})).unwrap()
}

/// Events of `id` until it ends (Finished / Cancelled / Failed), with `on` called on each.
fn drain(q: &mut JobQueue, id: JobId, mut on: impl FnMut(&mut JobQueue, &JobEvent)) -> Vec<JobEvent> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        for e in q.events() {
            on(q, &e);
            let end = e.id() == id
                && matches!(e, JobEvent::Finished { .. } | JobEvent::Cancelled { .. } | JobEvent::Failed { .. });
            seen.push(e);
            if end {
                return seen;
            }
        }
        assert!(Instant::now() < deadline, "job {id} did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_batch_reports_every_step_with_previews_and_one_candidate_per_seed() {
    let doc = picture();
    let before = fingerprint(&doc);
    let mut q = queue();
    let id = q.submit(job(&doc, "tiny-sd15-inpaint", 4, vec![11, 12]));
    let events = drain(&mut q, id, |_, _| {});
    let steps: Vec<Stage> = events
        .iter()
        .filter_map(|e| match e {
            JobEvent::Progress { stage: s @ Stage::Step { .. }, .. } => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(steps.len(), 8, "{steps:?}");
    assert_eq!(steps.last(), Some(&Stage::Step { candidate: 2, candidates: 2, step: 4, total: 4 }));
    assert!((steps.last().unwrap().fraction() - 1.0).abs() < 1e-6);
    let has_eta = events.iter().any(|e| matches!(e, JobEvent::Progress { eta: Some(_), .. }));
    assert!(has_eta, "an ETA once the pace is known");
    let previews: Vec<(Rect, &image::RgbaImage)> = events
        .iter()
        .filter_map(|e| match e {
            JobEvent::Preview { rect, image, .. } => Some((*rect, image)),
            _ => None,
        })
        .collect();
    assert_eq!(previews.len(), 8);
    let (rect, img) = previews[0];
    assert_eq!(rect.intersect(&Rect::new(50, 30, 90, 60)), Rect::new(50, 30, 90, 60), "{rect:?}");
    assert_eq!(img.get_pixel(0, 0)[3], 0, "outside the feathered selection the preview is transparent");
    assert_eq!(img.get_pixel(img.width() / 2, img.height() / 2)[3], 255);
    let candidates: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            JobEvent::Candidate { candidate, .. } => Some(candidate),
            _ => None,
        })
        .collect();
    assert_eq!(candidates.iter().map(|c| c.seed).collect::<Vec<_>>(), vec![11, 12]);
    assert!(candidates[0].providers.iter().all(|(_, ep)| *ep == "CPU"));
    assert!(matches!(events.last(), Some(JobEvent::Finished { .. })));
    assert_eq!(q.pending(), 0);

    // Nothing changed until a candidate is applied; applying adds one layer, undo takes it back exactly.
    let mut editor = Editor::new(doc);
    assert_eq!(fingerprint(&editor.doc), before);
    // The live document gained a layer meanwhile: the candidate still gets a fresh id.
    let extra = editor.doc.new_raster_layer("painted meanwhile", Surface::new([0; 4]));
    editor.apply(oekaki::history::Command::AddLayer { parent: None, index: 1, layer: Box::new(extra) }).unwrap();
    let cmd = candidates[1].command_for(&editor.doc);
    editor.apply(cmd).unwrap();
    assert_eq!(editor.doc.layers.len(), 3);
    let top = editor.doc.layers.last().unwrap();
    assert!(top.props.name.starts_with("Inpainted: a (red:1.2) scarf"), "{}", top.props.name);
    assert!(top.props.params.as_deref().is_some_and(|p| p.contains("Seed: 12")));
    editor.undo().unwrap();
    editor.undo().unwrap();
    assert_eq!(fingerprint(&editor.doc), before);
}

#[test]
fn cancelling_stops_within_a_step_and_gives_no_candidate() {
    let doc = picture();
    let mut q = queue();
    let id = q.submit(job(&doc, "tiny-sd15", 400, vec![1]));
    let mut cancelled_at = None;
    let events = drain(&mut q, id, |q, e| {
        if let JobEvent::Progress { stage: Stage::Step { step, .. }, .. } = e
            && cancelled_at.is_none()
        {
            cancelled_at = Some(*step);
            q.cancel(id);
        }
    });
    assert!(matches!(events.last(), Some(JobEvent::Cancelled { .. })));
    assert!(!events.iter().any(|e| matches!(e, JobEvent::Candidate { .. })));
    let last_step = events
        .iter()
        .filter_map(|e| match e {
            JobEvent::Progress { stage: Stage::Step { step, .. }, .. } => Some(*step),
            _ => None,
        })
        .max()
        .unwrap();
    // Events already in flight when cancel was asked may follow, but the job stops long before the end.
    assert!(last_step < 50, "stopped at step {last_step} of 400");
    assert_eq!(q.pending(), 0);
}

#[test]
fn failures_are_events_and_the_next_job_still_runs() {
    let doc = picture();
    let mut q = queue();
    let bad = q.submit(job(&doc, "no-such-model", 2, vec![1]));
    let mut no_selection = job(&doc, "tiny-sd15", 2, vec![1]);
    no_selection.doc.selection = Selection::none();
    let unselected = q.submit(no_selection);
    let good = q.submit(job(&doc, "tiny-sd15", 2, vec![5]));
    let events = drain(&mut q, good, |_, _| {});
    let failure = |id| {
        events.iter().find_map(|e| match e {
            JobEvent::Failed { id: i, error, retry_on_cpu } if *i == id => Some((error.clone(), *retry_on_cpu)),
            _ => None,
        })
    };
    let (error, retry) = failure(bad).expect("the bad model fails");
    assert!(error.contains("no-such-model"), "{error}");
    assert!(!retry, "it already ran on the CPU");
    let (error, _) = failure(unselected).expect("inpainting without a selection fails");
    assert!(error.contains("selection"), "{error}");
    // Jobs ran in order: the good one only after both failures were reported.
    let pos = |pred: &dyn Fn(&JobEvent) -> bool| events.iter().position(pred).unwrap();
    assert!(pos(&|e| e.id() == unselected) > pos(&|e| e.id() == bad));
    assert!(pos(&|e| e.id() == good) > pos(&|e| e.id() == unselected));
    assert!(events.iter().any(|e| matches!(e, JobEvent::Candidate { id, .. } if *id == good)));
}

#[test]
fn a_job_cancelled_before_it_starts_never_runs() {
    let doc = picture();
    let mut q = queue();
    let first = q.submit(job(&doc, "tiny-sd15", 30, vec![1]));
    let second = q.submit(job(&doc, "tiny-sd15", 2, vec![1]));
    q.cancel(second);
    let events = drain(&mut q, second, |_, _| {});
    assert!(!events.iter().any(|e| e.id() == second && !matches!(e, JobEvent::Cancelled { .. })));
    // The queue is sequential: the first job finished before the second was looked at.
    let finished = events.iter().position(|e| matches!(e, JobEvent::Finished { id } if *id == first));
    assert_eq!(finished, Some(events.len() - 2));
}

#[test]
fn taesd_previews_match_diffusers_autoencoder_tiny() {
    use oekaki::ai::edit::Region;
    use oekaki::ai::pipeline::vae::Latents;
    use oekaki::jobs::preview::Previewer;
    use oekaki::raster::GrayBuf;

    // onnx/make_tiny_taesd.py: torch's AutoencoderTiny.decode on a fixed latent
    let path = model("reference/taesd_decode.json");
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let floats =
        |k: &str| -> Vec<f32> { reference[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect() };
    let latents = Latents { channels: 4, height: 8, width: 8, data: floats("latent") };
    let expected = floats("sample");
    let mut with_taesd = Previewer::for_model(&model("tiny-sd15"), Device::Cpu);
    assert!(with_taesd.uses_taesd());
    let rect = Rect::new(0, 0, 64, 64);
    let region = Region {
        context: rect,
        work_width: 64,
        work_height: 64,
        model_mask: GrayBuf::new(rect, 255),
        paste_mask: GrayBuf::new(rect, 255),
    };
    let img = with_taesd.image(&latents, &region);
    assert_eq!(img.dimensions(), (64, 64));
    let plane = 64 * 64;
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            let want = ((expected[c * plane + i] / 2.0 + 0.5).clamp(0.0, 1.0) * 255.0).round();
            assert!((p[c] as f32 - want).abs() <= 1.0, "pixel {i} channel {c}: {} vs {want}", p[c]);
        }
        assert_eq!(p[3], 255);
    }
    // Without a TAESD decoder the preview is the cheap map, one pixel per latent.
    let mut cheap = Previewer::for_model(&model("tiny-sd15-inpaint"), Device::Cpu);
    assert!(!cheap.uses_taesd());
    assert_eq!(cheap.image(&latents, &region).dimensions(), (8, 8));
}

#[test]
fn expanding_left_resizes_shifts_and_fills_the_new_strip_in_one_undo_step() {
    let doc = picture();
    let before = fingerprint(&doc);
    let x = oekaki::ai::edit::expand(&doc, oekaki::ai::edit::Side::Left, 64).unwrap();
    assert_eq!((x.doc.width, x.doc.height, x.offset), (224, 120, [64, 0]));
    let mut q = queue();
    let mut j = job(&x.doc, "tiny-sd15-inpaint", 2, vec![3]);
    j.prelude = Some(oekaki::jobs::Prelude { command: x.resize, offset: x.offset });
    let id = q.submit(j);
    let events = drain(&mut q, id, |_, _| {});
    let candidate = events
        .iter()
        .find_map(|e| match e {
            JobEvent::Candidate { candidate, .. } => Some(candidate.clone()),
            _ => None,
        })
        .expect("a candidate");
    // Shown in the live document's coordinates: left of the canvas.
    assert!(candidate.rect.x0 < 0 && candidate.rect.x1 > 0, "{:?}", candidate.rect);
    let mut editor = Editor::new(doc.clone());
    editor.apply(candidate.command_for(&editor.doc)).unwrap();
    let d = &editor.doc;
    assert_eq!((d.width, d.height), (224, 120));
    assert_eq!(d.layers.len(), 2);
    let old = doc.layers[0].surface().unwrap();
    let moved = d.layers[0].surface().unwrap();
    for (x, y) in [(0, 0), (100, 50), (159, 119)] {
        assert_eq!(moved.get(x + 64, y), old.get(x, y), "the picture moved right by 64 at {x},{y}");
    }
    let new = d.layers[1].surface().unwrap();
    assert_eq!(new.get(10, 60)[3], 255, "the new strip is painted");
    assert_eq!(new.get(200, 60)[3], 0, "the old picture is left alone");
    editor.undo().unwrap();
    assert_eq!(fingerprint(&editor.doc), before, "one undo restores size, pixels and layers");
    assert_eq!((editor.doc.width, editor.doc.height), (160, 120));
}
