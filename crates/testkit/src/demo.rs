//! The demo business on the real service, for console tests and benchmarks: the service runs
//! live (its workers in the background, on the system clock), seeded with the demo business and
//! its sandbox WhatsApp number (the service's own stand-in for Meta's Graph API). Customers write
//! to it with signed webhooks; it can be stopped and started again on the same address, which is
//! what "the service went down" looks like to a console.

use serde_json::{json, Value};

use crate::whatsapp::{notification, post_whatsapp_signed, text};
use crate::{Engine, TestApp};

pub const PASSWORD: &str = switchboard_cloud::demo::DEMO_PASSWORD;
pub const OWNER: &str = switchboard_cloud::demo::DEMO_EMAIL;
pub const AGENT: &str = switchboard_cloud::demo::AGENT_EMAIL;

pub struct DemoService {
    pub app: TestApp,
    pub business_id: String,
    pub app_secret: String,
    _graph: switchboard_cloud::sandbox::Graph,
}

impl DemoService {
    /// The demo business with its assistant off: conversations wait for a person unless a test
    /// turns it on.
    pub async fn start(engine: Engine) -> DemoService {
        let app_secret = format!("test-{}", uuid::Uuid::now_v7().simple());
        let graph = switchboard_cloud::sandbox::start_graph(app_secret.clone()).await.expect("the sandbox Graph API starts");
        let app = TestApp::spawn_live(engine, |c| c.whatsapp_api_base = graph.base.clone()).await;
        graph.set_service_url(&app.base);
        let business_id = switchboard_cloud::demo::seed(&app.db).await.expect("the demo is seeded").business_id;
        switchboard_cloud::demo::connect_sandbox(&app.base, &app_secret, "vapi-secret").await.expect("the sandbox number is connected");
        let service = DemoService { app, business_id, app_secret, _graph: graph };
        let owner = service.token(OWNER).await;
        service.app.patch("/v1/assistant", &owner, json!({"enabled": false})).await;
        service
    }

    /// The service's base URL.
    pub fn url(&self) -> &str {
        &self.app.base
    }

    /// An access token for a demo staff member.
    pub async fn token(&self, email: &str) -> String {
        self.app.login(email, PASSWORD).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        self.app.get(path, token).await.body
    }

    /// A customer writes on WhatsApp: a signed webhook, as Meta sends it.
    pub async fn customer_writes(&self, wa_id: &str, name: &str, body: &str) {
        let id = format!("wamid.{}", uuid::Uuid::now_v7().simple());
        let note = notification(
            switchboard_cloud::sandbox::PHONE_NUMBER_ID,
            json!([{"wa_id": wa_id, "profile": {"name": name}}]),
            json!([text(&id, wa_id, body)]),
            Value::Null,
        );
        let (status, answer) = post_whatsapp_signed(&self.app, &note, &self.app_secret).await;
        assert!(status.is_success(), "webhook refused: {status} {answer}");
    }

    /// The conversation of the customer with this WhatsApp id, once the webhook is processed.
    pub async fn conversation_of(&self, token: &str, wa_id: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let page = self.get("/v1/conversations?limit=200", token).await;
            for c in page["items"].as_array().expect("a page of conversations") {
                let customer = self.get(&format!("/v1/customers/{}", c["customer_id"].as_str().unwrap()), token).await;
                if customer["whatsapp_id"] == wa_id {
                    return c["id"].as_str().unwrap().to_owned();
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no conversation for {wa_id}");
    }

    /// The first free slot of the demo's first service, as the service offers it.
    pub async fn first_slot(&self, token: &str) -> (String, String) {
        let services = self.get("/v1/services", token).await;
        let service = services["items"][0]["id"].as_str().unwrap().to_owned();
        let slots = self.get(&format!("/v1/availability?service_id={service}&limit=1"), token).await;
        (service, slots["slots"][0]["start"].as_str().unwrap_or_else(|| panic!("no slot: {slots}")).to_owned())
    }

    /// A second instance on the same database (PostgreSQL), serving on its own address; it runs
    /// no background workers, so whatever its consoles hear was processed elsewhere.
    pub async fn another_instance(&self) -> TestApp {
        self.app.another_instance(|c| c.run_workers = false).await
    }
}
