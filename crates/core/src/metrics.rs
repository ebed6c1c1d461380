//! Prometheus metrics: HTTP requests by route and status, request latency, the database pools,
//! and webhook events that failed for good (counted here; how many are waiting, read at render).

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::store::Db;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
    state: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool: Family<PoolLabels, Gauge>,
    webhooks_failed: Counter,
    webhooks_waiting: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
        });
        let pool = Family::<PoolLabels, Gauge>::default();
        let mut registry = Registry::with_prefix("switchboard");
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer HTTP requests", latency.clone());
        registry.register("db_pool_connections", "Database pool connections by state", pool.clone());
        let webhooks_failed = Counter::default();
        let webhooks_waiting = Gauge::default();
        registry.register("webhook_events_failed", "Webhook events given up after their retries (kept; owners can retry them)", webhooks_failed.clone());
        registry.register("webhook_events_failed_waiting", "Failed webhook events not retried yet", webhooks_waiting.clone());
        Metrics { registry: Mutex::new(registry), requests, latency, pool, webhooks_failed, webhooks_waiting }
    }
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_owned(), route: route.to_owned(), status })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method: method.to_owned(), route: route.to_owned() })
            .observe(elapsed.as_secs_f64());
    }

    /// A webhook event was given up after its retries.
    pub fn webhook_failed(&self) {
        self.webhooks_failed.inc();
    }

    /// The text exposition, with pool gauges and the failed webhook events read now.
    pub async fn render(&self, db: &Db) -> String {
        match sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM webhook_events WHERE failed_at IS NOT NULL").fetch_one(db.reader()).await {
            Ok(n) => {
                self.webhooks_waiting.set(n);
            }
            Err(e) => tracing::warn!(error = %e, "metrics could not count failed webhook events"),
        }
        for (name, pool) in db.pools() {
            let size = pool.size() as i64;
            let idle = pool.num_idle() as i64;
            self.pool.get_or_create(&PoolLabels { pool: name.into(), state: "idle".into() }).set(idle);
            self.pool.get_or_create(&PoolLabels { pool: name.into(), state: "in_use".into() }).set(size - idle);
        }
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
            tracing::error!("metrics could not be encoded");
        }
        text
    }
}
