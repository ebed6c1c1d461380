//! A local OpenAI-compatible Chat Completions server (`POST /v1/chat/completions`) whose answers
//! tests script: a reply, tool calls, an HTTP error, or a delay before any of them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub enum Say {
    Reply(String),
    /// (tool name, arguments as the model would send them: JSON text, maybe malformed).
    Tools(Vec<(String, String)>),
    Status(u16),
    After(Duration, Box<Say>),
}

pub fn reply(text: &str) -> Say {
    Say::Reply(text.into())
}

pub fn call(name: &str, args: Value) -> Say {
    Say::Tools(vec![(name.into(), args.to_string())])
}

#[derive(Default)]
pub struct LlmState {
    pub requests: Mutex<Vec<Value>>,
    pub script: Mutex<VecDeque<Say>>,
}

pub struct FakeLlm {
    pub base: String,
    pub state: Arc<LlmState>,
}

impl FakeLlm {
    pub async fn start() -> FakeLlm {
        let state = Arc::new(LlmState::default());
        let app = Router::new().route("/v1/chat/completions", post(complete)).with_state(state.clone());
        let base = format!("http://{}/v1", crate::serve(app).await);
        FakeLlm { base, state }
    }

    pub fn script(&self, says: impl IntoIterator<Item = Say>) {
        self.state.script.lock().unwrap().extend(says);
    }

    pub fn requests(&self) -> Vec<Value> {
        self.state.requests.lock().unwrap().clone()
    }
}

async fn complete(State(state): State<Arc<LlmState>>, axum::Json(body): axum::Json<Value>) -> Response {
    state.requests.lock().unwrap().push(body);
    let mut next = state.script.lock().unwrap().pop_front().unwrap_or(Say::Status(500));
    loop {
        match next {
            Say::After(delay, then) => {
                tokio::time::sleep(delay).await;
                next = *then;
            }
            Say::Status(code) => return (StatusCode::from_u16(code).unwrap(), axum::Json(json!({"error": {"message": "scripted failure"}}))).into_response(),
            Say::Reply(text) => {
                return axum::Json(json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text}}], "usage": {"prompt_tokens": 120, "completion_tokens": 15, "total_tokens": 135}}))
                .into_response()
            }
            Say::Tools(calls) => {
                let calls: Vec<Value> = calls
                    .iter()
                    .enumerate()
                    .map(|(i, (name, args))| json!({"id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": args}}))
                    .collect();
                return axum::Json(json!({"id": "chatcmpl-2", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "tool_calls",
                    "message": {"role": "assistant", "content": null, "tool_calls": calls}}], "usage": {"prompt_tokens": 150, "completion_tokens": 10, "total_tokens": 160}}))
                .into_response();
            }
        }
    }
}
