//! Wall-clock and CPU time of a job's stages: a [`Mark`] reads both clocks at once, so reports
//! can show where a job waited (wall time above CPU time) and where it worked.

use std::time::{Duration, Instant};

/// A moment of a job: the wall clock and the CPU clock of the thread running it.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    wall: Instant,
    cpu: Duration,
}

impl Mark {
    /// Now, on this thread.
    pub fn now() -> Self {
        Mark { wall: Instant::now(), cpu: duration_of(rustix::time::ClockId::ThreadCPUTime) }
    }

    /// From this mark to `later` (taken on the same thread).
    pub fn to(self, later: Mark) -> Elapsed {
        Elapsed {
            wall_ms: (later.wall - self.wall).as_secs_f64() * 1000.0,
            cpu_ms: later.cpu.saturating_sub(self.cpu).as_secs_f64() * 1000.0,
        }
    }

    /// From this mark to now.
    pub fn elapsed(self) -> Elapsed {
        self.to(Mark::now())
    }
}

/// Wall-clock and CPU milliseconds between two [`Mark`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Elapsed {
    /// Wall-clock milliseconds.
    pub wall_ms: f64,
    /// CPU milliseconds of the thread.
    pub cpu_ms: f64,
}

/// CPU time the whole process has used (every thread, user and system).
pub fn process_cpu() -> Duration {
    duration_of(rustix::time::ClockId::ProcessCPUTime)
}

fn duration_of(clock: rustix::time::ClockId) -> Duration {
    let t = rustix::time::clock_gettime(clock);
    Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32)
}
