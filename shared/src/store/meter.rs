use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::ConsumedCapacity;

/// Adds up the capacity units that DynamoDB reports for our requests. Counts
/// of requests and units are deterministic, so tests and benchmarks assert them.
#[derive(Debug, Clone, Default)]
pub struct CapacityMeter {
    /// Thousandths of a unit: reads can cost half a unit.
    read_milli: Arc<AtomicU64>,
    write_milli: Arc<AtomicU64>,
}

impl CapacityMeter {
    pub fn record(&self, consumed: Option<&ConsumedCapacity>) {
        let Some(consumed) = consumed else { return };
        let read = consumed.read_capacity_units().unwrap_or(0.0);
        let write = consumed.write_capacity_units().unwrap_or(0.0);
        let total = consumed.capacity_units().unwrap_or(0.0);
        // Some operations report only the total; it is reads for a read and writes for a write.
        let (read, write) = if read == 0.0 && write == 0.0 {
            (total, 0.0)
        } else {
            (read, write)
        };
        self.read_milli
            .fetch_add((read * 1000.0).round() as u64, Ordering::Relaxed);
        self.write_milli
            .fetch_add((write * 1000.0).round() as u64, Ordering::Relaxed);
    }

    pub fn record_write(&self, consumed: Option<&ConsumedCapacity>) {
        let Some(consumed) = consumed else { return };
        let units = consumed
            .write_capacity_units()
            .or(consumed.capacity_units())
            .unwrap_or(0.0);
        self.write_milli
            .fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
    }

    pub fn read_units(&self) -> f64 {
        self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn write_units(&self) -> f64 {
        self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn reset(&self) {
        self.read_milli.store(0, Ordering::Relaxed);
        self.write_milli.store(0, Ordering::Relaxed);
    }
}
