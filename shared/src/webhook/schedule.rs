//! When a failed delivery is tried again: the schedule Standard Webhooks
//! senders (Svix among them) use, known to receivers: 5 s, 5 min, 30 min,
//! 2 h, 5 h, 10 h and 10 h after the attempts before, about 27.6 hours in
//! all, each delay moved by up to a tenth either way so that a receiver
//! that comes back is not met by every retry at once.
//!
//! A delay is carried out by the queue: the message is made invisible for
//! it (SQS allows up to 12 hours). The attempt number is the message's
//! receive count, which SQS keeps, so nothing else is stored per message;
//! after [`MAX_ATTEMPTS`] receives the queue's redrive policy moves it to
//! the dead-letter queue.

use std::time::Duration;

use rand::Rng;

/// Delays after attempts 1 to 7, in seconds.
const DELAYS: [u64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// Attempts in all: the first and one after each delay. template.yaml's
/// redrive policy (`maxReceiveCount`) says the same.
pub const MAX_ATTEMPTS: u32 = DELAYS.len() as u32 + 1;

/// The delay before the attempt after `attempt` (counted from 1), jittered
/// by `jitter` in [-1, 1] times a tenth; `None` when `attempt` was the last.
pub fn delay_after(attempt: u32, jitter: f64) -> Option<Duration> {
    let base = *DELAYS.get(usize::try_from(attempt.checked_sub(1)?).ok()?)? as f64;
    let jitter = if jitter.is_finite() {
        jitter.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    Some(Duration::from_secs_f64(base * (1.0 + jitter / 10.0)))
}

/// [`delay_after`] with a random jitter.
pub fn next_delay(attempt: u32) -> Option<Duration> {
    delay_after(attempt, rand::rng().random_range(-1.0..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_a_day_and_fits_sqs_visibility() {
        let total: f64 = (1..MAX_ATTEMPTS)
            .map(|a| delay_after(a, 0.0).unwrap().as_secs_f64())
            .sum();
        assert!((24.0 * 3600.0..30.0 * 3600.0).contains(&total), "{total}");
        for attempt in 1..MAX_ATTEMPTS {
            for jitter in [-1.0, 0.0, 1.0, 5.0, f64::NAN] {
                let delay = delay_after(attempt, jitter).unwrap();
                assert!(
                    delay <= Duration::from_secs(12 * 3600),
                    "{attempt} {jitter}"
                );
                assert!(delay >= Duration::from_secs(4), "{attempt} {jitter}");
            }
        }
        assert_eq!(delay_after(MAX_ATTEMPTS, 0.0), None);
        assert_eq!(delay_after(0, 0.0), None);
        assert_eq!(delay_after(u32::MAX, 0.0), None);
    }

    #[test]
    fn jitter_moves_a_delay_by_at_most_a_tenth() {
        for _ in 0..1000 {
            let delay = next_delay(2).unwrap().as_secs_f64();
            assert!((270.0..=330.0).contains(&delay), "{delay}");
        }
    }
}
