//! A client for any OpenAI-compatible Chat Completions API with tool calling (OpenAI, Ollama,
//! vLLM, llama.cpp's server): `POST {base}/chat/completions`. Retries 429, 5xx and network
//! errors with capped, jittered backoff; everything else is an error for the caller to handle.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the language model is unavailable: {0}")]
    Unavailable(String),
    #[error("the language model refused the request: {0}")]
    Refused(String),
    #[error("the language model's answer could not be read: {0}")]
    Malformed(String),
}

pub struct Llm {
    http: reqwest::Client,
    base: String,
    key: Option<SecretString>,
    pub default_model: String,
    attempts: u32,
    retry_base_ms: u64,
}

/// One tool call the model asked for.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// As the model sent it: JSON text, possibly malformed.
    pub arguments: String,
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    /// The assistant message to append to the conversation for the next round.
    pub message: Value,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

impl Llm {
    /// `None` when no LLM is configured.
    pub fn from_config(config: &crate::Config) -> Option<Llm> {
        let base = config.llm_base_url.as_ref()?.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.llm_timeout_ms))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client builds");
        Some(Llm {
            http,
            base,
            key: config.llm_api_key.clone(),
            default_model: config.llm_model.clone().unwrap_or_else(|| "gpt-4o-mini".into()),
            attempts: 3,
            retry_base_ms: config.llm_retry_base_ms,
        })
    }

    pub async fn complete(&self, model: &str, messages: &[Value], tools: &[Value]) -> Result<Completion, LlmError> {
        let body = json!({"model": model, "messages": messages, "tools": tools, "tool_choice": "auto", "temperature": 0.2});
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let mut request = self.http.post(format!("{}/chat/completions", self.base)).json(&body);
            if let Some(key) = &self.key {
                request = request.bearer_auth(key.expose_secret());
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let value: Value = response.json().await.map_err(|e| LlmError::Malformed(e.to_string()))?;
                    return parse(value);
                }
                Ok(response) if response.status().as_u16() == 429 || response.status().is_server_error() => {
                    last = format!("HTTP {}", response.status().as_u16());
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    return Err(LlmError::Refused(format!("HTTP {status}: {}", text.chars().take(300).collect::<String>())));
                }
                Err(e) => last = if e.is_timeout() { "timed out".into() } else { "could not connect".into() },
            }
            if attempt < self.attempts {
                tokio::time::sleep(Duration::from_millis(crate::workers::backoff_ms(attempt as i64, self.retry_base_ms, 10_000) as u64)).await;
            }
        }
        Err(LlmError::Unavailable(last))
    }
}

fn parse(value: Value) -> Result<Completion, LlmError> {
    let message = value["choices"][0]["message"].clone();
    if !message.is_object() {
        return Err(LlmError::Malformed("no choices[0].message".into()));
    }
    let tool_calls = message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(ToolCall {
                id: c["id"].as_str()?.to_owned(),
                name: c["function"]["name"].as_str()?.to_owned(),
                arguments: match &c["function"]["arguments"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            })
        })
        .collect();
    Ok(Completion {
        content: message["content"].as_str().map(str::to_owned).filter(|c| !c.trim().is_empty()),
        tool_calls,
        prompt_tokens: value["usage"]["prompt_tokens"].as_i64().unwrap_or(0),
        completion_tokens: value["usage"]["completion_tokens"].as_i64().unwrap_or(0),
        message,
    })
}
