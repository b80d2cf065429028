//! The frame-time readout: how long the studio's own work took per frame (input, commands, compositing,
//! uploads, layout) and the interval between frames, over the last couple of seconds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const KEEP: usize = 240;

#[derive(Default)]
pub struct FrameTimes {
    work: VecDeque<Duration>,
    intervals: VecDeque<Duration>,
    last: Option<Instant>,
}

/// Median and worst of a window, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub median_ms: f32,
    pub max_ms: f32,
}

impl FrameTimes {
    pub fn record(&mut self, work: Duration) {
        let now = Instant::now();
        if let Some(last) = self.last.replace(now) {
            push(&mut self.intervals, now - last);
        }
        push(&mut self.work, work);
    }

    /// Time spent in the studio's frame code.
    pub fn work(&self) -> Option<Stats> {
        stats(&self.work)
    }

    /// Time from one frame to the next (includes rendering and waiting for vsync or input).
    pub fn interval(&self) -> Option<Stats> {
        stats(&self.intervals)
    }
}

fn push(q: &mut VecDeque<Duration>, d: Duration) {
    if q.len() == KEEP {
        q.pop_front();
    }
    q.push_back(d);
}

fn stats(q: &VecDeque<Duration>) -> Option<Stats> {
    let mut v: Vec<f32> = q.iter().map(|d| d.as_secs_f32() * 1000.0).collect();
    v.sort_by(f32::total_cmp);
    Some(Stats { median_ms: *v.get(v.len() / 2)?, max_ms: *v.last()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_max_over_the_window() {
        let mut f = FrameTimes::default();
        assert!(f.work().is_none());
        for ms in [1, 9, 3, 5, 2] {
            f.record(Duration::from_millis(ms));
        }
        assert_eq!(f.work(), Some(Stats { median_ms: 3.0, max_ms: 9.0 }));
        assert_eq!(f.interval().map(|_| ()), Some(()));
    }
}
