//! Latency percentiles and throughput of one load run.

use std::fmt;
use std::time::Duration;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Which ceremony was driven.
    pub scenario: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// Length of the measured phase.
    pub elapsed: Duration,
    /// Ceremony latencies (options request to result reply), sorted.
    latencies_us: Vec<u64>,
    /// Ceremonies that did not end in "ok".
    pub errors: u64,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
}

impl Report {
    /// A report over `latencies_us` (any order).
    pub fn new(
        scenario: &'static str,
        clients: usize,
        elapsed: Duration,
        mut latencies_us: Vec<u64>,
        errors: u64,
        first_error: Option<String>,
    ) -> Report {
        latencies_us.sort_unstable();
        Report {
            scenario,
            clients,
            elapsed,
            latencies_us,
            errors,
            first_error,
        }
    }

    /// Completed ceremonies.
    pub fn ok(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    /// Completed ceremonies per second.
    pub fn throughput(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile latency in milliseconds (nearest rank).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us.get(index).copied().unwrap_or(0) as f64 / 1000.0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} x{}: {:.0} ceremonies/s ({} ok in {:.1} s), latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {}",
            self.scenario,
            self.clients,
            self.throughput(),
            self.ok(),
            self.elapsed.as_secs_f64(),
            self.percentile_ms(50.0),
            self.percentile_ms(90.0),
            self.percentile_ms(99.0),
            self.percentile_ms(100.0),
            self.errors
        )?;
        if let Some(e) = &self.first_error {
            write!(f, " (first: {e})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let r = Report::new(
            "t",
            1,
            Duration::from_secs(2),
            (1..=100).rev().map(|ms| ms * 1000).collect(),
            0,
            None,
        );
        assert_eq!(r.percentile_ms(50.0), 50.0);
        assert_eq!(r.percentile_ms(99.0), 99.0);
        assert_eq!(r.percentile_ms(100.0), 100.0);
        assert_eq!(r.throughput(), 50.0);
        let empty = Report::new("t", 1, Duration::from_secs(1), Vec::new(), 3, None);
        assert_eq!(empty.percentile_ms(99.0), 0.0);
    }
}
