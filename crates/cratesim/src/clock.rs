//! Simulated time. Everything in cratesim reads the time here, so tests can run a 16-second pod
//! restart in milliseconds (tokio's paused clock, in-process) and demos can run faster than real
//! time (`--time-scale`).
//!
//! It is built on `tokio::time::Instant`, which follows tokio's paused test clock.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

/// The simulator's clock: wall time starts at `origin` and runs `scale` times faster than tokio.
#[derive(Clone, Debug)]
pub struct Clock {
    origin: Timestamp,
    started: Instant,
    scale: f64,
}

impl Clock {
    /// A clock starting now, running at `scale` (1.0 = real time).
    pub fn new(scale: f64) -> Clock {
        Clock {
            origin: Timestamp::now(),
            started: Instant::now(),
            scale: if scale > 0.0 { scale } else { 1.0 },
        }
    }

    /// Simulated wall-clock time at the start.
    pub fn epoch(&self) -> Timestamp {
        self.origin
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed().mul_f64(self.scale)
    }

    /// Simulated wall-clock time.
    pub fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.elapsed()).unwrap_or(SignedDuration::MAX);
        self.origin.checked_add(elapsed).unwrap_or(Timestamp::MAX)
    }

    /// `now` as Kubernetes writes timestamps (RFC 3339, seconds).
    pub fn rfc3339(&self) -> String {
        let now = self.now();
        Timestamp::from_second(now.as_second()).unwrap_or(now).to_string()
    }

    /// How long to wait in tokio time for `simulated` to pass.
    pub fn real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.scale)
    }
}
