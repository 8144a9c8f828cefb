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
            scale: if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                1.0
            },
        }
    }

    /// Simulated wall-clock time at the start.
    pub fn epoch(&self) -> Timestamp {
        self.origin
    }

    /// Simulated time since the start (at most `Duration::MAX`, however large the scale).
    pub fn elapsed(&self) -> Duration {
        scaled(self.started.elapsed().as_secs_f64() * self.scale)
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

    /// How long to wait in tokio time for `simulated` to pass (at most `Duration::MAX`: a
    /// simulated wait of years at a scale below 1 would not fit).
    pub fn real(&self, simulated: Duration) -> Duration {
        scaled(simulated.as_secs_f64() / self.scale)
    }
}

/// `secs` as a Duration, saturating where `Duration::mul_f64`/`div_f64` would panic.
fn scaled(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(if secs > 0.0 { Duration::MAX } else { Duration::ZERO })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_saturates_instead_of_panicking() {
        let slow = Clock::new(0.001);
        assert_eq!(slow.real(Duration::MAX), Duration::MAX);
        assert_eq!(slow.real(Duration::from_secs(1)), Duration::from_secs(1000));
        let fast = Clock::new(1e300);
        assert_eq!(fast.real(Duration::from_secs(1)), Duration::ZERO);
        for nonsense in [f64::INFINITY, f64::NAN, 0.0, -2.0] {
            let clock = Clock::new(nonsense);
            assert_eq!(
                clock.real(Duration::from_secs(3)),
                Duration::from_secs(3),
                "{nonsense}: real time"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn elapsed_saturates_under_a_huge_scale() {
        let clock = Clock::new(1e300);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(clock.elapsed(), Duration::MAX);
        assert_eq!(clock.now(), Timestamp::MAX);
    }
}
