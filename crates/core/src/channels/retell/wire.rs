//! Retell as it is written on the wire (https://docs.retellai.com/features/webhook,
//! https://docs.retellai.com/features/inbound-call-webhook): call events (`call_started`,
//! `call_ended`, `call_analyzed`, …) with the call object, the inbound-call webhook and the
//! answer it expects, and custom function calls (`{"name", "args", "call"}`).
//!
//! Whatever Retell may leave out is optional or defaulted, unknown fields are ignored, and an
//! event not named here is [`Event::Other`]. Function arguments stay JSON: they are the
//! assistant's tools' input, not Retell's.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::channels::wire::optional;

/// Any request Retell sends: an event (with `event`) or a custom function call (with `name`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Request {
    pub event: Option<Event>,
    pub call: Option<Call>,
    pub call_inbound: Option<CallInbound>,
    /// A custom function's name.
    pub name: Option<String>,
    /// A custom function's arguments: an object, or the object as JSON text.
    pub args: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A call is coming in: Retell asks for the agent's dynamic variables.
    CallInbound,
    CallStarted,
    CallEnded,
    CallAnalyzed,
    /// `transcript_updated`, `transfer_started`, … : acknowledged.
    #[serde(other)]
    Other,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Call {
    pub call_id: Option<String>,
    pub agent_id: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub call_status: Option<String>,
    pub start_timestamp: Option<i64>,
    pub end_timestamp: Option<i64>,
    pub duration_ms: Option<u64>,
    pub transcript: Option<String>,
    pub recording_url: Option<String>,
    pub disconnection_reason: Option<String>,
    #[serde(deserialize_with = "optional")]
    pub call_analysis: Option<CallAnalysis>,
}

impl Call {
    /// The customer's number: who called in, or who was called.
    pub fn customer_number(&self) -> Option<&str> {
        if self.direction.as_deref() == Some("outbound") {
            self.to_number.as_deref()
        } else {
            self.from_number.as_deref()
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallAnalysis {
    pub call_summary: Option<String>,
    pub user_sentiment: Option<String>,
    pub call_successful: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallInbound {
    pub agent_id: Option<String>,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
}

/// The answer to `call_inbound`: values for the agent's prompt.
#[derive(Debug, Serialize)]
pub struct InboundAnswer {
    pub call_inbound: InboundVariables,
}

#[derive(Debug, Serialize)]
pub struct InboundVariables {
    pub dynamic_variables: DynamicVariables,
}

#[derive(Debug, Serialize)]
pub struct DynamicVariables {
    pub customer_name: String,
    /// `Haircut on Tuesday 3 March, 10:00`, or empty.
    pub next_booking: String,
    pub business_name: String,
}

/// What Retell is answered (nothing: 204).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Inbound(InboundAnswer),
    /// A custom function's result: the assistant's tool's JSON.
    FunctionResult(Value),
}
