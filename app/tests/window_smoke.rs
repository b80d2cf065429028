//! Smoke check of the real binary: the studio opens a window (under Xvfb when no display is set), draws its
//! first frame through wgpu (lavapipe on CI) and exits cleanly.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Xvfb(std::process::Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The display to use: `$DISPLAY`, or a fresh Xvfb on a free display number.
fn display() -> (String, Option<Xvfb>) {
    if let Ok(d) = std::env::var("DISPLAY")
        && !d.is_empty()
    {
        return (d, None);
    }
    let n = (90..140).find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists()).expect("a free X display number");
    let child = Command::new("Xvfb")
        .args([format!(":{n}").as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is needed for this test: apt-get install xvfb (see README.md)");
    let xvfb = Xvfb(child);
    let socket = format!("/tmp/.X11-unix/X{n}");
    let end = Instant::now() + Duration::from_secs(15);
    while !Path::new(&socket).exists() {
        assert!(Instant::now() < end, "Xvfb did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (format!(":{n}"), Some(xvfb))
}

#[test]
fn the_studio_opens_draws_its_first_frame_and_exits() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oekaki"))
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env("OEKAKI_EXIT_AFTER_FIRST_FRAME", "1")
        .env("OEKAKI_CONFIG_DIR", tmp.path().join("config"))
        .env("XDG_DATA_HOME", tmp.path().join("data"))
        .env("XDG_RUNTIME_DIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oekaki");
    let end = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the studio did not draw a frame and exit within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(status.success(), "exit {status}: {stdout}\n{stderr}");
    assert!(stdout.contains("first frame drawn"), "{stdout}\n{stderr}");
}
