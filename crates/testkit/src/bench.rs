//! What the benchmarks share: which engines to measure, and how a latency is reported.

use std::time::Duration;

use crate::Engine;

/// The engines named on the command line (`cargo bench … -- sqlite`), or both.
pub fn engines_from_args() -> Vec<Engine> {
    match std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        Some(name) => vec![Engine::parse(&name).unwrap_or_else(|| panic!("unknown engine {name}: sqlite or postgres"))],
        None => Engine::BOTH.to_vec(),
    }
}

/// Measures on each engine named on the command line (or both), under a
/// `| engine | measure | result |` table header.
pub async fn on_engines<F, Fut>(measure: F)
where
    F: Fn(Engine) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    println!("| engine | measure | result |");
    println!("|---|---|---|");
    for engine in engines_from_args() {
        measure(engine).await;
    }
}

/// The `q` quantile of `samples`, in milliseconds (sorts them).
pub fn quantile_ms(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_secs_f64() * 1e3
}

/// "p50 … ms, p99 … ms".
pub fn p50_p99(samples: &mut [Duration]) -> String {
    format!("p50 {:.2} ms, p99 {:.2} ms", quantile_ms(samples, 0.5), quantile_ms(samples, 0.99))
}
