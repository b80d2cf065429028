//! Recovery copies: written in the background, listed at start-up, readable, and discarded on request.

use std::time::Duration;

use oekaki::doc::Document;
use oekaki::io::autosave::{Autosaver, RecoveryStore};
use oekaki::io::{Limits, ora};

#[test]
fn recovery_copy_is_written_listed_and_opens() {
    let dir = tempfile::tempdir().unwrap();
    let store = RecoveryStore::at(dir.path().join("recovery"));
    assert!(store.list().is_empty());
    let id = RecoveryStore::new_id();
    let saver = Autosaver::start(store.clone(), id.clone(), Duration::from_millis(50));
    let mut doc = Document::with_layer(64, 48).unwrap();
    doc.layers[0].surface_mut().unwrap().set(3, 4, [10, 20, 30, 255]);
    saver.changed(&doc, Some(std::path::Path::new("/art/cat.ora")));
    // The interval passes and the background thread writes without being asked.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.list().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let list = store.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, id);
    assert_eq!(list[0].source.as_deref(), Some(std::path::Path::new("/art/cat.ora")));
    let back = ora::read(&std::fs::read(&list[0].path).unwrap(), Limits::default()).unwrap();
    assert_eq!(back.layers[0].surface().unwrap().get(3, 4), [10, 20, 30, 255]);
    store.discard(&id);
    assert!(store.list().is_empty());
}

#[test]
fn writes_are_rate_limited_and_flush_writes_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let store = RecoveryStore::at(dir.path());
    let saver = Autosaver::start(store.clone(), "doc".into(), Duration::from_secs(3600));
    let mut doc = Document::with_layer(16, 16).unwrap();
    for i in 0..5u8 {
        doc.layers[0].surface_mut().unwrap().set(0, 0, [i, i, i, 255]);
        saver.changed(&doc, None);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(store.list().is_empty(), "nothing is written before the interval");
    saver.flush().unwrap();
    let list = store.list();
    let back = ora::read(&std::fs::read(&list[0].path).unwrap(), Limits::default()).unwrap();
    assert_eq!(back.layers[0].surface().unwrap().get(0, 0), [4, 4, 4, 255]);
}
