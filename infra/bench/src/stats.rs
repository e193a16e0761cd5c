//! Median, spread and tail of repeated measurements.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub runs: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub p99: f64,
}

impl Summary {
    /// Of plain numbers (milliseconds, kilobytes, ...).
    pub fn of(values: &[f64]) -> Summary {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len().max(1);
        let at = |q: f64| {
            sorted
                .get(((n as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let median = if n.is_multiple_of(2) && n >= 2 {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        } else {
            at(0.5)
        };
        Summary {
            runs: sorted.len(),
            median,
            min: at(0.0),
            max: at(1.0),
            p99: at(0.99),
        }
    }

    /// Of durations, in milliseconds.
    pub fn of_ms(durations: &[Duration]) -> Summary {
        Self::of(
            &durations
                .iter()
                .map(|d| d.as_secs_f64() * 1000.0)
                .collect::<Vec<_>>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max_and_tail() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!((s.median, s.min, s.max, s.runs), (3.0, 1.0, 5.0, 5));
        assert_eq!(Summary::of(&[1.0, 2.0, 3.0, 4.0]).median, 2.5);
        let tail = Summary::of(&(1..=100).map(f64::from).collect::<Vec<_>>());
        assert_eq!(tail.p99, 99.0);
    }
}
