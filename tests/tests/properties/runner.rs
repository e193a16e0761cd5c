//! Running a property.

use super::*;

type Check<'a> = Pin<Box<dyn Future<Output = Result<(), TestCaseError>> + 'a>>;

fn seed() -> u64 {
    std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0002)
}

/// Runs `cases` (times `PROPERTY_SCALE`) cases of `strategy` against a
/// fresh, seeded table; the answers' statuses by function.
pub(crate) fn property<S>(
    name: &str,
    cases: u32,
    strategy: impl FnOnce(&Ids) -> S,
    check: impl for<'a> Fn(&'a World, S::Value) -> Check<'a>,
) -> BTreeMap<&'static str, BTreeMap<u16, usize>>
where
    S: Strategy,
{
    let scale: u32 = std::env::var("PROPERTY_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let cases = cases * scale.max(1);
    let seed = seed();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let started = Instant::now();
    let world = runtime.block_on(World::new());
    let strategy = strategy(&world.ids);
    let ran = Cell::new(0u32);
    let result = runner.run(&strategy, |value| {
        ran.set(ran.get() + 1);
        runtime.block_on(check(&world, value))
    });
    println!(
        "{name}: {} cases run ({cases} asked; shrinking and {} skipped as over API Gateway's \
         limits included) in {:.1?}, SEED={seed}; {} refusals that sent a conditional write \
         left the table unchanged",
        ran.get(),
        world.undeliverable.get(),
        started.elapsed(),
        world.compared.get()
    );
    println!("{name}: answers {}", world.tally_text());
    if let Err(err) = result {
        panic!("{name}, SEED={seed}: {err}");
    }
    world.tally.take()
}
